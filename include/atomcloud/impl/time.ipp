#ifndef ATOMCLOUD_IMPL_TIME_IPP
#define ATOMCLOUD_IMPL_TIME_IPP

#include <atomcloud/detail/time.hpp>
#include <atomcloud/time.hpp>

#include <atomcloud/detail/ascii.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace atomcloud::detail {

// Proleptic Gregorian calendar <-> day numbers (the well-known era-based algorithms).
ATOMCLOUD_DECL std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

ATOMCLOUD_DECL civil_date civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2 ? 1 : 0), m, d};
}

namespace time_impl {

// Reads exactly n decimal digits at text[pos], advancing pos.
inline bool read_digits(std::string_view text, std::size_t& pos, std::size_t n,
                        unsigned& out) noexcept {
    if (text.size() < pos + n || !ascii_digit(text[pos])) // no sign
        return false;
    const char* const last = text.data() + pos + n;
    const auto [end, err] = std::from_chars(text.data() + pos, last, out);
    if (err != std::errc() || end != last)
        return false;
    pos += n;
    return true;
}

inline bool expect(std::string_view text, std::size_t& pos, char c) noexcept {
    if (pos >= text.size() || text[pos] != c)
        return false;
    ++pos;
    return true;
}

inline unsigned days_in_month(unsigned y, unsigned m) noexcept {
    static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 29;
    return days[m - 1];
}

} // namespace time_impl

ATOMCLOUD_DECL bool parse_api_time(std::string_view text, std::chrono::minutes default_offset,
                                   packet_time& out, std::chrono::minutes& offset) noexcept {
    using namespace time_impl;
    std::size_t pos = 0;
    unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') ||
        !read_digits(text, pos, 2, month) || !expect(text, pos, '-') ||
        !read_digits(text, pos, 2, day))
        return false;
    if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' '))
        return false;
    ++pos;
    if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, minute) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, second))
        return false;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return false;
    std::int64_t micros = 0;
    if (pos < text.size() && text[pos] == '.') {
        const std::size_t first = ++pos;
        while (pos < text.size() && ascii_digit(text[pos]))
            ++pos;
        const std::size_t digits = pos - first;
        if (digits == 0 || digits > 9)
            return false;
        const std::size_t used = std::min<std::size_t>(digits, 6); // beyond: truncated
        std::from_chars(text.data() + first, text.data() + first + used, micros);
        for (std::size_t i = used; i < 6; ++i)
            micros *= 10;
    }
    std::chrono::minutes off = default_offset;
    if (pos < text.size()) {
        const char c = text[pos];
        if (c == 'Z' || c == 'z') {
            off = std::chrono::minutes(0);
            ++pos;
        } else if (c == '+' || c == '-') {
            ++pos;
            unsigned oh = 0, om = 0;
            if (!read_digits(text, pos, 2, oh))
                return false;
            if (pos < text.size()) {
                if (text[pos] == ':')
                    ++pos;
                if (!read_digits(text, pos, 2, om))
                    return false;
            }
            if (oh > 23 || om > 59)
                return false;
            const int total = static_cast<int>(oh * 60 + om);
            off = std::chrono::minutes(c == '-' ? -total : total);
        } else {
            return false;
        }
    }
    if (pos != text.size())
        return false;
    const std::int64_t days = days_from_civil(year, month, day);
    const std::int64_t local_seconds =
        days * 86400 + static_cast<std::int64_t>(hour) * 3600 + minute * 60 + second;
    const std::int64_t utc_seconds = local_seconds - static_cast<std::int64_t>(off.count()) * 60;
    out = packet_time(std::chrono::microseconds(utc_seconds * 1000000 + micros));
    offset = off;
    return true;
}

namespace time_impl {

// Splits `t` + `utc_offset` into its local day and the microseconds into that day.
inline void split_local(packet_time t, std::chrono::minutes utc_offset, std::int64_t& days,
                        std::int64_t& micros) noexcept {
    constexpr std::int64_t us_per_day = 86'400'000'000;
    const std::int64_t local = t.time_since_epoch().count() + utc_offset.count() * 60'000'000;
    days = local / us_per_day;
    micros = local % us_per_day;
    if (micros < 0) {
        micros += us_per_day;
        --days;
    }
}

} // namespace time_impl

ATOMCLOUD_DECL std::string format_api_time(packet_time t, std::chrono::minutes utc_offset) {
    std::int64_t days = 0, micros = 0;
    time_impl::split_local(t, utc_offset, days, micros);
    const civil_date date = civil_from_days(days);
    const std::int64_t secs = micros / 1'000'000;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02lld:%02lld:%02lld",
                  static_cast<long long>(date.year), date.month, date.day,
                  static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                  static_cast<long long>(secs % 60));
    return buf;
}

ATOMCLOUD_DECL std::string format_iso_time(packet_time t, std::chrono::minutes utc_offset) {
    std::int64_t days = 0, micros = 0;
    time_impl::split_local(t, utc_offset, days, micros);
    const civil_date date = civil_from_days(days);
    const std::int64_t secs = micros / 1'000'000;
    const long long off = static_cast<long long>(utc_offset.count());
    const long long off_abs = std::llabs(off);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lld%c%02lld:%02lld",
                  static_cast<long long>(date.year), date.month, date.day,
                  static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                  static_cast<long long>(secs % 60), static_cast<long long>(micros % 1'000'000),
                  off < 0 ? '-' : '+', off_abs / 60, off_abs % 60);
    return buf;
}

} // namespace atomcloud::detail

namespace atomcloud {

ATOMCLOUD_DECL std::optional<offset_time> parse_time(std::string_view text,
                                                     std::chrono::minutes default_offset) {
    offset_time out;
    if (!detail::parse_api_time(text, default_offset, out.time, out.utc_offset))
        return std::nullopt;
    return out;
}

ATOMCLOUD_DECL std::string format_time(packet_time t, std::chrono::minutes utc_offset,
                                       time_format format) {
    return format == time_format::api ? detail::format_api_time(t, utc_offset)
                                      : detail::format_iso_time(t, utc_offset);
}

} // namespace atomcloud

#endif
