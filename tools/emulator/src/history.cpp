#include "history.hpp"

#include <algorithm>
#include <cstdio>

namespace atomcloud::emulator::detail {

namespace chrono = std::chrono;

std::string format_cloud_time(time_point t) {
    const auto local = chrono::floor<chrono::microseconds>(t) + cloud_utc_offset;
    const auto day = chrono::floor<chrono::days>(local);
    const chrono::year_month_day ymd{day};
    auto us = (local - day).count(); // microseconds into the day, 0..86399999999
    const auto micros = static_cast<int>(us % 1000000);
    us /= 1000000;
    const auto seconds = static_cast<int>(us % 60);
    const auto minutes = static_cast<int>((us / 60) % 60);
    const auto hours = static_cast<int>(us / 3600);

    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", int(ymd.year()),
                          unsigned(ymd.month()), unsigned(ymd.day()), hours, minutes, seconds);
    std::string out(buf, static_cast<std::size_t>(n));
    if (micros != 0) {
        n = std::snprintf(buf, sizeof buf, ".%06d", micros);
        std::string_view frac(buf, static_cast<std::size_t>(n));
        while (frac.back() == '0')
            frac.remove_suffix(1);
        out += frac;
    }
    out += "+08:00";
    return out;
}

std::optional<time_point> parse_query_time(std::string_view text) {
    // yyyy-MM-dd hh:mm:ss
    // 0123456789012345678
    if (text.size() != 19 || text[4] != '-' || text[7] != '-' ||
        (text[10] != ' ' && text[10] != 'T') || text[13] != ':' || text[16] != ':')
        return std::nullopt;
    auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
        int v = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (text[i] < '0' || text[i] > '9')
                return std::nullopt;
            v = v * 10 + (text[i] - '0');
        }
        return v;
    };
    auto y = number(0, 4), mo = number(5, 2), d = number(8, 2), h = number(11, 2),
         mi = number(14, 2), s = number(17, 2);
    if (!y || !mo || !d || !h || !mi || !s)
        return std::nullopt;
    const chrono::year_month_day ymd{chrono::year(*y), chrono::month(unsigned(*mo)),
                                     chrono::day(unsigned(*d))};
    if (!ymd.ok() || *h > 23 || *mi > 59 || *s > 59)
        return std::nullopt;
    const auto local =
        chrono::sys_days(ymd) + chrono::hours(*h) + chrono::minutes(*mi) + chrono::seconds(*s);
    return time_point(local - cloud_utc_offset);
}

void history::add(time_point time, bytes payload, time_point now, const history_limits& limits) {
    bytes_ += payload.size();
    stored_message msg{time, std::move(payload)};
    if (items_.empty() || items_.back().time <= time) {
        items_.push_back(std::move(msg));
    } else {
        // The clock went back (an injected clock may): keep the order by time.
        auto pos = std::upper_bound(
            items_.begin(), items_.end(), time,
            [](const time_point& t, const stored_message& m) { return t < m.time; });
        items_.insert(pos, std::move(msg));
    }
    evict(now, limits);
}

void history::pop_oldest() {
    bytes_ -= items_.front().payload.size();
    items_.pop_front();
}

void history::evict(time_point now, const history_limits& limits) {
    const auto cutoff = now - limits.retention;
    while (!items_.empty() && items_.front().time < cutoff)
        pop_oldest();
    while (!items_.empty() && (items_.size() > limits.max_items || bytes_ > limits.max_bytes))
        pop_oldest();
}

history_page history::query(std::optional<time_point> start, std::optional<time_point> end,
                            std::uint64_t page, std::uint64_t limit) const {
    auto by_time = [](const stored_message& m, const time_point& t) { return m.time < t; };
    auto first = items_.begin();
    auto last = items_.end();
    if (start)
        first = std::lower_bound(items_.begin(), items_.end(), *start, by_time);
    if (end) // whole seconds: 17:03:39.3 is within end = 17:03:39
        last = std::lower_bound(first, items_.end(), *end + chrono::seconds(1), by_time);
    if (last < first)
        last = first;

    history_page out;
    out.total_items = static_cast<std::size_t>(last - first);
    out.total_pages = static_cast<std::size_t>((out.total_items + limit - 1) / limit);
    if (page == 0 || page > out.total_pages)
        return out;
    const std::uint64_t skip = (page - 1) * limit; // page <= total_pages: no overflow
    const std::uint64_t take = std::min<std::uint64_t>(limit, out.total_items - skip);
    out.items.reserve(static_cast<std::size_t>(take));
    auto it = last - static_cast<std::ptrdiff_t>(skip); // one past the newest of the page
    for (std::uint64_t i = 0; i < take; ++i)
        out.items.push_back(&*--it);
    return out;
}

} // namespace atomcloud::emulator::detail
