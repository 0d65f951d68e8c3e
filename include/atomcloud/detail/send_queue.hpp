// The session's write queue, without sockets: encoded frames waiting to be written, with
// the limits of config.session (messages and bytes). Internal.
//
// Two kinds of entries share one FIFO so that their order is kept:
//  - control frames (subscribe / unsubscribe), written first after a reconnect (the
//    replay) and not counted against the limits (their number is bounded by the
//    application's own subscriptions);
//  - data frames (0x03 / 0x07 sends), counted against max_queued_messages and
//    max_queued_bytes, including the one being written.
// Frames are encoded straight into buffers taken from a small pool, so a steady stream
// of sends allocates nothing for the frame bytes.
#ifndef ATOMCLOUD_DETAIL_SEND_QUEUE_HPP
#define ATOMCLOUD_DETAIL_SEND_QUEUE_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace atomcloud::detail {

template <class Handler>
class send_queue {
public:
    struct entry {
        bytes data;                     // the encoded frame
        std::optional<Handler> handler; // completed when written (none for replayed frames)
        bool control = false;
        std::uint64_t id = 0;
    };

    send_queue(std::size_t max_messages, std::size_t max_bytes,
               std::size_t nbiot_width = nbiot_id::wire_size)
        : max_messages_(max_messages), max_bytes_(max_bytes), nbiot_width_(nbiot_width) {}

    /// The encoded size of `f` in this queue's frame format.
    std::size_t encoded_size_of(const frame& f) const noexcept {
        return encoded_size(f, nbiot_width_);
    }

    /// Whether a data frame of `frame_size` bytes may be queued now:
    /// client_errc::message_too_large if it could never fit in max_queued_bytes,
    /// client_errc::send_queue_full if the queue is at one of its limits.
    error_code check_data(std::size_t frame_size) const noexcept {
        if (frame_size > max_bytes_)
            return make_error_code(client_errc::message_too_large);
        if (data_count_ + 1 > max_messages_ || data_bytes_ + frame_size > max_bytes_)
            return make_error_code(client_errc::send_queue_full);
        return {};
    }

    /// Encodes `f` into a pooled buffer and queues it as data. Check with check_data()
    /// first. Returns the entry's id.
    std::uint64_t push_data(const frame& f, Handler h) {
        auto& e = emplace_back(f, false);
        e.handler.emplace(std::move(h));
        ++data_count_;
        data_bytes_ += e.data.size();
        return e.id;
    }

    /// Queues a control frame at the back; `h` (if any) completes when it is written.
    std::uint64_t push_control(const frame& f, std::optional<Handler> h = std::nullopt) {
        auto& e = emplace_back(f, true);
        e.handler = std::move(h);
        return e.id;
    }

    /// Queues control frames for `devices` at the front, in order, ahead of everything
    /// (but behind the entries being written): the replay after a reconnect. Returns the
    /// id of the last one (0 if `devices` is empty).
    template <class Devices>
    std::uint64_t push_replay(const Devices& devices) {
        std::uint64_t last = 0;
        std::size_t at = in_flight_;
        for (const auto& d : devices) {
            entry e;
            e.data = take_buffer();
            encode_frame(subscribe_frame{d}, e.data);
            e.control = true;
            e.id = last = ++last_id_;
            q_.insert(q_.begin() + static_cast<std::ptrdiff_t>(at++), std::move(e));
        }
        return last;
    }

    bool empty() const noexcept { return q_.empty(); }
    std::size_t size() const noexcept { return q_.size(); }
    std::size_t data_count() const noexcept { return data_count_; }
    std::size_t data_bytes() const noexcept { return data_bytes_; }
    /// How many entries (at the front) are being written.
    std::size_t in_flight() const noexcept { return in_flight_; }
    /// Whether an entry waits that is not being written yet.
    bool has_unstarted() const noexcept { return in_flight_ < q_.size(); }

    /// The next entry not being written yet (has_unstarted() must be true); marks it as
    /// being written (it can no longer be removed). Several may be in flight at once (one
    /// write of several frames); they complete in order with pop_front().
    entry& start_front() noexcept { return q_[in_flight_++]; }

    /// Removes the first entry (the oldest one being written, if any) and returns it.
    /// Give its buffer back with recycle() when done.
    entry pop_front() {
        entry e = std::move(q_.front());
        q_.pop_front();
        if (in_flight_ != 0)
            --in_flight_;
        if (!e.control) {
            --data_count_;
            data_bytes_ -= e.data.size();
        }
        return e;
    }

    /// Removes the queued (not in flight) entry `id`; returns it if it was there.
    std::optional<entry> remove(std::uint64_t id) {
        for (auto it = q_.begin(); it != q_.end(); ++it) {
            if (it->id != id)
                continue;
            if (static_cast<std::size_t>(it - q_.begin()) < in_flight_)
                return std::nullopt;
            entry e = std::move(*it);
            q_.erase(it);
            if (!e.control) {
                --data_count_;
                data_bytes_ -= e.data.size();
            }
            return e;
        }
        return std::nullopt;
    }

    /// Removes every queued entry (not those in flight) for which `pred(entry)` is true,
    /// passing each to `out(entry&&)` in order.
    template <class Pred, class Out>
    void remove_if(Pred pred, Out out) {
        std::deque<entry> kept;
        std::size_t i = 0;
        for (auto& e : q_) {
            const bool pinned = i++ < in_flight_;
            if (!pinned && pred(e)) {
                if (!e.control) {
                    --data_count_;
                    data_bytes_ -= e.data.size();
                }
                out(std::move(e));
            } else {
                kept.push_back(std::move(e));
            }
        }
        q_.swap(kept);
    }

    /// Gives a written frame's buffer back to the pool.
    void recycle(bytes&& b) noexcept {
        if (pool_.size() < max_pool && b.capacity() <= max_pooled_capacity) {
            b.clear();
            pool_.push_back(std::move(b));
        }
    }

    static constexpr std::size_t max_pool = 64;
    static constexpr std::size_t max_pooled_capacity = 64 * 1024;

private:
    entry& emplace_back(const frame& f, bool control) {
        entry e;
        e.data = take_buffer();
        encode_frame(f, e.data, nbiot_width_);
        e.control = control;
        e.id = ++last_id_;
        q_.push_back(std::move(e));
        return q_.back();
    }

    bytes take_buffer() {
        if (pool_.empty())
            return {};
        bytes b = std::move(pool_.back());
        pool_.pop_back();
        return b;
    }

    std::size_t max_messages_;
    std::size_t max_bytes_;
    std::size_t nbiot_width_;
    std::deque<entry> q_;
    std::vector<bytes> pool_;
    std::size_t data_count_ = 0;
    std::size_t data_bytes_ = 0;
    std::size_t in_flight_ = 0;
    std::uint64_t last_id_ = 0;
};

} // namespace atomcloud::detail

#endif
