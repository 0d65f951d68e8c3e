// Times as the platform writes them: "yyyy-MM-dd hh:mm:ss" in its time zone (UTC+8) and
// ISO 8601 with an offset, parsed and formatted without the C library's time zone.
#ifndef ATOMCLOUD_TIME_HPP
#define ATOMCLOUD_TIME_HPP

#include <atomcloud/detail/config.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace atomcloud {

/// A time to the microsecond (UTC-based system_clock): history packets carry one.
using packet_time = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

/// The platform's time zone: UTC+8.
inline constexpr std::chrono::minutes platform_utc_offset{8 * 60};

/// A parsed time and the UTC offset it was written in.
struct offset_time {
    packet_time time; ///< the absolute time (the offset already applied)
    std::chrono::minutes utc_offset{0};
};

/// Parses "yyyy-MM-dd hh:mm:ss" or ISO 8601 "yyyy-MM-ddThh:mm:ss[.f...](Z|+hh:mm|-hh:mm|
/// +hhmm|+hh)": a space may stand for the 'T', 1 to 9 fractional digits (beyond 6
/// truncated); without an offset the time is taken to be in `default_offset`. Returns
/// nullopt for anything else, including impossible dates and times (2023-02-29, 24:00).
ATOMCLOUD_DECL std::optional<offset_time>
parse_time(std::string_view text, std::chrono::minutes default_offset = platform_utc_offset);

/// How format_time writes a time.
enum class time_format {
    /// "yyyy-MM-dd hh:mm:ss", truncated to the second: the API's own form (history
    /// queries, the console), without the offset.
    api,
    /// "yyyy-MM-ddThh:mm:ss.ffffff+hh:mm": ISO 8601 with microseconds and the offset.
    iso,
};

/// Writes `t` as seen in the time zone `utc_offset`.
ATOMCLOUD_DECL std::string format_time(packet_time t,
                                       std::chrono::minutes utc_offset = platform_utc_offset,
                                       time_format format = time_format::iso);

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/detail/time.hpp> // and with it the bodies of both
#endif

#endif
