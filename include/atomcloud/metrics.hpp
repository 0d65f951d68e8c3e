// Metrics of the two clients: counters and gauges, read as one snapshot at any time
// (session::metrics(), rest_client::metrics()) or pushed to a callback at an interval
// (session::async_watch_metrics(), rest_client::async_watch_metrics()).
//
//   auto m = s.metrics();
//   std::cout << m.messages_received << " messages, " << m.reconnects << " reconnects\n";
//
//   s.async_watch_metrics(std::chrono::seconds(10),
//                         [](const atomcloud::session_metrics& m) { export_to_prometheus(m); },
//                         asio::bind_cancellation_slot(stop_signal.slot(), asio::detached));
//
// Counters only grow (from 0, when the client is created; they are not reset by stop() or
// a new async_run). Gauges (queue depths, pending events) are the value at the snapshot.
// Keeping them costs a few integer increments per read or write batch of the session and
// per REST request: no allocation, no lock, no atomic.
//
// Thread safety: as the clients. Take a snapshot on the client's executor (or while no
// thread runs it, e.g. between two synchronous REST calls). The push form calls its
// callback there. docs/metrics.md has the same fields as a table.
#ifndef ATOMCLOUD_METRICS_HPP
#define ATOMCLOUD_METRICS_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace atomcloud {

/// The latest failure a client saw.
struct failure_record {
    error_code ec;    ///< what failed; empty: no failure yet
    std::string text; ///< a one-line description (never contains the API token)
    std::chrono::system_clock::time_point time{}; ///< when (wall clock)

    explicit operator bool() const noexcept { return static_cast<bool>(ec); }
};

/// Counters and gauges of a session (session::metrics()).
struct session_metrics {
    /// When the snapshot was taken (for rates between two snapshots).
    std::chrono::steady_clock::time_point taken{};
    bool running = false;   ///< async_run is in progress
    bool connected = false; ///< the link is up

    // ---- the link
    std::uint64_t links_established = 0; ///< WebSocket links opened (upgrade accepted)
    std::uint64_t links_lost = 0;        ///< links that ended other than by stop()
    std::uint64_t failed_attempts = 0;   ///< connection attempts that failed, in all
    /// Reconnections scheduled: each time a lost link or a failed attempt is followed by
    /// a wait and a new attempt (a permanent failure or stop() is not).
    std::uint64_t reconnects = 0;
    /// The latest lost link or failed attempt (not stop()), with its reason.
    failure_record last_failure;

    // ---- traffic
    /// WebSocket data messages received (every Atom Cloud frame: device events and
    /// messages, NB-IoT messages, also dropped and malformed ones).
    std::uint64_t messages_received = 0;
    /// Their payload bytes (the Atom Cloud frames, without the WebSocket framing).
    std::uint64_t bytes_received = 0;
    /// Data frames written (async_send / async_send_nbiot that reached the socket).
    std::uint64_t messages_sent = 0;
    /// Their bytes (the encoded 0x03 / 0x07 frames, without the WebSocket framing).
    std::uint64_t bytes_sent = 0;
    /// Subscribe / unsubscribe frames written (replays after a reconnect included).
    std::uint64_t control_messages_sent = 0;
    /// Device events and messages dropped because the device is not subscribed.
    std::uint64_t dropped_unsubscribed = 0;
    /// Malformed or text messages from the server (each also a protocol_error event), and
    /// WebSocket protocol violations (each ends the link).
    std::uint64_t protocol_errors = 0;

    // ---- gauges
    std::size_t send_queue_depth = 0; ///< sends waiting (including the one being written)
    std::size_t send_queue_bytes = 0; ///< bytes of those (encoded frames)
    std::size_t pending_events = 0;   ///< received, not yet handed to async_receive
    std::size_t pending_bytes = 0;    ///< bytes of those (their Atom Cloud frames)
    std::size_t subscriptions = 0;    ///< devices subscribed
};

/// Percentiles of the latest REST request latencies (a window of the last
/// rest_latency_window requests that got an answer).
struct latency_summary {
    std::size_t samples = 0;         ///< latencies in the window (0: the rest is 0)
    std::chrono::microseconds p50{}; ///< median (nearest rank)
    std::chrono::microseconds p99{}; ///< 99th percentile (nearest rank)
    std::chrono::microseconds max{}; ///< largest in the window
};

/// How many latencies the REST client keeps (a ring of the most recent ones).
inline constexpr std::size_t rest_latency_window = 1024;

/// Counters and gauges of a rest_client (rest_client::metrics()).
struct rest_metrics {
    /// When the snapshot was taken (for rates between two snapshots).
    std::chrono::steady_clock::time_point taken{};

    // ---- requests by outcome (each completed operation counts once, after its retries)
    std::uint64_t requests = 0;          ///< operations completed: the sum of the six below
    std::uint64_t ok = 0;                ///< succeeded
    std::uint64_t api_errors = 0;        ///< the envelope's `code` was not 200 (api_category)
    std::uint64_t http_errors = 0;       ///< HTTP status other than 200 (client_errc::http_status)
    std::uint64_t invalid_responses = 0; ///< invalid_json, missing_envelope, invalid_field,
                                         ///< response_too_large
    /// Network, TLS and time-out errors (also configuration errors found before any I/O).
    std::uint64_t network_errors = 0;
    std::uint64_t cancelled = 0; ///< completed with operation_aborted (cancelled, destroyed)

    // ---- work behind them
    std::uint64_t attempts = 0;           ///< HTTP requests written (retries included)
    std::uint64_t retries = 0;            ///< attempts after a transient failure
    std::uint64_t connections_opened = 0; ///< TLS connections established
    std::uint64_t reconnects = 0;         ///< stale keep-alive connections replaced

    // ---- gauges
    std::size_t in_flight = 0;   ///< operations started, not completed
    std::size_t waiting = 0;     ///< of those, waiting for a connection of the pool
    std::size_t connections = 0; ///< connections open or being opened (idle + busy)

    /// The latest failed operation (not cancelled), with its reason.
    failure_record last_failure;
    /// Start-to-completion time (retries included) of the latest requests that got an HTTP
    /// answer (ok, api, http and invalid-response outcomes; not network errors, which are
    /// mostly time-outs, nor cancellations).
    latency_summary latency;
};

namespace detail {

using metrics_watch_handler = boost::asio::any_completion_handler<void(error_code)>;

/// Calls `tick` every `interval` on `ex` until it returns false (the client is gone) or
/// the handler's cancellation slot is emitted; then completes with operation_aborted.
/// An interval of zero or less completes at once with invalid_argument.
ATOMCLOUD_DECL void watch_metrics(boost::asio::any_io_executor ex,
                                  std::chrono::steady_clock::duration interval,
                                  std::function<bool()> tick, metrics_watch_handler handler);

struct initiate_watch_metrics {
    using executor_type = boost::asio::any_io_executor;
    executor_type ex;
    executor_type get_executor() const noexcept { return ex; }

    template <class Handler>
    void operator()(Handler&& h, std::chrono::steady_clock::duration interval,
                    std::function<bool()> tick) const {
        watch_metrics(ex, interval, std::move(tick),
                      metrics_watch_handler(std::forward<Handler>(h)));
    }
};

} // namespace detail

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/metrics.ipp>
#endif

#endif
