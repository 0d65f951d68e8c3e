// The session's two ends of the WebSocket frame layer, without sockets. Internal.
//
//  - ws_inbox::parse: every complete frame of the read region, in one pass: messages are
//    decoded into the pending batch (event_arena), control frames reported; it stops at
//    the pending limits, at a close frame and at a protocol error.
//  - ws_outbox: the next write, as masked client frames in one buffer: the pong and ping
//    owed, then queued frames (as many as fit a batch), the close frame last.
#ifndef ATOMCLOUD_DETAIL_SESSION_FRAMES_HPP
#define ATOMCLOUD_DETAIL_SESSION_FRAMES_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/detail/event_arena.hpp>
#include <atomcloud/detail/ws_frame.hpp>

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

namespace atomcloud::detail {

/// What one pass over the read region found.
struct parse_result {
    std::size_t device_frames = 0;      ///< device events and messages delivered
    std::size_t errors = 0;             ///< protocol_error events (malformed or text messages)
    std::size_t messages = 0;           ///< data messages parsed (any outcome)
    std::size_t message_bytes = 0;      ///< their payload bytes
    bool ping = false;                  ///< a ping came: a pong is owed (ws_inbox::pong())
    std::optional<std::uint16_t> close; ///< the server's close frame, with its code
    std::optional<ws_event> failure;    ///< a protocol violation (kind fail)
    bool at_limits = false;             ///< stopped at the pending limits: frames may wait
};

/// The read side of a link: the frame reader and the pong it owes.
class ws_inbox {
public:
    explicit ws_inbox(std::size_t max_message_size) : reader_(max_message_size) {}

    /// Parses the region of `arena` into `pending`, until it needs more bytes, the pending
    /// batch reaches `max_events` events or `max_bytes` message bytes, a close frame or a
    /// failure. `on_unsubscribed(device)` is called for each device frame `filter` drops.
    template <class OnUnsubscribed>
    parse_result parse(event_arena& arena, event_batch& pending, const receive_filter& filter,
                       std::size_t max_events, std::size_t max_bytes,
                       OnUnsubscribed&& on_unsubscribed) {
        parse_result r;
        for (;;) {
            if (pending.size() >= max_events || pending.message_bytes() >= max_bytes) {
                r.at_limits = true;
                return r;
            }
            const ws_event ev = reader_.next(arena.region(), arena.region_size());
            switch (ev.kind) {
            case ws_event_kind::need_more:
                return r;
            case ws_event_kind::message: {
                ++r.messages;
                r.message_bytes += ev.size;
                std::optional<device_number> dev;
                switch (arena.append(pending, bytes_view(arena.region() + ev.offset, ev.size),
                                     ev.text, filter, &dev)) {
                case message_outcome::device:
                    ++r.device_frames;
                    break;
                case message_outcome::error:
                    ++r.errors;
                    break;
                case message_outcome::unsubscribed:
                    on_unsubscribed(*dev);
                    break;
                }
                break;
            }
            case ws_event_kind::ping:
                pong_size_ = std::min(ev.size, pong_.size());
                if (pong_size_ != 0)
                    std::memcpy(pong_.data(), arena.region() + ev.offset, pong_size_);
                r.ping = true;
                break;
            case ws_event_kind::pong:
                break;
            case ws_event_kind::close:
                r.close = ev.close_code;
                break;
            case ws_event_kind::fail:
                r.failure = ev;
                return r;
            }
            const std::size_t done = reader_.releasable();
            reader_.release(done);
            arena.release(done);
            if (r.close)
                return r;
        }
    }

    /// How many bytes the region needs before parsing can go on (ws_reader::wanted()).
    std::size_t wanted() const noexcept { return reader_.wanted(); }

    /// The payload of the last ping, for the pong.
    bytes_view pong() const noexcept { return bytes_view(pong_.data(), pong_size_); }

private:
    ws_reader reader_;
    std::array<std::uint8_t, 125> pong_{};
    std::size_t pong_size_ = 0;
};

/// The write side of a link: the next write, built and then consumed as the socket takes it.
class ws_outbox {
public:
    /// Frames owed besides the queue: a pong (with this payload), a ping, a close frame.
    void owe_pong(bytes_view payload) {
        pong_size_ = std::min(payload.size(), pong_.size());
        if (pong_size_ != 0)
            std::memcpy(pong_.data(), payload.data(), pong_size_);
        pong_owed_ = true;
    }
    void owe_ping() noexcept { ping_owed_ = true; }
    void owe_close(std::uint16_t code) noexcept { close_code_ = code; }

    /// Whether bytes of the current write are still to go.
    bool busy() const noexcept { return off_ < buf_.size(); }

    /// Builds the next write when the last one is done: the pong and ping owed, then
    /// queued frames while `data_allowed` (as many as fit `batch` bytes, marked in flight
    /// in `queue`), and the close frame owed once no data may go. Returns whether there is
    /// anything to write.
    template <class Queue>
    bool build(Queue& queue, bool data_allowed, std::size_t batch) {
        buf_.clear();
        off_ = 0;
        frames_ = 0;
        has_close_ = false;
        if (pong_owed_) {
            pong_owed_ = false;
            append(ws_opcode::pong, pong_.data(), pong_size_);
        }
        if (ping_owed_) {
            ping_owed_ = false;
            append(ws_opcode::ping, nullptr, 0);
        }
        if (data_allowed) {
            while (queue.has_unstarted() && buf_.size() < batch) {
                auto& e = queue.start_front();
                append(ws_opcode::binary, e.data.data(), e.data.size());
                // (The replay after a reconnect is queued in front with newer ids: the
                // largest id tells whether it went out.)
                last_id_ = std::max(last_id_, e.id);
                ++frames_;
            }
        }
        if (close_code_ != 0 && !data_allowed && frames_ == 0) {
            std::array<std::uint8_t, 125> payload{};
            const std::size_t n = ws_close_payload(payload.data(), close_code_, {});
            append(ws_opcode::close, payload.data(), n);
            close_code_ = 0;
            has_close_ = true;
        }
        return !buf_.empty();
    }

    /// What is left of the current write.
    boost::asio::const_buffer pending() const noexcept {
        return boost::asio::const_buffer(buf_.data() + off_, buf_.size() - off_);
    }
    /// The socket took `n` more bytes.
    void consumed(std::size_t n) noexcept { off_ += n; }

    /// Queue entries the current write carries, the largest id among them (and earlier
    /// writes), and whether it ends with the close frame.
    std::size_t frames() const noexcept { return frames_; }
    std::uint64_t last_id() const noexcept { return last_id_; }
    bool has_close() const noexcept { return has_close_; }

    /// Forgets everything (the link is gone); trim() also gives the buffer back.
    void reset() noexcept {
        buf_.clear();
        off_ = 0;
        frames_ = 0;
        has_close_ = false;
        pong_owed_ = ping_owed_ = false;
        close_code_ = 0;
    }
    void trim() noexcept {
        if (!busy())
            bytes().swap(buf_);
    }

private:
    void append(ws_opcode op, const std::uint8_t* payload, std::size_t n) {
        const auto key = masks_.next();
        const std::size_t at = buf_.size();
        buf_.resize(at + ws_max_header_size + n);
        const std::size_t h = ws_write_header(buf_.data() + at, op, n, key);
        if (n != 0) {
            std::memcpy(buf_.data() + at + h, payload, n);
            ws_mask(buf_.data() + at + h, n, key);
        }
        buf_.resize(at + h + n);
    }

    ws_mask_source masks_;
    bytes buf_;
    std::size_t off_ = 0;
    std::size_t frames_ = 0;
    std::uint64_t last_id_ = 0;
    bool has_close_ = false;
    bool pong_owed_ = false;
    bool ping_owed_ = false;
    std::uint16_t close_code_ = 0;
    std::array<std::uint8_t, 125> pong_{};
    std::size_t pong_size_ = 0;
};

} // namespace atomcloud::detail

#endif
