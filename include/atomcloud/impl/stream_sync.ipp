#ifndef ATOMCLOUD_IMPL_STREAM_SYNC_IPP
#define ATOMCLOUD_IMPL_STREAM_SYNC_IPP

#include <atomcloud/detail/stream_sync.hpp>

namespace atomcloud::detail {

inline sys_time as_sys(packet_time t) noexcept {
    return sys_time(t.time_since_epoch());
}

inline packet_time floor_second(packet_time t) noexcept {
    return std::chrono::floor<std::chrono::seconds>(t);
}

ATOMCLOUD_DECL device_sync::device_sync(const stream_cursor& start) : cursor_(start) {
}

ATOMCLOUD_DECL void device_sync::link_up(sys_time now) {
    phase_ = phase::settling;
    clear_held();
    held_before_fetch_ = 0;
    link_up_at_ = now;
}

ATOMCLOUD_DECL void device_sync::link_down() {
    phase_ = phase::down;
    clear_held();
    held_before_fetch_ = 0;
}

ATOMCLOUD_DECL bool device_sync::on_live(held_message m) {
    switch (phase_) {
    case phase::live:
        note_delivered(m.hash, std::nullopt, m.received);
        ++cursor_.after;
        cursor_.last_hash = m.hash;
        return true;
    case phase::settling:
    case phase::fetching:
        held_bytes_ += m.payload.size();
        held_.push_back(std::move(m));
        return false;
    case phase::down:
        break;
    }
    return false;
}

ATOMCLOUD_DECL bool device_sync::ready_to_fetch(sys_time now,
                                                const sync_limits& lim) const noexcept {
    return phase_ == phase::settling &&
           (held_.size() >= lim.settle_messages || now >= link_up_at_ + lim.settle_time);
}

ATOMCLOUD_DECL std::optional<sys_time>
device_sync::settle_deadline(const sync_limits& lim) const noexcept {
    if (phase_ != phase::settling)
        return std::nullopt;
    return link_up_at_ + lim.settle_time;
}

ATOMCLOUD_DECL sys_time device_sync::begin_fetch(sys_time now, const clock_model& clock) {
    phase_ = phase::fetching;
    held_before_fetch_ = held_.size();
    fetch_at_ = now;
    packet_time from;
    if (cursor_.anchor_time)
        from = *cursor_.anchor_time;
    else if (cursor_.since)
        from = *cursor_.since;
    else if (!ring_.empty() && ring_.front().cloud)
        from = *ring_.front().cloud;
    else {
        // Only hashes are known (a cursor without a place): as far back as the platform keeps.
        const bool timed = !ring_.empty() && ring_.front().received != sys_time::max();
        const sys_time oldest =
            timed ? ring_.front().received : link_up_at_ - std::chrono::hours(6);
        from = to_packet_time(oldest - clock.offset() - clock.tolerance(true));
    }
    // The API takes whole seconds: ask from the second, so that every message of the
    // anchor's microsecond (and its rank) is in the answer.
    fetch_from_ = floor_second(from);
    return as_sys(fetch_from_);
}

ATOMCLOUD_DECL void device_sync::note_delivered(std::uint64_t hash,
                                                std::optional<packet_time> cloud,
                                                sys_time received) {
    ring_.push_back({hash, cloud, received});
    if (ring_.size() > ring_size)
        ring_.pop_front();
}

ATOMCLOUD_DECL void device_sync::set_anchor(const std::vector<history_entry>& h, std::size_t i) {
    std::uint32_t rank = 0;
    for (std::size_t j = 0; j < i; ++j)
        if (h[j].time == h[i].time && h[j].hash == h[i].hash)
            ++rank;
    cursor_.anchor_time = h[i].time;
    cursor_.anchor_hash = h[i].hash;
    cursor_.anchor_rank = rank;
    cursor_.since.reset();
}

ATOMCLOUD_DECL std::optional<std::size_t>
device_sync::locate_by_ring(const std::vector<history_entry>& h, const clock_model& clock,
                            bool& unique) const {
    unique = false;
    if (ring_.empty())
        return std::nullopt;
    const auto off = clock.offset();
    const auto tol = clock.tolerance();
    std::optional<std::size_t> latest;
    bool latest_full = false;
    std::size_t found = 0;
    for (std::size_t j = h.size(); j-- > 0;) {
        const std::size_t k = std::min(ring_.size(), j + 1);
        bool ok = true;
        for (std::size_t x = 0; x < k && ok; ++x) {
            const delivered& r = ring_[ring_.size() - 1 - x];
            const history_entry& e = h[j - x];
            if (e.hash != r.hash)
                ok = false;
            else if (r.cloud)
                ok = e.time == *r.cloud;
            else
                ok = as_sys(e.time) + off - tol <= r.received;
        }
        if (ok) {
            if (!latest) {
                latest = j + 1;
                // Cut short by the history's start, the match is weaker evidence than the
                // whole remembered tail: it never counts as sure.
                latest_full = k == ring_.size();
            }
            ++found;
        }
    }
    unique = found == 1 && latest_full;
    return latest;
}

ATOMCLOUD_DECL std::optional<std::size_t> device_sync::locate(const std::vector<history_entry>& h,
                                                              const clock_model& clock,
                                                              sys_time now, const sync_limits& lim,
                                                              bool& unique) const {
    unique = true;
    std::optional<std::size_t> start; // index of the anchor's successor, or of `since`
    if (cursor_.anchor_time) {
        std::uint32_t seen = 0;
        for (std::size_t i = 0; i < h.size(); ++i)
            if (h[i].time == *cursor_.anchor_time && h[i].hash == cursor_.anchor_hash) {
                if (seen == cursor_.anchor_rank) {
                    start = i + 1;
                    break;
                }
                ++seen;
            }
    } else if (cursor_.since && ((!h.empty() && h.front().time <= *cursor_.since) ||
                                 as_sys(*cursor_.since) >= now - lim.retention)) {
        // Counting from `since` holds only if nothing after it was evicted: the history
        // reaches back to it, or it is within the retention.
        std::size_t i = 0;
        while (i < h.size() && h[i].time < *cursor_.since)
            ++i;
        start = i;
    }
    if (start) {
        const std::uint64_t after = cursor_.after;
        if (after <= h.size() - *start) {
            const std::size_t s = *start + static_cast<std::size_t>(after);
            // What was delivered after the anchor must be what the history has there.
            bool same = after == 0 || h[s - 1].hash == cursor_.last_hash;
            const std::size_t k =
                std::min<std::size_t>({static_cast<std::size_t>(after), ring_.size(), s});
            for (std::size_t x = 0; x < k && same; ++x)
                same = h[s - 1 - x].hash == ring_[ring_.size() - 1 - x].hash;
            if (same)
                return s;
        }
    }
    return locate_by_ring(h, clock, unique);
}

ATOMCLOUD_DECL std::vector<sync_step> device_sync::finish_fetch(const std::vector<history_entry>& h,
                                                                bool complete, sys_time now,
                                                                clock_model& clock,
                                                                const sync_limits& lim) {
    std::vector<sync_step> out;
    phase_ = phase::live;
    const auto gap = [&](std::optional<packet_time> from, std::optional<packet_time> to,
                         gap_reason why) {
        sync_step g;
        g.what = sync_step::kind::gap;
        g.from = from;
        g.to = to;
        g.reason = why;
        out.push_back(g);
    };
    const auto before = [&](std::size_t i) -> std::optional<packet_time> {
        if (i < h.size())
            return h[i].time - microseconds(1);
        return std::nullopt;
    };

    // A. Where delivery continues in the history.
    bool unique = true;
    std::optional<std::size_t> located = locate(h, clock, now, lim, unique);
    const std::optional<packet_time> last_known =
        cursor_.anchor_time ? cursor_.anchor_time : cursor_.since;
    // The history is the newest part of what the device sent, without holes: when it does
    // not reach back to the last known place, the messages before its start are gone.
    const bool reaches_back = last_known && !h.empty() && h.front().time <= *last_known;
    std::size_t s = 0;
    if (located)
        s = *located;
    else if (last_known && !reaches_back)
        s = 0; // the last delivered message is not in it: all of it is newer
    else if (cursor_.anchor_time) {
        // The anchor is not where the cursor says: skip what may have been delivered after
        // it (a gap over what may be missing, never a message twice).
        while (s < h.size() && h[s].time <= *cursor_.anchor_time)
            ++s;
        s += static_cast<std::size_t>(std::min<std::uint64_t>(cursor_.after, h.size() - s));
    } else
        s = h.size(); // nothing known: only what is certainly new (the live messages)

    if (!located || !unique) {
        gap_reason why = gap_reason::history_mismatch;
        if (!complete)
            why = gap_reason::too_many_pages;
        else if (last_known && !reaches_back)
            why = gap_reason::retention;
        else if (located && !unique)
            why = gap_reason::ambiguous_overlap;
        gap(last_known, before(s), why);
    } else if (!cursor_.anchor_time && cursor_.since &&
               (h.empty() || h.front().time > *cursor_.since)) {
        // Delivery starts at `since`: the history may no longer reach back that far.
        if (!complete)
            gap(cursor_.since, before(s), gap_reason::too_many_pages);
        else if (as_sys(*cursor_.since) < now - lim.retention)
            gap(cursor_.since, before(s), gap_reason::retention);
    }

    // B. Where the held live messages are in the history: held_[0] at h[p], the first `ov`
    // of them matched. Usually the history's tail is their start (ov <= b, p = size - ov).
    // When it is not, live delivery may lag behind the history's answer: the history then
    // also holds messages newer than the last held one (p + b < size), still on their way
    // over the link, which delivers them.
    const std::size_t m = h.size() - s;
    const std::size_t b = held_.size();
    const auto fits = [&](std::size_t p, std::size_t ov, bool wide) {
        const auto off = clock.offset();
        const auto tol = clock.tolerance(wide);
        for (std::size_t t = 0; t < ov; ++t) {
            const history_entry& e = h[p + t];
            const held_message& hm = held_[t];
            if (e.hash != hm.hash)
                return false;
            const sys_time stored = as_sys(e.time) + off;
            if (stored - tol > hm.received || stored + tol < link_up_at_)
                return false;
        }
        return true;
    };
    std::vector<std::size_t> valid; // values of p, earliest first
    const std::size_t most = std::min(m, b);
    for (bool wide : {false, true}) {
        if (!valid.empty() || (wide && !clock.calibrated()))
            break;
        // The history's tail, the largest overlap first.
        for (std::size_t ov = most; ov >= held_before_fetch_ && most >= held_before_fetch_; --ov) {
            if (fits(h.size() - ov, ov, wide))
                valid.push_back(h.size() - ov);
            if (ov == 0)
                break;
        }
        // Otherwise every held message inside it, the history going on past them.
        const bool tail_fits = !valid.empty();
        for (std::size_t p = s; !tail_fits && b > 0 && p + b < h.size(); ++p)
            if (fits(p, b, wide))
                valid.push_back(p);
        if (wide && !valid.empty())
            clock.reset(); // the measured offset no longer holds
    }
    std::size_t p = h.size();   // where held_[0] is in the history
    std::size_t ov = 0;         // held messages matched there
    std::size_t first_held = 0; // held messages before this one are not delivered
    if (valid.empty()) {
        // The history does not contain what was received before it was read: it cannot be
        // aligned. Skip its unplaced part (no repeats), report it, deliver the live ones.
        if (m > 0)
            gap(h[s].time, h.back().time, gap_reason::history_mismatch);
        else
            gap(last_known, std::nullopt, gap_reason::history_mismatch);
        s = h.size();
    } else {
        // The earliest place: the history before it is delivered, so a later true place
        // means messages missing (reported), never a message twice.
        p = valid.front();
        ov = std::min(b, h.size() - p);
        if (valid.size() > 1) {
            gap(h[p].time, h[valid.back() - 1].time, gap_reason::ambiguous_overlap);
        } else {
            for (std::size_t t = 0; t < ov; ++t)
                clock.sample(std::chrono::duration_cast<microseconds>(held_[t].received -
                                                                      as_sys(h[p + t].time)));
        }
    }

    // C. Deliver: the history's new part up to the overlap, then every held message.
    for (std::size_t i = s; i < p; ++i) {
        sync_step st;
        st.what = sync_step::kind::backfill;
        st.index = i;
        st.cloud_time = h[i].time;
        out.push_back(st);
        note_delivered(h[i].hash, h[i].time, now);
        cursor_.last_hash = h[i].hash;
    }
    for (std::size_t t = first_held; t < b; ++t) {
        sync_step st;
        st.what = sync_step::kind::held;
        st.index = t;
        if (t < ov)
            st.cloud_time = h[p + t].time;
        out.push_back(st);
        note_delivered(held_[t].hash, st.cloud_time, held_[t].received);
        cursor_.last_hash = held_[t].hash;
    }

    // D. The cursor: the last delivered message's place in the history, or the history's
    // newest message and how many followed it live.
    if (valid.empty()) {
        // Like abandon(): the next backfill finds the place from what was delivered.
        cursor_.anchor_time.reset();
        cursor_.since.reset();
        cursor_.after = 0;
    } else if (b > 0 && p + b < h.size()) { // all held matched, the history goes on
        set_anchor(h, p + b - 1);
        cursor_.after = 0;
    } else if (!h.empty()) {
        set_anchor(h, h.size() - 1);
        cursor_.after = b - ov;
        if (b == ov) // the anchor itself is the last delivered (or precedes the start)
            cursor_.last_hash = h.back().hash;
    } else {
        cursor_.anchor_time.reset();
        cursor_.since = fetch_from_;
        cursor_.after = b;
    }
    return out;
}

ATOMCLOUD_DECL std::vector<sync_step> device_sync::abandon(gap_reason why, error_code ec) {
    std::vector<sync_step> out;
    sync_step g;
    g.what = sync_step::kind::gap;
    g.from = cursor_.anchor_time ? cursor_.anchor_time : cursor_.since;
    g.reason = why;
    g.ec = ec;
    out.push_back(g);
    for (std::size_t t = 0; t < held_.size(); ++t) {
        sync_step st;
        st.what = sync_step::kind::held;
        st.index = t;
        out.push_back(st);
        note_delivered(held_[t].hash, std::nullopt, held_[t].received);
        cursor_.last_hash = held_[t].hash;
    }
    // The place in the history is lost: the next backfill finds it from what was delivered.
    cursor_.anchor_time.reset();
    cursor_.since.reset();
    cursor_.after = 0;
    phase_ = phase::live;
    return out;
}

} // namespace atomcloud::detail

#endif
