#ifndef ATOMCLOUD_IMPL_HISTORY_CURSOR_IPP
#define ATOMCLOUD_IMPL_HISTORY_CURSOR_IPP

#include <atomcloud/detail/history_cursor.hpp>
#include <atomcloud/payload.hpp>

#include <algorithm>

namespace atomcloud::detail {

ATOMCLOUD_DECL history_cursor::history_cursor(history_walk_options opts)
    : opts_(std::move(opts)), limit_(std::clamp<std::uint32_t>(opts_.page_size, 1, 1000)) {
    if (opts_.end) {
        // The exact end filters locally; the query sends it rounded up to the second.
        upper_ = std::chrono::time_point_cast<std::chrono::microseconds>(*opts_.end);
        const auto floor = std::chrono::floor<std::chrono::seconds>(*opts_.end);
        query_end_ = floor == *opts_.end ? floor : floor + std::chrono::seconds(1);
    }
    if (opts_.start && opts_.end && *opts_.start > *opts_.end)
        done_ = true;
}

ATOMCLOUD_DECL packet_query history_cursor::next_query() const {
    packet_query q;
    q.page = next_page_;
    q.limit = limit_;
    q.start = opts_.start; // truncated to the second when sent: includes the exact start
    q.end = query_end_;
    return q;
}

ATOMCLOUD_DECL bool history_cursor::in_window(const packet& p) const noexcept {
    if (upper_ && p.time > *upper_)
        return false;
    if (opts_.start && p.time < *opts_.start)
        return false;
    return true;
}

ATOMCLOUD_DECL void history_cursor::feed(packet_page page, std::vector<packet>& out,
                                         error_code& ec) {
    ec = {};
    if (done_)
        return;
    ++pages_;
    const std::size_t received = page.items.size();
    if (received == 0) {
        done_ = true;
        return;
    }

    // The first page fixes the window's newest end when the caller gave none.
    if (!upper_) {
        packet_time newest = page.items.front().time;
        for (const auto& p : page.items)
            newest = std::max(newest, p.time);
        upper_ = newest;
        const auto floor = std::chrono::floor<std::chrono::seconds>(newest);
        query_end_ = std::chrono::system_clock::time_point(
            floor == newest ? floor : floor + std::chrono::seconds(1));
    }

    // A page can only repeat packets if the history changed since the previous page.
    const bool changed = prev_total_ >= 0 && page.total_item != prev_total_;
    std::map<std::string, std::size_t> repeats_left;
    if (changed)
        repeats_left = at_last_;
    const std::optional<packet_time> last_at_start = last_time_;

    bool older_than_start = false;
    for (auto& p : page.items) {
        if (opts_.start && p.time < *opts_.start)
            older_than_start = true;
        if (!in_window(p))
            continue;
        if (last_time_) {
            if (p.time > *last_time_)
                continue; // already yielded (the page shifted), or out of order
            if (p.time == *last_time_) {
                if (changed && last_at_start && p.time == *last_at_start) {
                    auto it = repeats_left.find(p.hex);
                    if (it != repeats_left.end() && it->second > 0) {
                        --it->second;
                        continue;
                    }
                }
                ++at_last_[p.hex];
            } else {
                last_time_ = p.time;
                at_last_.clear();
                at_last_[p.hex] = 1;
            }
        } else {
            last_time_ = p.time;
            at_last_.clear();
            at_last_[p.hex] = 1;
        }
        if (opts_.skip_heartbeats && is_heartbeat(p.payload, opts_.heartbeat))
            continue;
        out.push_back(std::move(p));
    }
    prev_total_ = page.total_item;

    const std::int64_t current = std::max<std::int64_t>(page.current_page, next_page_);
    if (received < limit_ || older_than_start ||
        (page.total_page > 0 && current >= page.total_page)) {
        done_ = true;
        return;
    }
    if (pages_ >= opts_.max_pages) {
        done_ = true;
        ec = make_error_code(client_errc::too_many_pages);
        return;
    }
    ++next_page_;
}

} // namespace atomcloud::detail

#endif
