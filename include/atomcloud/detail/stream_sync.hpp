// The gapless stream's decisions for one device, without sockets, timers or clocks of its
// own: live messages, link changes and history pages go in (with the current time), and
// what to deliver, in which order, comes out. See stream.hpp for the guarantee and the
// method; this file is its implementation, and tests/unit/stream_sync_test.cpp feeds it
// events with a fake clock. Internal.
#ifndef ATOMCLOUD_DETAIL_STREAM_SYNC_HPP
#define ATOMCLOUD_DETAIL_STREAM_SYNC_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/models.hpp>
#include <atomcloud/stream.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace atomcloud::detail {

using sys_time = std::chrono::system_clock::time_point;
using std::chrono::microseconds;

/// FNV-1a, 64 bits: the payload hash of cursors (stable across versions and platforms).
inline std::uint64_t payload_hash(bytes_view p) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (std::uint8_t b : p) {
        h ^= b;
        h *= 0x100000001b3ULL;
    }
    return h;
}

inline packet_time to_packet_time(sys_time t) noexcept {
    return std::chrono::time_point_cast<microseconds>(t);
}

/// How the local clock relates to the cloud's: offset = local receive time - cloud time
/// of the same message, the least of the recent samples (a message is received after it
/// is stored, so every sample is the true offset plus a delay).
class clock_model {
public:
    clock_model(std::chrono::milliseconds initial_tolerance,
                std::chrono::milliseconds min_tolerance)
        : initial_(initial_tolerance), min_(min_tolerance) {}

    void sample(microseconds d) {
        samples_.push_back(d);
        if (samples_.size() > max_samples)
            samples_.pop_front();
    }
    bool calibrated() const noexcept { return !samples_.empty(); }
    microseconds offset() const noexcept {
        if (samples_.empty())
            return microseconds(0);
        return *std::min_element(samples_.begin(), samples_.end());
    }
    /// How far the offset may be off.
    microseconds tolerance(bool wide = false) const noexcept {
        return (wide || samples_.empty()) ? microseconds(initial_) : microseconds(min_);
    }
    /// Forget the measurements (e.g. after they proved wrong).
    void reset() noexcept { samples_.clear(); }

    static constexpr std::size_t max_samples = 256;

private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds min_;
    std::deque<microseconds> samples_;
};

/// A live message held while the device's history is read.
struct held_message {
    bytes_view payload;
    std::uint64_t hash = 0;
    sys_time received;
    std::shared_ptr<const void> storage; ///< keeps `payload` alive
};

/// A history message, oldest first.
struct history_entry {
    packet_time time;
    std::uint64_t hash = 0;
};

/// One instruction for the driver, in delivery order.
struct sync_step {
    enum class kind { backfill, held, gap };
    kind what = kind::backfill;
    std::size_t index = 0;                 ///< into the history (backfill) or held list
    std::optional<packet_time> cloud_time; ///< backfill; held ones matched with the history
    std::optional<packet_time> from;       ///< gap
    std::optional<packet_time> to;         ///< gap
    gap_reason reason = gap_reason::retention;
    error_code ec;
};

/// The stream's knobs the machine needs.
struct sync_limits {
    std::size_t settle_messages = 8;
    std::chrono::milliseconds settle_time{1500};
    /// How long the platform keeps history: a start older than this may have lost messages.
    std::chrono::seconds retention{std::chrono::hours(6)};
};

/// One device's delivery state. See the file comment.
class device_sync {
public:
    enum class phase {
        down,     ///< no link: nothing arrives
        settling, ///< link up again: live messages are held until the history is read
        fetching, ///< the history is being read (still holding)
        live,     ///< in step: live messages are delivered as they come
    };

    /// Starting from `start` (its anchor, or its `since`, which must then be set).
    ATOMCLOUD_DECL explicit device_sync(const stream_cursor& start);

    phase state() const noexcept { return phase_; }
    const stream_device& device() const noexcept { return cursor_.device; }

    /// The link is up and the device subscribed (at `now`): hold live messages, read the
    /// history once settled.
    ATOMCLOUD_DECL void link_up(sys_time now);
    /// The link is down: what was held will come from the history after the next link_up.
    ATOMCLOUD_DECL void link_down();

    /// A live message of the device. True: deliver it now (the cursor has advanced).
    /// False: it is held (or, while down, cannot be placed and is left to the history).
    ATOMCLOUD_DECL bool on_live(held_message m);

    /// Whether to start reading the history now.
    ATOMCLOUD_DECL bool ready_to_fetch(sys_time now, const sync_limits& lim) const noexcept;
    /// When reading should start at the latest (settle deadline); nullopt when not settling.
    ATOMCLOUD_DECL std::optional<sys_time> settle_deadline(const sync_limits& lim) const noexcept;
    /// Reading starts: returns the oldest time the history must cover (whole seconds are
    /// what the API takes: the caller asks from that second).
    ATOMCLOUD_DECL sys_time begin_fetch(sys_time now, const clock_model& clock);
    /// The history from begin_fetch's time to the newest message, oldest first.
    /// `complete` is false when it was cut short by the page limit (its oldest part
    /// missing). Returns what to deliver: backfill entries of `h`, held messages, gaps.
    /// The machine is live afterwards; the held list stays readable until the next call.
    ATOMCLOUD_DECL std::vector<sync_step> finish_fetch(const std::vector<history_entry>& h,
                                                       bool complete, sys_time now,
                                                       clock_model& clock, const sync_limits& lim);
    /// The history could not be read (permanent error, or the held messages overflowed):
    /// a gap, then the held messages. Live afterwards, without an anchor.
    ATOMCLOUD_DECL std::vector<sync_step> abandon(gap_reason why, error_code ec);

    const std::vector<held_message>& held() const noexcept { return held_; }
    std::size_t held_bytes() const noexcept { return held_bytes_; }
    /// Drops the held list once the driver has taken the payloads it delivers.
    void clear_held() noexcept {
        held_.clear();
        held_bytes_ = 0;
    }

    /// Where delivery stands.
    const stream_cursor& cursor() const noexcept { return cursor_; }

    /// Delivered messages remembered for alignments (hash, cloud time if known, receive time).
    struct delivered {
        std::uint64_t hash = 0;
        std::optional<packet_time> cloud;
        sys_time received;
    };
    static constexpr std::size_t ring_size = 64;

private:
    void note_delivered(std::uint64_t hash, std::optional<packet_time> cloud, sys_time received);
    void set_anchor(const std::vector<history_entry>& h, std::size_t i);
    /// Where delivery continues in `h` (index of the first new entry); nullopt when unsure.
    /// `unique` is false when several places fit (the latest is returned).
    std::optional<std::size_t> locate(const std::vector<history_entry>& h, const clock_model& clock,
                                      sys_time now, const sync_limits& lim, bool& unique) const;
    std::optional<std::size_t> locate_by_ring(const std::vector<history_entry>& h,
                                              const clock_model& clock, bool& unique) const;

    stream_cursor cursor_;
    phase phase_ = phase::down;
    std::deque<delivered> ring_;
    std::vector<held_message> held_;
    std::size_t held_bytes_ = 0;
    std::size_t held_before_fetch_ = 0;
    sys_time link_up_at_{};
    sys_time fetch_at_{};
    packet_time fetch_from_{};
};

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/stream_sync.ipp>
#endif

#endif
