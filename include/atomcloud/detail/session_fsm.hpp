// The session's lifecycle as a machine without sockets, timers or executors: every decision
// of the WebSocket session is made here and only here. Internal.
//
// The driver (impl/session.ipp) feeds it events with the current time (a step of the
// connection finished, bytes arrived, a ping or close frame came in, a write finished, the
// timer fired, the application received, stop() was called ...) and executes the actions
// it returns (start the next step, read, write a ping, pong or close frame, close the link,
// tell the application, complete async_run ...). It owns one timer, armed at wake_at().
//
// Policies decided here:
//  - connecting: resolve, TCP connect, TLS handshake and WebSocket upgrade, each with its
//    own time limit;
//  - failures are classified once (classify_failure): permanent ones (a 4xx upgrade
//    answer, a certificate that fails verification unless retry_tls_failures) end
//    async_run; transient ones (DNS, refused, reset, 5xx/408/429, dead link, close frames,
//    protocol errors) are retried after the backoff;
//  - the backoff starts over only after a link was healthy: up for healthy_after, or it
//    delivered a device frame;
//  - health: after idle_timeout / 2 of silence a ping (health_check::ping), after
//    idle_timeout of silence the link is dead; no verdict while reading is paused;
//  - stop: a close frame, then at most close_timeout for the server's answer; a second
//    stop (or a cancellation) closes at once; stopping while connecting abandons the step;
//  - the server's close frame is answered, then the link is closed; a protocol error is
//    answered with a close frame carrying its code;
//  - the subscriptions are replayed first on every link, and session_connected is
//    announced once the replay is written;
//  - backpressure: reading pauses while the pending events are at their limits, and no
//    connection is attempted until the application received;
//  - an idle link gives its read buffer back after idle_trim_after of silence.
#ifndef ATOMCLOUD_DETAIL_SESSION_FSM_HPP
#define ATOMCLOUD_DETAIL_SESSION_FSM_HPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/backoff.hpp>
#include <atomcloud/detail/proxy.hpp>
#include <atomcloud/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace atomcloud::detail {

using session_clock = std::chrono::steady_clock;
using session_time = session_clock::time_point;

/// The steps of a connection attempt, in order.
enum class connect_stage : std::uint8_t { resolve, connect, tls_handshake, upgrade };

inline const char* to_string(connect_stage s) noexcept {
    switch (s) {
    case connect_stage::resolve:
        return "resolve";
    case connect_stage::connect:
        return "TCP connect";
    case connect_stage::tls_handshake:
        return "TLS handshake";
    case connect_stage::upgrade:
        return "WebSocket upgrade";
    }
    return "unknown";
}

/// Where the session is.
enum class session_phase : std::uint8_t {
    idle,          ///< not running
    waiting_drain, ///< running; the pending events are at their limits: no connection yet
    connecting,    ///< a step of a connection attempt is in progress (stage())
    open,          ///< the link is up
    closing,       ///< a close frame is (being) sent; waiting for the answer or the deadline
    closed,        ///< the link's socket is being closed; waiting for its I/O to end
    backing_off,   ///< waiting before the next attempt
};

/// Whether a failure ends async_run or is retried.
enum class failure_class : std::uint8_t { transient, permanent };

/// The classification of a failed connection step. `http_status` is the upgrade's answer,
/// or the proxy's to CONNECT (0 when there was none).
inline failure_class classify_failure(connect_stage stage, const error_code& ec, int http_status,
                                      bool retry_tls_failures) noexcept {
    if (stage == connect_stage::upgrade && http_status >= 400 && http_status < 500 &&
        http_status != 408 && http_status != 429)
        return failure_class::permanent;
    if (ec == client_errc::certificate_rejected && !retry_tls_failures)
        return failure_class::permanent;
    if (ec == client_errc::proxy_rejected) // 407, 403 ... stay; 502, 503, 504 may pass
        return proxy_status_is_transient(http_status) ? failure_class::transient
                                                      : failure_class::permanent;
    if (ec == client_errc::invalid_config || ec == client_errc::invalid_base_url)
        return failure_class::permanent;
    return failure_class::transient;
}

/// What the driver does after an event, in this order.
struct session_actions {
    enum bit : std::uint32_t {
        start_stage = 1u << 0,   ///< start stage (resolve starts a new connection)
        cancel_stage = 1u << 1,  ///< abandon the step in progress; it completes with an error
        announce_down = 1u << 2, ///< deliver session_disconnected{reason}
        fail_sends = 1u << 3,    ///< queued data sends complete with client_errc::link_lost
        complete_run = 1u << 4,  ///< async_run completes with `reason`
        replay = 1u << 5,        ///< queue the subscriptions' replay ahead of everything
        start_read = 1u << 6,    ///< read (if not reading already)
        send_pong = 1u << 7,     ///< answer the ping just received (its payload)
        send_ping = 1u << 8,     ///< write a ping
        send_close = 1u << 9,    ///< write a close frame with close_code (last frame written)
        close_link = 1u << 10,   ///< close the socket now; report link_closed when I/O is over
        announce_up = 1u << 11,  ///< deliver session_connected
        trim_memory = 1u << 12,  ///< give idle read buffers back
        write = 1u << 13,        ///< write what is queued (if not writing already)
    };
    std::uint32_t what = 0;
    connect_stage stage = connect_stage::resolve;
    std::uint16_t close_code = 0;
    error_code reason;

    bool has(bit b) const noexcept { return (what & b) != 0; }
    void add(bit b) noexcept { what |= b; }
    bool empty() const noexcept { return what == 0; }
};

/// The session's lifecycle. See the file comment.
class session_fsm {
public:
    /// The options the machine decides with: the session's own (config.session, whose
    /// fields and defaults they are), the step timeouts, and when an idle link gives its
    /// receive buffers back.
    struct options : session_options {
        timeout_options timeouts;
        std::chrono::milliseconds idle_trim_after{std::chrono::seconds(2)};

        static options from(const config& cfg) {
            options o;
            static_cast<session_options&>(o) = cfg.session;
            o.timeouts = cfg.timeouts;
            return o;
        }
    };

    session_fsm(const options& opts, std::uint64_t seed)
        : opts_(opts), backoff_(opts.reconnect, seed) {}

    // ------------------------------------------------------------------ queries

    session_phase phase() const noexcept { return phase_; }
    bool running() const noexcept { return phase_ != session_phase::idle; }
    /// The link is up and takes frames (not closing).
    bool link_up() const noexcept { return phase_ == session_phase::open; }
    /// Data frames may be written now.
    bool may_write() const noexcept { return phase_ == session_phase::open; }
    bool reading_paused() const noexcept { return paused_; }
    bool stop_requested() const noexcept { return stopping_; }
    /// The step in progress (phase connecting).
    connect_stage stage() const noexcept { return stage_; }
    /// When the driver's timer must fire next (nothing when no wake-up is due).
    std::optional<session_time> wake_at() const noexcept { return wake_; }
    /// Connection attempts that failed since the last healthy link.
    unsigned failed_attempts() const noexcept { return failed_attempts_; }
    /// Links established since the machine was made.
    std::size_t connections() const noexcept { return connections_; }
    /// The delay of the last backoff (for logs).
    std::chrono::milliseconds last_delay() const noexcept { return last_delay_; }
    /// Why the current or last link ended (or attempt failed).
    const error_code& link_error() const noexcept { return link_reason_; }
    /// The code of the server's close frame on the current or last link (0: none came).
    std::uint16_t peer_close_code() const noexcept { return peer_close_code_; }

    /// Whether async_send may queue a data frame now, given the policy: session_stopped
    /// once a run ended by stop or failure, not_connected while down under
    /// send_policy::fail, otherwise nothing.
    error_code admit_send(send_policy policy) const noexcept {
        if (finished_)
            return make_error_code(client_errc::session_stopped);
        if (!link_up() && policy == send_policy::fail)
            return make_error_code(client_errc::not_connected);
        return {};
    }

    // ------------------------------------------------------------------ events

    /// async_run started. `over_limits`: the pending events are at their limits.
    session_actions start(session_time now, bool over_limits) {
        phase_ = session_phase::idle;
        stopping_ = false;
        finished_ = false;
        stop_reason_ = {};
        failed_attempts_ = 0;
        backoff_.reset();
        return attempt(now, over_limits);
    }

    /// stop() (reason session_stopped) or a terminal cancellation (operation_aborted). A
    /// second stop while the close handshake is in progress closes at once.
    session_actions stop(session_time now, error_code reason) {
        session_actions a;
        if (phase_ == session_phase::idle) {
            finished_ = true; // a session never run is marked stopped
            return a;
        }
        const bool again = stopping_;
        if (!again) {
            stopping_ = true;
            stop_reason_ = reason;
        }
        switch (phase_) {
        case session_phase::idle:
            break;
        case session_phase::waiting_drain:
        case session_phase::backing_off:
            return finish(stop_reason_);
        case session_phase::connecting:
            if (!again)
                a.add(session_actions::cancel_stage);
            break;
        case session_phase::open:
            phase_ = session_phase::closing;
            close_peer_seen_ = false; // the server's answer is awaited
            a.add(session_actions::send_close);
            a.close_code = 1000;
            wake_ = now + opts_.close_timeout;
            break;
        case session_phase::closing:
            if (again)
                return close(now, stop_reason_);
            break;
        case session_phase::closed:
            break;
        }
        return a;
    }

    /// A resolve, TCP connect or TLS handshake finished. `http_status`: a proxy's answer
    /// to CONNECT that refused the tunnel (client_errc::proxy_rejected), else 0.
    session_actions stage_done(session_time now, error_code ec, int http_status = 0) {
        if (auto ended = step_ended(now, ec, http_status))
            return *ended;
        return next_stage(now, static_cast<connect_stage>(static_cast<int>(stage_) + 1));
    }

    /// The WebSocket upgrade finished: `http_status` is the server's answer (0 if none
    /// arrived); ec is empty only for a valid 101 answer.
    session_actions upgrade_done(session_time now, error_code ec, int http_status) {
        if (auto ended = step_ended(now, ec, http_status))
            return *ended;
        session_actions a;
        phase_ = session_phase::open;
        ++connections_;
        up_since_ = now;
        last_activity_ = now;
        delivered_ = false;
        pinged_ = false;
        trimmed_ = false;
        announced_ = false;
        announce_after_ = 0;
        close_sent_ = close_peer_seen_ = false;
        peer_close_code_ = 0;
        a.add(session_actions::replay);
        if (!paused_)
            a.add(session_actions::start_read);
        a.add(session_actions::write);
        arm_health(now);
        return a;
    }

    /// The replay was queued; `last_id` is the queue id of its last frame (0: nothing to
    /// replay).
    session_actions replay_queued(session_time, std::uint64_t last_id) {
        session_actions a;
        announce_after_ = last_id;
        if (last_id == 0 && phase_ == session_phase::open)
            announce(a);
        return a;
    }

    /// Queued frames up to and including `last_id` were written.
    session_actions written(session_time, std::uint64_t last_id) {
        session_actions a;
        if (!announced_ && phase_ == session_phase::open && last_id >= announce_after_ &&
            announce_after_ != 0)
            announce(a);
        return a;
    }

    /// A read brought frames: `device_frames` of them were device events or messages
    /// delivered to the application. `over_limits`: the pending events are now at their
    /// limits.
    session_actions data_received(session_time now, std::size_t device_frames, bool over_limits) {
        last_activity_ = now;
        pinged_ = false;
        trimmed_ = false;
        if (device_frames != 0 && !delivered_) {
            // A link that delivered a device's frame works: the schedule starts over.
            delivered_ = true;
            backoff_.reset();
            failed_attempts_ = 0;
        }
        session_actions a;
        if (over_limits && (phase_ == session_phase::open || phase_ == session_phase::closing)) {
            paused_ = true;
        } else if (phase_ == session_phase::open || phase_ == session_phase::closing) {
            a.add(session_actions::start_read);
        }
        return a;
    }

    /// The application received (or the pending events changed otherwise).
    session_actions drained(session_time now, bool over_limits) {
        session_actions a;
        if (over_limits)
            return a;
        if (paused_) {
            paused_ = false;
            if (phase_ == session_phase::open || phase_ == session_phase::closing) {
                last_activity_ = now; // the silence was ours
                a.add(session_actions::start_read);
            }
        }
        if (phase_ == session_phase::waiting_drain)
            return attempt(now, false);
        return a;
    }

    /// A ping arrived: answer it.
    session_actions ping_received(session_time now) {
        last_activity_ = now;
        pinged_ = false;
        session_actions a;
        if (phase_ == session_phase::open)
            a.add(session_actions::send_pong);
        return a;
    }

    /// The server's close frame arrived.
    session_actions close_received(session_time now, std::uint16_t code) {
        session_actions a;
        if (phase_ == session_phase::closing) {
            if (close_sent_)
                return close(now, stopping_ ? stop_reason_ : closed_by_peer(code));
            peer_close_code_ = code;
            close_peer_seen_ = true;
            return a;
        }
        if (phase_ != session_phase::open)
            return a;
        link_reason_ = closed_by_peer(code);
        peer_close_code_ = code;
        close_peer_seen_ = true;
        phase_ = session_phase::closing;
        a.add(session_actions::send_close);
        a.close_code = echo_code(code);
        wake_ = now + opts_.close_timeout;
        return a;
    }

    /// The frame parser found a protocol violation: answer with a close frame carrying
    /// `close_code`, then close.
    session_actions protocol_failed(session_time now, error_code ec, std::uint16_t close_code) {
        session_actions a;
        if (phase_ != session_phase::open && phase_ != session_phase::closing)
            return a;
        link_reason_ = ec;
        if (phase_ == session_phase::closing)
            return close(now, ec);
        phase_ = session_phase::closing;
        close_peer_seen_ = true; // no answer is awaited
        a.add(session_actions::send_close);
        a.close_code = close_code;
        wake_ = now + opts_.close_timeout;
        return a;
    }

    /// Our close frame was written.
    session_actions close_written(session_time now) {
        close_sent_ = true;
        if (phase_ == session_phase::closing && close_peer_seen_)
            return close(now, stopping_ ? stop_reason_ : link_reason_);
        return {};
    }

    /// A read or write failed (or the peer closed the TCP connection).
    session_actions io_failed(session_time now, error_code ec) {
        if (phase_ != session_phase::open && phase_ != session_phase::closing)
            return {};
        if (phase_ == session_phase::closing && stopping_)
            return close(now, stop_reason_);
        return close(now, phase_ == session_phase::closing && link_reason_ ? link_reason_ : ec);
    }

    /// The timer armed at wake_at() fired.
    session_actions timer_fired(session_time now) {
        session_actions a;
        if (!wake_ || now < *wake_)
            return a; // stale
        wake_.reset();
        switch (phase_) {
        case session_phase::idle:
        case session_phase::waiting_drain:
        case session_phase::closed:
            break;
        case session_phase::connecting:
            stage_timed_out_ = true;
            a.add(session_actions::cancel_stage);
            break;
        case session_phase::backing_off:
            return attempt(now, false);
        case session_phase::closing:
            return close(now, stopping_ ? stop_reason_ : link_reason_);
        case session_phase::open:
            return health(now);
        }
        return a;
    }

    /// The link's socket is closed and its I/O is over (after close_link).
    session_actions link_closed(session_time now) {
        session_actions a;
        if (phase_ != session_phase::closed)
            return a;
        if (announced_) {
            a.add(session_actions::announce_down);
            announced_ = false;
        }
        a.reason = link_reason_;
        paused_ = false;
        if (stopping_)
            return finish(stop_reason_, a);
        if (permanent_)
            return finish(link_reason_, a);
        if (opts_.when_disconnected == send_policy::fail)
            a.add(session_actions::fail_sends);
        return back_off(now, a);
    }

private:
    session_actions attempt(session_time now, bool over_limits) {
        session_actions a;
        if (over_limits) {
            phase_ = session_phase::waiting_drain;
            wake_.reset();
            return a;
        }
        return next_stage(now, connect_stage::resolve);
    }

    session_actions next_stage(session_time now, connect_stage s) {
        session_actions a;
        phase_ = session_phase::connecting;
        stage_ = s;
        stage_timed_out_ = false;
        a.add(session_actions::start_stage);
        a.stage = s;
        wake_ = now + stage_timeout(s);
        return a;
    }

    std::chrono::milliseconds stage_timeout(connect_stage s) const noexcept {
        switch (s) {
        case connect_stage::resolve:
            return opts_.timeouts.resolve;
        case connect_stage::connect:
            return opts_.timeouts.connect;
        case connect_stage::tls_handshake:
            return opts_.timeouts.tls_handshake;
        case connect_stage::upgrade:
            return opts_.timeouts.websocket_handshake;
        }
        return opts_.timeouts.connect;
    }

    // A connection step finished: what to do when that ends the attempt (a late
    // completion, a stop meanwhile, a failure or a time-out); nothing when it succeeded.
    std::optional<session_actions> step_ended(session_time now, error_code ec, int http_status) {
        if (phase_ != session_phase::connecting)
            return session_actions{};
        if (stopping_)
            return close(now, stop_reason_);
        if (stage_timed_out_)
            ec = boost::beast::error::timeout;
        if (ec)
            return attempt_failed(now, ec, http_status);
        return std::nullopt;
    }

    session_actions attempt_failed(session_time now, error_code ec, int http_status) {
        ++failed_attempts_;
        permanent_ = classify_failure(stage_, ec, http_status, opts_.retry_tls_failures) ==
                     failure_class::permanent;
        return close(now, ec);
    }

    // The link (or attempt) is over: close its socket and wait for link_closed.
    session_actions close(session_time now, error_code reason) {
        session_actions a;
        if (phase_ == session_phase::open || phase_ == session_phase::closing) {
            // A link that was up: healthy enough to start the backoff over? If not, it
            // counts as one more failed attempt.
            if (delivered_ || now - up_since_ >= opts_.healthy_after) {
                backoff_.reset();
                failed_attempts_ = 0;
            } else if (!stopping_) {
                ++failed_attempts_;
            }
        }
        link_reason_ = reason;
        phase_ = session_phase::closed;
        wake_.reset();
        a.add(session_actions::close_link);
        a.reason = reason;
        return a;
    }

    session_actions back_off(session_time now, session_actions a) {
        last_delay_ = backoff_.next();
        phase_ = session_phase::backing_off;
        wake_ = now + last_delay_;
        return a;
    }

    session_actions finish(error_code ec, session_actions a = {}) {
        phase_ = session_phase::idle;
        stopping_ = false;
        finished_ = true;
        permanent_ = false;
        paused_ = false;
        wake_.reset();
        a.add(session_actions::complete_run);
        a.reason = ec;
        return a;
    }

    void announce(session_actions& a) {
        announced_ = true;
        a.add(session_actions::announce_up);
    }

    void arm_health(session_time now) {
        wake_.reset();
        if (opts_.idle_timeout.count() > 0) {
            const auto half = std::max(opts_.idle_timeout / 2, std::chrono::milliseconds(1));
            wake_ = (opts_.health == health_check::ping && !pinged_)
                        ? last_activity_ + half
                        : last_activity_ + opts_.idle_timeout;
        }
        if (!trimmed_) {
            const auto trim = last_activity_ + opts_.idle_trim_after;
            if (!wake_ || trim < *wake_)
                wake_ = trim;
        }
        if (wake_ && *wake_ < now)
            wake_ = now;
    }

    session_actions health(session_time now) {
        session_actions a;
        if (paused_) {
            // Nothing can be observed while we do not read: no verdict.
            last_activity_ = now;
            pinged_ = false;
            arm_health(now);
            return a;
        }
        const auto silent = now - last_activity_;
        if (!trimmed_ && silent >= opts_.idle_trim_after) {
            trimmed_ = true;
            a.add(session_actions::trim_memory);
        }
        if (opts_.idle_timeout.count() > 0) {
            if (silent >= opts_.idle_timeout) {
                session_actions c = close(now, boost::beast::error::timeout);
                c.what |= a.what;
                return c;
            }
            const auto half = std::max(opts_.idle_timeout / 2, std::chrono::milliseconds(1));
            if (opts_.health == health_check::ping && !pinged_ && silent >= half) {
                pinged_ = true;
                a.add(session_actions::send_ping);
            }
        }
        arm_health(now);
        return a;
    }

    static error_code closed_by_peer(std::uint16_t) noexcept {
        return boost::beast::websocket::error::closed;
    }

    static std::uint16_t echo_code(std::uint16_t code) noexcept {
        // 1005 (no code) is answered with a plain normal closure.
        return code == 1005 ? 1000 : code;
    }

    options opts_;
    detail::backoff backoff_;
    session_phase phase_ = session_phase::idle;
    connect_stage stage_ = connect_stage::resolve;
    bool stage_timed_out_ = false;
    bool stopping_ = false;
    bool finished_ = false;
    bool permanent_ = false;
    bool paused_ = false;
    bool delivered_ = false;
    bool pinged_ = false;
    bool trimmed_ = false;
    bool announced_ = false;
    bool close_sent_ = false;
    bool close_peer_seen_ = false;
    std::uint16_t peer_close_code_ = 0;
    std::uint64_t announce_after_ = 0;
    error_code stop_reason_;
    error_code link_reason_;
    std::optional<session_time> wake_;
    session_time up_since_{};
    session_time last_activity_{};
    unsigned failed_attempts_ = 0;
    std::size_t connections_ = 0;
    std::chrono::milliseconds last_delay_{0};
};

} // namespace atomcloud::detail

#endif
