// The calendar arithmetic and the text of the API's times: "yyyy-MM-dd hh:mm:ss" (the
// history query, the console) and ISO 8601 with an offset (history packets). The one
// place that reads or writes them; time.hpp is its public face. Internal.
#ifndef ATOMCLOUD_DETAIL_TIME_HPP
#define ATOMCLOUD_DETAIL_TIME_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/time.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace atomcloud::detail {

/// Days since 1970-01-01 of a proleptic Gregorian date, and back.
ATOMCLOUD_DECL std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept;
struct civil_date {
    std::int64_t year;
    unsigned month;
    unsigned day;
};
ATOMCLOUD_DECL civil_date civil_from_days(std::int64_t days) noexcept;

/// Parses an API time (see atomcloud::parse_time). Returns false if malformed.
ATOMCLOUD_DECL bool parse_api_time(std::string_view text, std::chrono::minutes default_offset,
                                   packet_time& out, std::chrono::minutes& offset) noexcept;

/// "yyyy-MM-dd hh:mm:ss" of `t` (truncated to the second) in the time zone `utc_offset`.
ATOMCLOUD_DECL std::string format_api_time(packet_time t, std::chrono::minutes utc_offset);

/// "yyyy-MM-ddThh:mm:ss.ffffff+hh:mm" of `t` in the time zone `utc_offset`.
ATOMCLOUD_DECL std::string format_iso_time(packet_time t, std::chrono::minutes utc_offset);

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/time.ipp>
#endif

#endif
