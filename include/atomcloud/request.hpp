// Request / reply over a session: send a command to a device, complete with its answer.
//
//   atomcloud::requester req(s);                              // s: a running session
//   // the application's receive loop feeds every event to the requester first:
//   for (const auto& ev : co_await s.async_receive())
//       if (!req.on_event(ev))                                // a reply: consumed
//           handle(ev);                                       // everything else as before
//   // elsewhere, on the same executor:
//   atomcloud::bytes answer = co_await req.async_request(dev, atomcloud::as_bytes("AT+CSQ"),
//                                                        {.timeout = 3s});
//
// Why the application feeds the events (instead of the requester calling async_receive):
// a session has one receiver, and the application keeps it. Its loop stays exactly as it
// was; replies simply do not reach it, every other event does (also messages of a device
// with a request outstanding that do not match the request's predicate).
//
// Thread safety: a requester is not thread-safe; use it on the session's executor only,
// like the session. The session must outlive the requester and must not be moved while
// the requester exists.
#ifndef ATOMCLOUD_REQUEST_HPP
#define ATOMCLOUD_REQUEST_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/device_id.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/events.hpp>
#include <atomcloud/session.hpp>
#include <atomcloud/stream.hpp>
#include <atomcloud/with_diagnostics.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace atomcloud {

/// How requests to the same device are handled.
enum class request_ordering {
    /// One at a time per device: a request is sent only after the previous one to that
    /// device completed (answered, timed out, failed or cancelled). The default: a DTU
    /// usually cannot tell which command an answer belongs to.
    serialise,
    /// Sent at once; a message of the device answers the oldest outstanding request whose
    /// predicate it matches (first match wins; each message answers at most one request).
    concurrent,
};

/// Options of a requester (plain values with defaults).
struct requester_options {
    request_ordering ordering = request_ordering::serialise;
    /// Subscribe the session to a DTU / WIFI device before each request to it (its answer
    /// reaches the session only when subscribed; nothing is sent when it already is). The
    /// subscription stays. NB-IoT messages
    /// reach every session: nothing to subscribe.
    bool subscribe = true;
    /// Heartbeats ("ALIENTEK-HRTDT") never answer a request (they pass through).
    bool skip_heartbeats = true;
    /// Fail requests already sent with client_errc::link_lost when the session reports
    /// session_disconnected (their answer, if any, was lost with the link). Requests still
    /// waiting in the session's send queue keep waiting.
    bool fail_on_link_loss = true;
    /// The timeout of requests that give none.
    std::chrono::milliseconds default_timeout{std::chrono::seconds(5)};
};

/// Tells whether a message answers a request. Called on the executor, with the
/// message's payload; must not throw.
using reply_predicate = std::function<bool(bytes_view payload)>;

/// Per request: how long to wait for the answer and what counts as one.
struct request_params {
    /// From the moment the request is handed to the session (after the requests queued
    /// before it, in serialise mode) to the answer; zero: requester_options::default_timeout.
    std::chrono::milliseconds timeout{0};
    /// Empty: the device's first message (heartbeats excepted, see skip_heartbeats).
    reply_predicate match;
};

namespace detail {

/// The socket-free bookkeeping of a requester: which requests are outstanding, which may
/// be sent, which one a message answers. Ids are the caller's (non-zero, unique).
class request_book {
public:
    using id_type = std::uint64_t;

    request_book(request_ordering ordering, bool skip_heartbeats) noexcept
        : ordering_(ordering), skip_heartbeats_(skip_heartbeats) {}

    /// Adds a request; returns true if it may be sent now (it is then active).
    ATOMCLOUD_DECL bool add(id_type id, const stream_device& target, reply_predicate match);
    /// The active request's payload was written to the link.
    ATOMCLOUD_DECL void mark_sent(id_type id) noexcept;

    struct outcome {
        id_type answered = 0;   ///< the request the message answers (removed); 0: none
        id_type start_next = 0; ///< a request that became active (send it); 0: none
    };
    /// A message of `from`: the oldest active request of that device it matches.
    ATOMCLOUD_DECL outcome match(const stream_device& from, bytes_view payload);
    /// Removes a request (timed out, failed, cancelled); returns the request that became
    /// active in its place, or 0.
    ATOMCLOUD_DECL id_type remove(id_type id);
    /// The active requests already written (their answers are lost with the link).
    ATOMCLOUD_DECL std::vector<id_type> sent() const;
    /// Every request, oldest first.
    ATOMCLOUD_DECL std::vector<id_type> all() const;
    ATOMCLOUD_DECL bool active(id_type id) const noexcept;
    bool contains(id_type id) const noexcept { return find(id) != entries_.size(); }
    std::size_t size() const noexcept { return entries_.size(); }

private:
    enum class phase { queued, sending, sent };
    struct entry {
        id_type id;
        stream_device target;
        reply_predicate match;
        phase state;
    };
    ATOMCLOUD_DECL std::size_t find(id_type id) const noexcept;

    request_ordering ordering_;
    bool skip_heartbeats_;
    std::vector<entry> entries_; // oldest first
};

class requester_impl;
using reply_handler = boost::asio::any_completion_handler<void(error_code, bytes)>;

ATOMCLOUD_DECL std::shared_ptr<requester_impl> make_requester_impl(session& s,
                                                                   const requester_options& opts);
ATOMCLOUD_DECL void requester_shutdown(requester_impl& impl) noexcept;
ATOMCLOUD_DECL void requester_cancel_all(requester_impl& impl);
ATOMCLOUD_DECL bool requester_on_event(requester_impl& impl, const event& ev);
ATOMCLOUD_DECL std::size_t requester_pending(const requester_impl& impl) noexcept;
ATOMCLOUD_DECL void requester_start(const std::shared_ptr<requester_impl>& impl,
                                    const stream_device& target, bytes payload,
                                    request_params params, reply_handler handler);

struct initiate_request {
    std::shared_ptr<requester_impl> impl;
    boost::asio::any_io_executor ex;
    using executor_type = boost::asio::any_io_executor;
    executor_type get_executor() const noexcept { return ex; }

    template <class Handler>
    void operator()(Handler&& h, const stream_device& target, bytes payload,
                    request_params params) const {
        requester_start(impl, target, std::move(payload), std::move(params),
                        reply_handler(std::forward<Handler>(h)));
    }
};

} // namespace detail

/// Sends requests to devices over a session and completes each with its device's answer.
/// See the file comment for the receive-loop pattern and thread safety.
class requester {
public:
    /// A requester for `s` (which must outlive it, and not be moved meanwhile).
    explicit requester(session& s, const requester_options& opts = {})
        : ex_(s.get_executor()), impl_(detail::make_requester_impl(s, opts)) {}
    /// Outstanding requests complete with operation_aborted.
    ~requester() {
        if (impl_)
            detail::requester_shutdown(*impl_);
    }
    requester(const requester&) = delete;
    requester& operator=(const requester&) = delete;

    /// Feed every event the session delivers, in order. Returns true if the event answered
    /// a request (the request completes with a copy of its payload; do not handle the
    /// event again), false for everything else. A session_disconnected fails the requests
    /// already sent (see requester_options::fail_on_link_loss) and returns false.
    bool on_event(const event& ev) { return detail::requester_on_event(*impl_, ev); }

    /// Sends `payload` (copied) to a DTU / WIFI device and waits for its answer.
    ///
    /// Serialise mode: the request waits for the device's previous requests first. Then the
    /// session is subscribed to the device (requester_options::subscribe), the payload
    /// handed to session::async_send and the timeout started; from then on the device's
    /// first message that matches params.match answers it (also one arriving before the
    /// send completed).
    ///
    /// Completes with (error_code, bytes): the answer's payload; or
    /// client_errc::reply_timeout; client_errc::link_lost (see fail_on_link_loss); the
    /// send's error (send_queue_full, not_connected, session_stopped ...);
    /// operation_aborted (cancelled, cancel_all(), or the requester destroyed).
    ///
    /// Thread safety: the session's executor only.
    /// Cancellation: terminal, partial and total, at any time (a request not yet sent is
    /// never sent; a sent one's answer, arriving later, passes through on_event).
    /// Signature: void(error_code, bytes).
    template <class CompletionToken = default_completion_token_t>
    auto async_request(const device_number& device, bytes_view payload, request_params params = {},
                       CompletionToken&& token = CompletionToken{}) {
        return start(stream_device(device), payload, std::move(params),
                     std::forward<CompletionToken>(token));
    }

    /// The same for an NB-IoT device (frame 0x07; answers are its nbiot_message events).
    template <class CompletionToken = default_completion_token_t>
    auto async_request(const nbiot_id& device, bytes_view payload, request_params params = {},
                       CompletionToken&& token = CompletionToken{}) {
        return start(stream_device(device), payload, std::move(params),
                     std::forward<CompletionToken>(token));
    }

    /// Completes every outstanding request with operation_aborted.
    void cancel_all() { detail::requester_cancel_all(*impl_); }

    /// Requests outstanding (queued or waiting for their answer).
    std::size_t pending() const noexcept { return detail::requester_pending(*impl_); }

private:
    template <class CompletionToken>
    auto start(const stream_device& target, bytes_view payload, request_params params,
               CompletionToken&& token) {
        return detail::initiate_operation<void(error_code, bytes)>(
            detail::initiate_request{impl_, ex_}, std::forward<CompletionToken>(token), target,
            bytes(payload.begin(), payload.end()), std::move(params));
    }

    boost::asio::any_io_executor ex_;
    std::shared_ptr<detail::requester_impl> impl_;
};

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/request.ipp>
#endif

#endif
