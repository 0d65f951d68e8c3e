// A device's message history (newest first, paged, filtered by time, bounded) and the
// cloud's time formats. No I/O.
#ifndef ATOMCLOUD_EMULATOR_SRC_HISTORY_HPP
#define ATOMCLOUD_EMULATOR_SRC_HISTORY_HPP

#include <atomcloud/bytes.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud::emulator::detail {

using time_point = std::chrono::system_clock::time_point;

/// The platform's time zone, UTC+08:00: history times are written in it and the
/// `start`/`end` query parameters are read in it.
inline constexpr std::chrono::hours cloud_utc_offset{8};

/// "2018-08-11T17:03:39.300928+08:00": UTC+08:00, at most 6 fractional digits with
/// trailing zeros trimmed, none for a whole second (as Go's RFC3339Nano writes it).
std::string format_cloud_time(time_point t);

/// Parses "yyyy-MM-dd hh:mm:ss" (a 'T' is accepted instead of the space) as a time in
/// UTC+08:00. std::nullopt if it is not exactly that or not a valid date and time.
std::optional<time_point> parse_query_time(std::string_view text);

struct stored_message {
    time_point time;
    bytes payload;
};

/// What a history keeps: messages younger than `retention`, at most `max_items` of them
/// and `max_bytes` of payload.
struct history_limits {
    std::chrono::seconds retention{std::chrono::hours(6)};
    std::size_t max_items = 100000;
    std::size_t max_bytes = 64 * 1024 * 1024;
};

/// One page of a query.
struct history_page {
    std::size_t total_items = 0;
    std::size_t total_pages = 0;
    std::vector<const stored_message*> items; ///< newest first; valid until the next change
};

class history {
public:
    /// Stores a message received at `time` and evicts what `limits` no longer allow
    /// (relative to `now`).
    void add(time_point time, bytes payload, time_point now, const history_limits& limits);

    /// Drops messages older than now - retention, and the oldest beyond the size bounds.
    void evict(time_point now, const history_limits& limits);

    /// Messages whose time, in whole seconds, lies in [start, end] (each bound optional),
    /// newest first, page `page` (from 1) of `limit` items (limit > 0).
    history_page query(std::optional<time_point> start, std::optional<time_point> end,
                       std::uint64_t page, std::uint64_t limit) const;

    std::size_t size() const noexcept { return items_.size(); }
    std::size_t payload_bytes() const noexcept { return bytes_; }
    void clear() noexcept {
        items_.clear();
        bytes_ = 0;
    }

private:
    void pop_oldest();
    std::deque<stored_message> items_; // sorted by time, oldest first
    std::size_t bytes_ = 0;
};

} // namespace atomcloud::emulator::detail

#endif
