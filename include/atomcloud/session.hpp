// The WebSocket session: one long-lived, self-healing connection to an organisation.
//
//   atomcloud::session s(io.get_executor(), cfg, org_id);
//   co_spawn(io, s.async_run(), detached);            // connects, and reconnects, until stop()
//   co_await s.async_subscribe(atomcloud::device_number("18846494908532689575"));
//   for (;;) {
//       auto batch = co_await s.async_receive();      // every pending event, decoded
//       for (const auto& ev : batch) ...
//   }
//
// Modelled on Boost.Redis's connection: async_run() owns the link (connect, replay the
// subscriptions, read, write, health checks, back off and reconnect), the other
// operations talk to it. Beast and OpenSSL stay out of this header (the work is done in
// a compiled implementation behind a pointer).
//
// Thread safety (every member): a session is not thread-safe. Call its members, and
// launch its operations, from its executor only (use a strand if the io_context runs on
// several threads). Completion handlers run on their associated executors.
#ifndef ATOMCLOUD_SESSION_HPP
#define ATOMCLOUD_SESSION_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/config.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/device_id.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/events.hpp>
#include <atomcloud/frame.hpp>
#include <atomcloud/metrics.hpp>
#include <atomcloud/with_diagnostics.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/core/span.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace atomcloud {

/// A snapshot of a session's state, for tests and monitoring.
struct session_status {
    bool running = false;            ///< async_run is in progress
    bool connected = false;          ///< the link is up
    std::size_t connections = 0;     ///< links established since the session was created
    unsigned failed_attempts = 0;    ///< connection attempts failed since the last working link
    std::size_t subscriptions = 0;   ///< devices remembered
    std::size_t queued_messages = 0; ///< sends waiting (including the one being written)
    std::size_t queued_bytes = 0;    ///< bytes of those (encoded frames)
    std::size_t pending_events = 0;  ///< received, not yet handed to async_receive
    std::size_t pending_bytes = 0;   ///< message bytes of those
    bool reading_paused = false;     ///< backpressure: the pending limits are reached
    /// Device events and messages dropped because the device is not subscribed.
    std::size_t dropped_unsubscribed = 0;
};

namespace detail {

class session_impl;

using void_handler = boost::asio::any_completion_handler<void(error_code)>;
using receive_handler = boost::asio::any_completion_handler<void(error_code, event_batch)>;

ATOMCLOUD_DECL std::shared_ptr<session_impl>
make_session_impl(boost::asio::any_io_executor ex, const config& cfg, std::int64_t org_id);
ATOMCLOUD_DECL void session_shutdown(session_impl& impl) noexcept;
ATOMCLOUD_DECL void session_stop(session_impl& impl);
ATOMCLOUD_DECL void session_run(const std::shared_ptr<session_impl>& impl, diagnostics* diag,
                                void_handler handler);
ATOMCLOUD_DECL void session_subscriptions(const std::shared_ptr<session_impl>& impl,
                                          std::vector<device_number> devices, bool subscribe,
                                          void_handler handler);
ATOMCLOUD_DECL void session_send(const std::shared_ptr<session_impl>& impl, const frame& f,
                                 void_handler handler);
ATOMCLOUD_DECL void session_receive(const std::shared_ptr<session_impl>& impl,
                                    receive_handler handler);
ATOMCLOUD_DECL void session_recycle(session_impl& impl, event_batch&& batch) noexcept;

ATOMCLOUD_DECL session_status session_get_status(const session_impl& impl) noexcept;
ATOMCLOUD_DECL session_metrics session_get_metrics(const session_impl& impl);
ATOMCLOUD_DECL bool session_is_shut_down(const session_impl& impl) noexcept;

// The initiations of the session's operations. They expose the session's executor, as
// Asio's own initiations do, so that adapters such as cancel_after run their timers there.
struct session_initiation {
    using executor_type = boost::asio::any_io_executor;
    std::shared_ptr<session_impl> impl;
    executor_type ex;
    executor_type get_executor() const noexcept { return ex; }
};

struct initiate_run : session_initiation {
    template <class Handler>
    void operator()(Handler&& h, diagnostics* diag) const {
        session_run(impl, diag, void_handler(std::forward<Handler>(h)));
    }
};

struct initiate_subscriptions : session_initiation {
    template <class Handler>
    void operator()(Handler&& h, std::vector<device_number> devices, bool subscribe) const {
        session_subscriptions(impl, std::move(devices), subscribe,
                              void_handler(std::forward<Handler>(h)));
    }
};

struct initiate_send : session_initiation {
    template <class Handler>
    void operator()(Handler&& h, const frame& f) const {
        session_send(impl, f, void_handler(std::forward<Handler>(h)));
    }
};

struct initiate_receive : session_initiation {
    template <class Handler>
    void operator()(Handler&& h) const {
        session_receive(impl, receive_handler(std::forward<Handler>(h)));
    }
};

} // namespace detail

/// A WebSocket session with Atom Cloud for one organisation: subscribe to devices, receive
/// their events and messages, send them data; stays connected on its own.
///
/// The link goes to `wss://HOST[:PORT]PREFIX/connection/TOKEN/org/ORG_ID?token=GUID`
/// (host, port, prefix and token from the config; a fresh random GUID per connection), over
/// TLS with certificate and host-name verification (unless config.tls.verify is false) and
/// SNI. The API token is in the URL path: it is never written to a log or an error text.
///
/// See the file comment for thread safety. Operations take any completion token
/// (callbacks, use_awaitable, use_future, deferred, as_tuple ...); without one they return
/// a deferred operation (co_await it, or launch it with a token).
class session {
public:
    using executor_type = boost::asio::any_io_executor;

    /// A session using `ex` for all its work, with `cfg` (copied) for organisation
    /// `org_id`. Does no I/O: nothing happens until async_run(). Invalid options are
    /// reported by async_run.
    session(executor_type ex, const config& cfg, std::int64_t org_id)
        : ex_(std::move(ex)), impl_(detail::make_session_impl(ex_, cfg, org_id)) {}

    /// Closes the link at once (no close handshake). Operations still in progress complete
    /// with boost::asio::error::operation_aborted.
    ~session() {
        if (impl_)
            detail::session_shutdown(*impl_);
    }

    session(const session&) = delete;
    session& operator=(const session&) = delete;
    /// A moved-from session may only be destroyed or assigned to.
    session(session&& other) noexcept = default;
    session& operator=(session&& other) noexcept {
        if (this != &other) {
            if (impl_)
                detail::session_shutdown(*impl_);
            impl_ = std::move(other.impl_);
            ex_ = std::move(other.ex_);
        }
        return *this;
    }

    executor_type get_executor() const noexcept { return ex_; }

    /// Runs the session until stop(), cancellation or a permanent failure: connects,
    /// replays the subscriptions, delivers events and writes queued messages; when the link
    /// fails it reports session_disconnected, waits and connects again.
    ///
    /// Policies (all decided in one socket-free machine, detail/session_fsm.hpp):
    ///  - Each step of a connection has its own limit (config.timeouts: resolve, connect,
    ///    tls_handshake, websocket_handshake).
    ///  - Failures are classified once. Permanent ones end async_run at once: a 4xx answer
    ///    to the upgrade other than 408/429 (bad token, unknown organisation ...), a server
    ///    certificate that fails verification (unless
    ///    config.session.retry_tls_failures), an invalid configuration. Everything else
    ///    (DNS, refused or reset connections, other TLS errors, 5xx/408/429 answers, a dead
    ///    link, the server's close frame, WebSocket protocol errors) is retried for ever.
    ///  - Between attempts: config.session.reconnect (exponential backoff with jitter).
    ///    The schedule starts over only after a healthy link: one that was up for
    ///    config.session.healthy_after or delivered a device's frame. A server that drops every
    ///    link at once sees attempts spaced by the growing delay.
    ///  - Health: after config.session.idle_timeout / 2 of silence a WebSocket ping
    ///    (config.session.health); after idle_timeout of silence the link is dead.
    ///  - Backpressure: while the pending events are at their limits reading stops (see
    ///    async_receive), there is no health verdict, and a lost link is not reconnected
    ///    until the application receives again.
    ///
    /// Completes with:
    ///  - client_errc::session_stopped after stop();
    ///  - boost::asio::error::operation_aborted after cancellation, or when the session
    ///    is destroyed;
    ///  - client_errc::handshake_rejected: the server refused the upgrade with a 4xx
    ///    status; the diagnostics overload reports the HTTP status, the envelope's code and
    ///    the server's message;
    ///  - client_errc::certificate_rejected: the server's certificate failed verification;
    ///    the diagnostics' client_message() says why (e.g. "TLS certificate rejected:
    ///    certificate has expired", "... hostname mismatch");
    ///  - client_errc::invalid_config (empty token, bad nbiot_id_width),
    ///    client_errc::invalid_base_url, or a TLS error (e.g. an unreadable CA file)
    ///    before any connection is attempted;
    ///  - boost::asio::error::already_started if the session is already running.
    /// Every attempt and its failure is logged. After completion the session can be run
    /// again.
    ///
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    /// Cancellation: terminal (stops the session as stop() does, but completes with
    /// operation_aborted; while a close handshake is in progress, closes at once).
    /// Signature: void(error_code).
    template <class CompletionToken = default_completion_token_t>
    auto async_run(CompletionToken&& token = CompletionToken{}) {
        return start_run(nullptr, std::forward<CompletionToken>(token));
    }

    /// As async_run(token); on handshake_rejected (and configuration errors) `diag` tells
    /// what the server answered (http_status(), api_code(), server_message()). `diag`
    /// must outlive the operation.
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    template <class CompletionToken = default_completion_token_t>
    auto async_run(diagnostics& diag, CompletionToken&& token = CompletionToken{}) {
        return start_run(&diag, std::forward<CompletionToken>(token));
    }

    /// Stops the session: async_run completes (with client_errc::session_stopped) once the
    /// link is closed. When the link is up, a close frame is sent and the server's answer
    /// awaited for at most config.session.close_timeout (1 s by default); a second stop()
    /// (or a cancellation of async_run) closes at once. A connection attempt in progress
    /// is abandoned. Queued sends complete with session_stopped; async_receive hands over
    /// the events still pending (the last one is session_disconnected if the link was up),
    /// then completes with session_stopped. Subscriptions are kept. Does nothing if the
    /// session is not running (except that a session never run is marked stopped). Never
    /// blocks.
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    void stop() {
        if (impl_)
            detail::session_stop(*impl_);
    }

    /// Subscribes to one device: the session receives its connect / disconnect events and
    /// its messages. Remembered, and replayed after every reconnect; subscribing twice is
    /// harmless (nothing is sent). Completes when the subscribe frame is written, or at
    /// once when the link is down (it will be replayed) or nothing needed sending. Never
    /// fails on a running or idle session. Cancellation: none (it completes quickly).
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    /// Signature: void(error_code).
    template <class CompletionToken = default_completion_token_t>
    auto async_subscribe(const device_number& device, CompletionToken&& token = CompletionToken{}) {
        return start_subscriptions(std::vector<device_number>{device}, true,
                                   std::forward<CompletionToken>(token));
    }

    /// Subscribes to several devices (the list is copied; the frames are written one after
    /// the other). Completes when the last one is written. As async_subscribe(device).
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    template <class CompletionToken = default_completion_token_t>
    auto async_subscribe(boost::span<const device_number> devices,
                         CompletionToken&& token = CompletionToken{}) {
        return start_subscriptions(std::vector<device_number>(devices.begin(), devices.end()), true,
                                   std::forward<CompletionToken>(token));
    }

    /// Unsubscribes from a device: forgotten at once (no more replay); the unsubscribe
    /// frame is sent when the link is up. Unsubscribing a device that is not subscribed
    /// sends nothing. Completion and cancellation as async_subscribe.
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    template <class CompletionToken = default_completion_token_t>
    auto async_unsubscribe(const device_number& device,
                           CompletionToken&& token = CompletionToken{}) {
        return start_subscriptions(std::vector<device_number>{device}, false,
                                   std::forward<CompletionToken>(token));
    }

    /// Unsubscribes from several devices. As async_unsubscribe(device).
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    template <class CompletionToken = default_completion_token_t>
    auto async_unsubscribe(boost::span<const device_number> devices,
                           CompletionToken&& token = CompletionToken{}) {
        return start_subscriptions(std::vector<device_number>(devices.begin(), devices.end()),
                                   false, std::forward<CompletionToken>(token));
    }

    /// Sends `payload` to a DTU / WIFI device (frame 0x03). The frame is encoded into the
    /// write queue when the operation starts (the payload is copied once and need not
    /// outlive the start; with `deferred`, the start is when the operation is launched).
    /// Completes when the frame has been written to the link.
    ///
    /// While the link is down: with send_policy::queue (the default) the message waits for
    /// the next link; with send_policy::fail it completes at once with
    /// client_errc::not_connected, and messages still queued when a link is lost complete
    /// with client_errc::link_lost. A session never run queues too (or fails, per policy).
    ///
    /// Errors: client_errc::send_queue_full (config.session.max_queued_messages /
    /// max_queued_bytes reached), client_errc::message_too_large (the frame alone exceeds
    /// max_queued_bytes), not_connected, link_lost, session_stopped (the session is
    /// stopped, or was stopped while the message waited), operation_aborted (cancelled, or
    /// the session destroyed). A write that fails part-way completes with the link's
    /// error: the device may or may not have received the message (at most once; the
    /// message is not retried).
    ///
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    /// Cancellation: terminal, partial and total while the message waits in the queue
    /// (it is removed; completes with operation_aborted); ignored once its write started.
    /// Signature: void(error_code).
    template <class CompletionToken = default_completion_token_t>
    auto async_send(const device_number& device, bytes_view payload,
                    CompletionToken&& token = CompletionToken{}) {
        return start_send(send_frame{device, payload}, std::forward<CompletionToken>(token));
    }

    /// Sends `payload` to an NB-IoT device (frame 0x07; the id is NUL-padded to 37 bytes).
    /// As async_send (errors, cancellation).
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    template <class CompletionToken = default_completion_token_t>
    auto async_send_nbiot(const nbiot_id& device, bytes_view payload,
                          CompletionToken&& token = CompletionToken{}) {
        return start_send(nbiot_send_frame{device, payload}, std::forward<CompletionToken>(token));
    }

    /// Hands over every event received since the previous call, decoded, in one batch
    /// (waits until there is at least one). Events: device_connected, device_disconnected,
    /// device_message (only of subscribed devices: frames of other devices are dropped and
    /// counted in status().dropped_unsubscribed), nbiot_message (NB-IoT messages of the
    /// whole organisation: they cannot be subscribed to), session_connected /
    /// session_disconnected (the link's state: between the two, device messages are
    /// missed), protocol_error (a malformed or text message from the server; reported,
    /// then ignored). Everything one read brings (up to 256 KiB) is decoded in one pass
    /// and handed over as one batch.
    ///
    /// Backpressure: the session holds at most config.session.max_pending_events events
    /// and max_pending_bytes bytes of messages (plus what one read brings, and the message
    /// being received, up to max_message_size) for the application. At those limits it stops
    /// reading from the socket until the application receives: nothing is dropped, and the server
    /// sees TCP backpressure. While reading is paused there are no idle checks; a server may
    /// disconnect a consumer that does not read, which the session reports
    /// (session_disconnected) and heals once the application receives again.
    ///
    /// Once the session is stopped (stop(), a rejected handshake ...), the events still
    /// pending are handed over, then it completes with client_errc::session_stopped.
    /// Only one async_receive may be outstanding (another completes with
    /// boost::asio::error::already_started).
    ///
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    /// Cancellation: terminal, partial and total (completes with operation_aborted and an
    /// empty batch; no event is lost). Signature: void(error_code, event_batch).
    template <class CompletionToken = default_completion_token_t>
    auto async_receive(CompletionToken&& token = CompletionToken{}) {
        return detail::initiate_operation<void(error_code, event_batch)>(
            detail::initiate_receive{{impl_, ex_}}, std::forward<CompletionToken>(token));
    }

    /// Gives the storage of a batch the application has finished with back to the
    /// session, so later batches reuse it instead of allocating. Optional. Views into
    /// `batch` must not be used afterwards.
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    void recycle(event_batch&& batch) noexcept {
        if (impl_)
            detail::session_recycle(*impl_, std::move(batch));
    }

    /// The session's state right now (for tests and monitoring).
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    session_status status() const noexcept {
        return impl_ ? detail::session_get_status(*impl_) : session_status{};
    }

    /// A snapshot of the session's counters and gauges (see atomcloud/metrics.hpp and
    /// docs/metrics.md). Cheap: copies a few integers (and the last failure's text).
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    session_metrics metrics() const {
        return impl_ ? detail::session_get_metrics(*impl_) : session_metrics{};
    }

    /// Calls `callback(const session_metrics&)` every `interval` (the first time one
    /// interval after the start), on the session's executor, until cancelled; independent
    /// of async_run (it also reports a session that is not running). The callback is copied
    /// (it must be copyable) and must not throw. A tick that comes late does not make the
    /// next ones early.
    ///
    /// Completes with operation_aborted when cancelled (terminal, partial or total: the
    /// callback is not called again once the cancellation is processed) or, at the next
    /// tick, when the session has been destroyed; with boost::asio::error::invalid_argument
    /// at once if `interval` is not positive. Never completes otherwise.
    /// Thread safety: call from the session's executor only (the session is not thread-safe).
    /// Signature: void(error_code).
    template <class Rep, class Period, class Callback,
              class CompletionToken = default_completion_token_t>
    auto async_watch_metrics(std::chrono::duration<Rep, Period> interval, Callback callback,
                             CompletionToken&& token = CompletionToken{}) {
        std::weak_ptr<detail::session_impl> weak = impl_;
        std::function<bool()> tick = [weak, cb = std::move(callback)]() mutable {
            auto impl = weak.lock();
            if (!impl || detail::session_is_shut_down(*impl))
                return false;
            cb(detail::session_get_metrics(*impl));
            return true;
        };
        return detail::initiate_operation<void(error_code)>(
            detail::initiate_watch_metrics{ex_}, std::forward<CompletionToken>(token),
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval),
            std::move(tick));
    }

private:
    template <class CompletionToken>
    auto start_run(diagnostics* diag, CompletionToken&& token) {
        return detail::initiate_operation<void(error_code)>(
            detail::initiate_run{{impl_, ex_}}, std::forward<CompletionToken>(token), diag);
    }

    template <class CompletionToken>
    auto start_subscriptions(std::vector<device_number> devices, bool subscribe,
                             CompletionToken&& token) {
        return detail::initiate_operation<void(error_code)>(
            detail::initiate_subscriptions{{impl_, ex_}}, std::forward<CompletionToken>(token),
            std::move(devices), subscribe);
    }

    template <class CompletionToken>
    auto start_send(frame f, CompletionToken&& token) {
        return detail::initiate_operation<void(error_code)>(detail::initiate_send{{impl_, ex_}},
                                                            std::forward<CompletionToken>(token),
                                                            std::move(f));
    }

    executor_type ex_;
    std::shared_ptr<detail::session_impl> impl_;
};

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/session.ipp>
#endif

#endif
