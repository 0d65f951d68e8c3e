// What a session receives: typed events, handed to the application in batches.
//
//   auto batch = co_await s.async_receive();
//   for (const atomcloud::event& ev : batch) {
//       if (auto* m = std::get_if<atomcloud::device_message>(&ev))
//           handle(m->device, m->payload);          // payload views the batch's storage
//       else if (std::holds_alternative<atomcloud::session_disconnected>(ev))
//           note_gap();                             // messages may have been missed
//   }
//
// Events are small values; the payloads of message events are views into storage the
// batch owns, so a batch is handed over by move without copying any payload. Keep the
// batch alive as long as you use its payloads, or copy a payload out with
// `atomcloud::bytes(p.begin(), p.end())`.
#ifndef ATOMCLOUD_EVENTS_HPP
#define ATOMCLOUD_EVENTS_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/device_id.hpp>
#include <atomcloud/error.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace atomcloud {

/// A DTU / WIFI device connected to the cloud (frame 0x04; only for subscribed devices).
struct device_connected {
    device_number device;
};

/// A DTU / WIFI device disconnected from the cloud (frame 0x05; only for subscribed devices).
struct device_disconnected {
    device_number device;
};

/// Data a DTU / WIFI device sent (frame 0x06; only for subscribed devices). The payload is
/// raw bytes (often GBK text; see gbk_to_utf8) and views the batch's storage.
struct device_message {
    device_number device;
    bytes_view payload;
};

/// Data an NB-IoT device sent (frame 0x08; every session of the organisation receives
/// these). The payload views the batch's storage.
struct nbiot_message {
    nbiot_id device;
    bytes_view payload;
};

/// The session's link is up: the WebSocket handshake succeeded and every remembered
/// subscription has been replayed (written, ahead of any queued message). Messages that
/// subscribed devices send from now on reach this session once the cloud has read the
/// replay (the protocol has no acknowledgement).
struct session_connected {};

/// The session's link went down. Messages sent by devices from now until the next
/// session_connected are not delivered to this session: fetch them from the history API if
/// they matter. The session reconnects on its own unless it was stopped.
struct session_disconnected {
    /// Why: the link error (e.g. beast timeout when the server went silent, eof or
    /// websocket "closed" when the server closed it, client_errc::message_too_large), or
    /// client_errc::session_stopped after stop() / operation_aborted after cancellation.
    error_code reason;
};

/// The server sent something the protocol does not allow: a malformed binary frame
/// (unknown type, wrong direction, truncated or invalid device id, unexpected payload,
/// empty message) or a text message. The message is reported here, dropped otherwise,
/// and the session stays up.
struct protocol_error {
    /// What was wrong: a frame error from decode_frame() (client_errc::unknown_frame_type
    /// ...), or client_errc::unexpected_text_frame.
    error_code ec;
    /// The offending message, as received (views the batch's storage).
    bytes_view message;
};

/// Anything a session delivers.
using event = std::variant<device_connected, device_disconnected, device_message, nbiot_message,
                           session_connected, session_disconnected, protocol_error>;

/// One line describing an event, for logs and diagnostics, e.g.
/// "device_message 18846494908532689575 (14 bytes)". Payload bytes are not included.
ATOMCLOUD_DECL std::string to_string(const event& ev);

namespace detail {
struct arena_block;
class event_arena;
struct event_batch_access;
} // namespace detail

/// The events received since the previous async_receive, oldest first, together with the
/// storage their payloads view.
///
/// A batch is a regular value: moving it moves the events and the storage (the payload
/// views stay valid); copying it shares the storage. Destroying the last batch that
/// refers to some storage frees it; session::recycle() gives it back to the session
/// instead, so that later batches reuse it.
///
/// Thread safety: distinct objects are independent, even when they share storage.
class event_batch {
public:
    using value_type = event;
    using size_type = std::size_t;
    using const_iterator = std::vector<event>::const_iterator;
    using iterator = const_iterator;
    using const_reference = const event&;
    using reference = const event&;

    event_batch() = default;

    /// The events, oldest first.
    const_iterator begin() const noexcept { return events_.begin(); }
    const_iterator end() const noexcept { return events_.end(); }
    const event& operator[](size_type i) const noexcept { return events_[i]; }
    const event& front() const noexcept { return events_.front(); }
    const event& back() const noexcept { return events_.back(); }
    size_type size() const noexcept { return events_.size(); }
    bool empty() const noexcept { return events_.empty(); }

    /// Bytes of the received messages the events view (what the session counts against
    /// config.session.max_pending_bytes).
    std::size_t message_bytes() const noexcept { return message_bytes_; }

    /// Drops every event and releases the storage; keeps the capacity of the event list.
    void clear() noexcept {
        events_.clear();
        storage_.clear();
        message_bytes_ = 0;
    }

private:
    friend class detail::event_arena;
    friend struct detail::event_batch_access;

    std::vector<event> events_;
    // The blocks the payload views point into, each once (consecutive events share one).
    std::vector<std::shared_ptr<detail::arena_block>> storage_;
    std::size_t message_bytes_ = 0;
};

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/events.ipp>
#endif

#endif
