// The session's engine: a state machine driven by completion callbacks (the library is
// C++17, no coroutines), over a shared implementation object that outlives the session
// object as long as I/O is in flight.
//
// States of a running session (link_):
//   connecting   -> resolve, TCP, TLS (detail::async_connect_tls), WebSocket handshake
//   connected    -> one read loop and one write loop on the link; a close handshake
//                   when stopping
//   backing_off  -> the reconnect timer
//   waiting_drain-> the pending events are at their limits: no point in connecting
//                   until the application receives
// Any failure of a link closes its socket, waits until its read and write have
// completed, then tears it down (session_disconnected, backoff). Each connection is its
// own object, so completions of an old link can never touch a new one.
#ifndef ATOMCLOUD_IMPL_SESSION_IPP
#define ATOMCLOUD_IMPL_SESSION_IPP

#include <atomcloud/detail/backoff.hpp>
#include <atomcloud/detail/connect.hpp>
#include <atomcloud/detail/event_arena.hpp>
#include <atomcloud/detail/send_queue.hpp>
#include <atomcloud/detail/session_url.hpp>
#include <atomcloud/detail/subscription_tracker.hpp>
#include <atomcloud/detail/tls.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>

namespace atomcloud::detail {

/// A completion handler kept until its operation completes, with outstanding work on its
/// executor (as composed operations do). Completion is always posted, never run inside
/// the caller.
template <class Signature>
class stored_handler;

template <class... Args>
class stored_handler<void(Args...)> {
public:
    using handler_type = boost::asio::any_completion_handler<void(Args...)>;

    stored_handler() = default;
    stored_handler(handler_type h, const boost::asio::any_io_executor& io_ex)
        : handler_(std::move(h)),
          work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_, io_ex),
                                    boost::asio::execution::outstanding_work.tracked)) {}

    // any_completion_handler's move assignment is unusable in Asio 1.26 (it wraps the
    // source instead of taking it over): only its move constructor and swap are used.
    stored_handler(stored_handler&& other) noexcept
        : handler_(std::move(other.handler_)), work_(std::move(other.work_)) {}
    stored_handler& operator=(stored_handler&& other) noexcept {
        handler_type taken(std::move(other.handler_));
        handler_.swap(taken);
        work_ = std::move(other.work_);
        return *this;
    }

    explicit operator bool() const noexcept { return static_cast<bool>(handler_); }

    boost::asio::cancellation_slot slot() const noexcept {
        return handler_.get_cancellation_slot();
    }

    /// Completes the operation: posts the handler to its executor with `args`.
    void post(const boost::asio::any_io_executor& io_ex, Args... args) {
        auto slot = handler_.get_cancellation_slot();
        if (slot.is_connected())
            slot.clear();
        handler_type h(std::move(handler_)); // leaves handler_ empty
        boost::asio::any_completion_executor work = std::move(work_);
        work_ = boost::asio::any_completion_executor();
        boost::asio::post(
            io_ex, boost::asio::bind_executor(
                       std::move(work),
                       [h = std::move(h), t = std::make_tuple(std::move(args)...)]() mutable {
                           std::apply(std::move(h), std::move(t));
                       }));
    }

private:
    handler_type handler_;
    boost::asio::any_completion_executor work_;
};

using stored_void_handler = stored_handler<void(error_code)>;
using stored_receive_handler = stored_handler<void(error_code, event_batch)>;

/// One connection attempt and, if it succeeds, one link.
struct ws_connection {
    ws_connection(const boost::asio::any_io_executor& ex, boost::asio::ssl::context& ctx)
        : ws(ex, ctx), resolver(ex) {}

    boost::beast::websocket::stream<tls_stream> ws;
    boost::asio::ip::tcp::resolver resolver;
    boost::beast::websocket::response_type response;
    connect_step failed_step = connect_step::none;
    bool open = false;    // handshake done
    bool reading = false; // an async_read is in flight
    bool writing = false; // an async_write is in flight
    bool closing = false; // an async_close is in flight
    bool failed = false;  // being torn down
    error_code reason;    // why it failed
};

class session_impl : public std::enable_shared_from_this<session_impl> {
public:
    session_impl(boost::asio::any_io_executor ex, const config& cfg, std::int64_t org_id)
        : ex_(std::move(ex)), cfg_(cfg), org_id_(org_id),
          backoff_(cfg.session.reconnect, std::random_device{}()), timer_(ex_),
          queue_(cfg.session.max_queued_messages, cfg.session.max_queued_bytes),
          arena_(cfg.session.max_message_size) {
        arena_.reset_batch(pending_);
    }

    // ---------------------------------------------------------------- entry points

    void run(diagnostics* diag, void_handler h) {
        stored_void_handler op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted);
        if (run_state_ == run_state::running)
            return op.post(ex_, boost::asio::error::already_started);
        if (diag)
            diag->clear();
        diagnostics d;
        if (error_code ec = prepare(d); ec) {
            log(log_level::error,
                "cannot start: " + ec.message() +
                    (d.client_message().empty() ? "" : ": " + d.client_message()));
            if (diag)
                *diag = std::move(d);
            run_state_ = run_state::stopped;
            flush_stopped();
            return op.post(ex_, ec);
        }
        run_ = std::move(op);
        run_diag_ = diag;
        run_state_ = run_state::running;
        stop_requested_ = false;
        stop_reason_ = {};
        backoff_.reset();
        failed_attempts_ = 0;
        auto slot = run_.slot();
        if (slot.is_connected()) {
            slot.assign([w = weak_from_this(), ex = ex_](boost::asio::cancellation_type type) {
                if ((type & boost::asio::cancellation_type::terminal) ==
                    boost::asio::cancellation_type::none)
                    return;
                // Not from inside the signal: stopping may complete the handler that owns it.
                boost::asio::post(ex, [w] {
                    if (auto self = w.lock())
                        self->stop(boost::asio::error::operation_aborted);
                });
            });
        }
        log(log_level::info, "starting: " + log_url_);
        connect();
    }

    void stop(error_code reason) {
        if (shut_down_)
            return;
        if (run_state_ != run_state::running) {
            if (run_state_ == run_state::idle) {
                run_state_ = run_state::stopped;
                flush_stopped();
            }
            return;
        }
        if (stop_requested_)
            return;
        stop_requested_ = true;
        stop_reason_ = reason;
        log(log_level::info, "stopping");
        switch (link_) {
        case link_state::connecting:
            if (auto c = conn_) {
                c->resolver.cancel();
                boost::beast::get_lowest_layer(c->ws).close();
            }
            break;
        case link_state::backing_off:
            timer_.cancel();
            break;
        case link_state::waiting_drain:
            finish_run(stop_reason_, nullptr);
            break;
        case link_state::connected:
            if (auto c = conn_) {
                // Bound the close handshake and a write stuck on a full socket.
                timer_.expires_after(cfg_.timeouts.websocket_handshake);
                timer_.async_wait([self = shared_from_this(), c](error_code ec) {
                    if (!ec && c == self->conn_)
                        boost::beast::get_lowest_layer(c->ws).close();
                });
                if (!c->writing)
                    begin_close(c);
            }
            break;
        case link_state::idle:
            break;
        }
    }

    void change_subscriptions(std::vector<device_number> devices, bool subscribe, void_handler h) {
        stored_void_handler op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted);
        auto changed = subscribe ? subs_.subscribe(devices) : subs_.unsubscribe(devices);
        if (changed.empty() || !link_up())
            return op.post(ex_, error_code());
        for (std::size_t i = 0; i < changed.size(); ++i) {
            std::optional<stored_void_handler> last;
            if (i + 1 == changed.size())
                last.emplace(std::move(op));
            if (subscribe)
                queue_.push_control(subscribe_frame{changed[i]}, std::move(last));
            else
                queue_.push_control(unsubscribe_frame{changed[i]}, std::move(last));
        }
        start_write(conn_);
    }

    void send(const frame& f, void_handler h) {
        stored_void_handler op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted);
        if (run_state_ == run_state::stopped)
            return op.post(ex_, client_errc::session_stopped);
        if (!link_up() && cfg_.session.when_disconnected == send_policy::fail)
            return op.post(ex_, client_errc::not_connected);
        if (error_code ec = queue_.check_data(encoded_size(f)); ec)
            return op.post(ex_, ec);
        auto slot = op.slot();
        const std::uint64_t id = queue_.push_data(f, std::move(op));
        if (slot.is_connected()) {
            slot.assign([w = weak_from_this(), ex = ex_, id](boost::asio::cancellation_type) {
                boost::asio::post(ex, [w, id] {
                    if (auto self = w.lock())
                        self->cancel_send(id);
                });
            });
        }
        if (link_up())
            start_write(conn_);
    }

    void receive(receive_handler h) {
        stored_receive_handler op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted, event_batch());
        if (receive_)
            return op.post(ex_, boost::asio::error::already_started, event_batch());
        receive_ = std::move(op);
        const std::uint64_t id = ++receive_id_;
        if (deliver())
            return;
        if (run_state_ == run_state::stopped)
            return receive_.post(ex_, client_errc::session_stopped, event_batch());
        auto slot = receive_.slot();
        if (slot.is_connected()) {
            slot.assign([w = weak_from_this(), ex = ex_, id](boost::asio::cancellation_type) {
                boost::asio::post(ex, [w, id] {
                    auto self = w.lock();
                    if (self && self->receive_ && self->receive_id_ == id)
                        self->receive_.post(self->ex_, boost::asio::error::operation_aborted,
                                            event_batch());
                });
            });
        }
    }

    void recycle(event_batch&& batch) noexcept { arena_.recycle(std::move(batch)); }

    // The session object is gone: abort everything now.
    void shutdown() noexcept {
        if (shut_down_)
            return;
        shut_down_ = true;
        stop_requested_ = true;
        try {
            timer_.cancel();
            if (auto c = conn_) {
                c->resolver.cancel();
                boost::beast::get_lowest_layer(c->ws).close();
            }
            conn_.reset();
            const error_code aborted = boost::asio::error::operation_aborted;
            // The entry being written completes from its write handler.
            queue_.remove_if([](const auto&) { return true; },
                             [&](auto&& e) {
                                 if (e.handler)
                                     e.handler->post(ex_, aborted);
                             });
            if (receive_)
                receive_.post(ex_, aborted, event_batch());
            if (run_)
                run_.post(ex_, aborted);
        } catch (...) {
            // Posting can only fail on allocation failure; nothing sensible is left to do.
        }
        link_ = link_state::idle;
        run_state_ = run_state::stopped;
    }

    session_status status() const noexcept {
        session_status s;
        s.running = run_state_ == run_state::running;
        s.connected = link_up();
        s.connections = connections_;
        s.failed_attempts = failed_attempts_;
        s.subscriptions = subs_.size();
        s.queued_messages = queue_.data_count();
        s.queued_bytes = queue_.data_bytes();
        s.pending_events = pending_.size();
        s.pending_bytes = pending_.message_bytes();
        s.reading_paused = read_paused_;
        return s;
    }

private:
    enum class run_state { idle, running, stopped };
    enum class link_state { idle, connecting, connected, backing_off, waiting_drain };

    // ---------------------------------------------------------------- helpers

    bool log_on(log_level l) const noexcept { return cfg_.log.enabled(l); }

    void log(log_level l, const std::string& text) const {
        if (!cfg_.log.enabled(l))
            return;
        try {
            cfg_.log.log(l, redact("session: " + text, cfg_.token));
        } catch (...) {
            // A failing log sink must not break the session.
        }
    }

    bool link_up() const noexcept { return conn_ && conn_->open && !conn_->failed; }

    bool over_limits() const noexcept {
        return pending_.size() >= std::max<std::size_t>(cfg_.session.max_pending_events, 1) ||
               pending_.message_bytes() >= std::max<std::size_t>(cfg_.session.max_pending_bytes, 1);
    }

    static error_code map_link_error(error_code ec) {
        if (ec == boost::beast::websocket::error::message_too_big ||
            ec == boost::beast::websocket::error::buffer_overflow)
            return client_errc::message_too_large;
        return ec;
    }

    std::string describe(const error_code& ec) const { return redact(ec.message(), cfg_.token); }

    // Validates the config and builds what every connection shares.
    error_code prepare(diagnostics& d) {
        error_code ec;
        if (cfg_.token.empty()) {
            d.set_client_message("config.token is empty");
            return client_errc::invalid_config;
        }
        auto url = parse_base_url(cfg_.base_url, ec);
        if (!url) {
            d.set_client_message("config.base_url is not https://host[:port][/prefix]");
            return ec;
        }
        url_ = std::move(*url);
        log_url_ = websocket_url_for_log(url_, org_id_);
        if (!tls_) {
            std::string what;
            tls_ = make_tls_context(cfg_.tls, ec, what);
            if (!tls_) {
                d.set_client_message(what);
                return ec;
            }
        }
        return {};
    }

    void push_event(event ev) {
        event_batch_access::push(pending_, std::move(ev));
        deliver();
    }

    // Hands the pending events to a waiting async_receive.
    bool deliver() {
        if (!receive_ || pending_.empty())
            return false;
        event_batch out = std::move(pending_);
        arena_.reset_batch(pending_);
        receive_.post(ex_, error_code(), std::move(out));
        after_drain();
        return true;
    }

    // The application took the pending events: resume what waited for that.
    void after_drain() {
        if (over_limits())
            return;
        if (read_paused_ && link_up())
            start_read(conn_);
        else if (link_ == link_state::waiting_drain && !stop_requested_)
            connect();
    }

    // Once stopped: queued sends fail, the receiver gets what is pending, then
    // session_stopped.
    void flush_stopped() {
        const error_code stopped = client_errc::session_stopped;
        queue_.remove_if([](const auto&) { return true; },
                         [&](auto&& e) {
                             if (e.handler)
                                 e.handler->post(ex_, e.control ? error_code() : stopped);
                         });
        if (receive_ && !deliver())
            receive_.post(ex_, stopped, event_batch());
    }

    void cancel_send(std::uint64_t id) {
        if (auto e = queue_.remove(id)) {
            if (e->handler)
                e->handler->post(ex_, boost::asio::error::operation_aborted);
            queue_.recycle(std::move(e->data));
        }
    }

    // ---------------------------------------------------------------- connecting

    void connect() {
        if (over_limits()) {
            link_ = link_state::waiting_drain;
            log(log_level::info, "pending events at their limit: connecting once the "
                                 "application receives");
            return;
        }
        auto c = std::make_shared<ws_connection>(ex_, *tls_);
        conn_ = c;
        link_ = link_state::connecting;
        if (log_on(log_level::info))
            log(log_level::info, "connecting to " + log_url_ + " (attempt " +
                                     std::to_string(failed_attempts_ + 1) + ")");
        if (!cfg_.tls.verify)
            warn_tls_verification_off(cfg_.log);
        async_connect_tls(
            c->ws.next_layer(), c->resolver, url_, cfg_.tls.verify, cfg_.timeouts, &c->failed_step,
            [self = shared_from_this(), c](error_code ec) { self->on_transport(c, ec); });
    }

    void on_transport(const std::shared_ptr<ws_connection>& c, error_code ec) {
        if (c != conn_)
            return;
        if (stop_requested_)
            return abandon_attempt();
        if (ec)
            return attempt_failed(ec, to_string(c->failed_step));

        namespace websocket = boost::beast::websocket;
        websocket::stream_base::timeout t{};
        t.handshake_timeout = cfg_.timeouts.websocket_handshake;
        if (cfg_.session.idle_timeout.count() > 0) {
            t.idle_timeout = cfg_.session.idle_timeout;
            t.keep_alive_pings = true;
        } else {
            t.idle_timeout = websocket::stream_base::none();
            t.keep_alive_pings = false;
        }
        c->ws.set_option(t);
        c->ws.set_option(
            websocket::stream_base::decorator([ua = cfg_.user_agent](websocket::request_type& req) {
                req.set(boost::beast::http::field::user_agent, ua);
            }));
        c->ws.read_message_max(cfg_.session.max_message_size);
        c->ws.binary(true);
        c->ws.auto_fragment(false);
        c->ws.async_handshake(
            c->response, url_.host_header(),
            websocket_target(url_, cfg_.token, org_id_, random_guid()),
            [self = shared_from_this(), c](error_code e) { self->on_handshake(c, e); });
    }

    void on_handshake(const std::shared_ptr<ws_connection>& c, error_code ec) {
        if (c != conn_)
            return;
        if (stop_requested_)
            return abandon_attempt();
        if (ec) {
            if (ec == boost::beast::websocket::error::upgrade_declined) {
                const int status = c->response.result_int();
                if (status >= 400 && status < 500 && status != 408 && status != 429)
                    return rejected(*c, status);
                return attempt_failed(ec,
                                      "WebSocket handshake (HTTP " + std::to_string(status) + ")");
            }
            return attempt_failed(ec, "WebSocket handshake");
        }
        c->open = true;
        c->response = {};
        link_ = link_state::connected;
        ++connections_;
        log(log_level::info, "connected to " + log_url_ + " (after " +
                                 std::to_string(failed_attempts_ + 1) + " attempt" +
                                 (failed_attempts_ == 0 ? "" : "s") + ")");
        failed_attempts_ = 0;
        backoff_.reset();
        // The replay goes first, in one batch, ahead of the queued sends.
        queue_.push_replay(subs_.devices());
        if (!subs_.empty())
            log(log_level::debug, "replaying " + std::to_string(subs_.size()) + " subscription(s)");
        push_event(session_connected{});
        start_read(c);
        start_write(c);
    }

    void rejected(const ws_connection& c, int status) {
        diagnostics d;
        d.set_http_status(status);
        const std::string& body = c.response.body();
        auto j = nlohmann::json::parse(body, nullptr, false);
        if (!j.is_discarded() && j.is_object()) {
            auto code = j.find("code");
            if (code != j.end() && code->is_number_integer())
                d.set_api_code(code->get<int>());
            auto msg = j.find("message");
            if (msg != j.end() && msg->is_string())
                d.set_server_message(redact(msg->get<std::string>(), cfg_.token));
        }
        d.set_client_message("the server refused the WebSocket upgrade with HTTP " +
                             std::to_string(status) + "; not retrying");
        log(log_level::error, "WebSocket upgrade to " + log_url_ + " rejected: " + d.to_string());
        conn_.reset();
        finish_run(client_errc::handshake_rejected, &d);
    }

    void attempt_failed(error_code ec, const std::string& step) {
        conn_.reset();
        ++failed_attempts_;
        log(log_level::warning, "connection attempt " + std::to_string(failed_attempts_) + " to " +
                                    log_url_ + " failed at " + step + ": " + describe(ec));
        schedule_reconnect();
    }

    // stop() interrupted a connection attempt.
    void abandon_attempt() {
        conn_.reset();
        finish_run(stop_reason_, nullptr);
    }

    void schedule_reconnect() {
        const auto delay = backoff_.next();
        link_ = link_state::backing_off;
        log(log_level::info, "reconnecting in " + std::to_string(delay.count()) + " ms (attempt " +
                                 std::to_string(failed_attempts_ + 1) + ")");
        timer_.expires_after(delay);
        timer_.async_wait([self = shared_from_this()](error_code) {
            if (self->shut_down_ || self->link_ != link_state::backing_off)
                return;
            if (self->stop_requested_)
                return self->finish_run(self->stop_reason_, nullptr);
            self->connect();
        });
    }

    // ---------------------------------------------------------------- the link

    void start_read(const std::shared_ptr<ws_connection>& c) {
        if (c->failed || c->closing || c->reading || !c->open)
            return;
        namespace websocket = boost::beast::websocket;
        if (over_limits()) {
            if (!read_paused_) {
                read_paused_ = true;
                // Nothing is read, so nothing would reset Beast's idle timer: suspend it
                // rather than declare a healthy link dead.
                websocket::stream_base::timeout t{};
                c->ws.get_option(t);
                t.idle_timeout = websocket::stream_base::none();
                t.keep_alive_pings = false;
                c->ws.set_option(t);
                if (log_on(log_level::debug))
                    log(log_level::debug,
                        "reading paused: " + std::to_string(pending_.size()) + " events, " +
                            std::to_string(pending_.message_bytes()) + " bytes pending");
            }
            return;
        }
        if (read_paused_) {
            read_paused_ = false;
            if (cfg_.session.idle_timeout.count() > 0) {
                websocket::stream_base::timeout t{};
                c->ws.get_option(t);
                t.idle_timeout = cfg_.session.idle_timeout;
                t.keep_alive_pings = true;
                c->ws.set_option(t);
            }
            log(log_level::debug, "reading resumed");
        }
        c->reading = true;
        c->ws.async_read(arena_, [self = shared_from_this(), c](error_code ec, std::size_t) {
            self->on_read(c, ec);
        });
    }

    void on_read(const std::shared_ptr<ws_connection>& c, error_code ec) {
        c->reading = false;
        if (shut_down_)
            return;
        if (ec) {
            arena_.discard_message();
            if (!c->failed)
                return link_failed(c, map_link_error(ec));
            return maybe_teardown(c);
        }
        arena_.finish_message(pending_, c->ws.got_text());
        if (log_on(log_level::debug)) {
            if (auto* pe = std::get_if<protocol_error>(&pending_.back()))
                log(log_level::debug, "ignored a message from the server: " + pe->ec.message());
        }
        deliver();
        if (c->failed)
            return maybe_teardown(c);
        start_read(c);
    }

    void start_write(const std::shared_ptr<ws_connection>& c) {
        if (!c || !c->open || c->failed || c->writing || c->closing)
            return;
        if (stop_requested_)
            return begin_close(c);
        if (queue_.empty())
            return;
        auto& e = queue_.start_front();
        c->writing = true;
        c->ws.async_write(
            boost::asio::buffer(e.data),
            [self = shared_from_this(), c](error_code ec, std::size_t) { self->on_write(c, ec); });
    }

    void on_write(const std::shared_ptr<ws_connection>& c, error_code ec) {
        c->writing = false;
        auto e = queue_.pop_front();
        const error_code result = !ec ? error_code() : c->failed ? c->reason : map_link_error(ec);
        if (e.handler)
            e.handler->post(
                ex_, shut_down_ && ec ? error_code(boost::asio::error::operation_aborted) : result);
        queue_.recycle(std::move(e.data));
        if (shut_down_)
            return;
        if (ec) {
            if (!c->failed)
                return link_failed(c, map_link_error(ec));
            return maybe_teardown(c);
        }
        if (c->failed)
            return maybe_teardown(c);
        start_write(c);
    }

    void begin_close(const std::shared_ptr<ws_connection>& c) {
        if (c->closing || c->failed)
            return;
        c->closing = true;
        c->ws.async_close(boost::beast::websocket::close_code::normal,
                          [self = shared_from_this(), c](error_code) {
                              c->closing = false;
                              if (self->shut_down_)
                                  return;
                              if (!c->failed)
                                  return self->link_failed(c, self->stop_reason_);
                              self->maybe_teardown(c);
                          });
    }

    void link_failed(const std::shared_ptr<ws_connection>& c, error_code reason) {
        if (c->failed)
            return;
        c->failed = true;
        c->reason = reason;
        error_code ignored;
        boost::beast::get_lowest_layer(c->ws).socket().close(ignored);
        maybe_teardown(c);
    }

    void maybe_teardown(const std::shared_ptr<ws_connection>& c) {
        if (c->reading || c->writing || c->closing || c != conn_)
            return;
        teardown(c);
    }

    // The link's read and write are over: report, clean up, and reconnect or finish.
    void teardown(const std::shared_ptr<ws_connection>& c) {
        conn_.reset();
        link_ = link_state::idle;
        read_paused_ = false;
        timer_.cancel();
        // Subscription frames not written yet: the next link replays them anyway.
        queue_.remove_if([](const auto& e) { return e.control; },
                         [&](auto&& e) {
                             if (e.handler)
                                 e.handler->post(ex_, error_code());
                         });
        const error_code reason = stop_requested_ ? stop_reason_ : c->reason;
        push_event(session_disconnected{reason});
        if (stop_requested_) {
            log(log_level::info, "link to " + log_url_ + " closed");
            return finish_run(stop_reason_, nullptr);
        }
        std::string extra;
        if (c->reason == boost::beast::websocket::error::closed)
            extra = " (close code " + std::to_string(c->ws.reason().code) + ")";
        log(log_level::warning, "link to " + log_url_ + " lost: " + describe(c->reason) + extra);
        if (cfg_.session.when_disconnected == send_policy::fail) {
            const error_code lost = client_errc::link_lost;
            queue_.remove_if([](const auto& e) { return !e.control; },
                             [&](auto&& e) {
                                 if (e.handler)
                                     e.handler->post(ex_, lost);
                             });
        }
        schedule_reconnect();
    }

    void finish_run(error_code ec, const diagnostics* d) {
        link_ = link_state::idle;
        run_state_ = run_state::stopped;
        stop_requested_ = false;
        read_paused_ = false;
        timer_.cancel();
        if (run_diag_ && d)
            *run_diag_ = *d;
        run_diag_ = nullptr;
        flush_stopped();
        log(log_level::info, "stopped: " + describe(ec));
        if (run_)
            run_.post(ex_, ec);
    }

    boost::asio::any_io_executor ex_;
    config cfg_;
    std::int64_t org_id_;
    base_url url_;
    std::string log_url_;
    std::shared_ptr<boost::asio::ssl::context> tls_;

    run_state run_state_ = run_state::idle;
    link_state link_ = link_state::idle;
    bool stop_requested_ = false;
    bool shut_down_ = false;
    bool read_paused_ = false;
    error_code stop_reason_;
    stored_void_handler run_;
    diagnostics* run_diag_ = nullptr;
    std::shared_ptr<ws_connection> conn_;
    backoff backoff_;
    boost::asio::steady_timer timer_; // backoff, and the close deadline when stopping
    unsigned failed_attempts_ = 0;
    std::size_t connections_ = 0;

    subscription_tracker subs_;
    send_queue<stored_void_handler> queue_;

    event_arena arena_;
    event_batch pending_;
    stored_receive_handler receive_;
    std::uint64_t receive_id_ = 0;
};

// ------------------------------------------------------------------ the session's calls

ATOMCLOUD_DECL std::shared_ptr<session_impl>
make_session_impl(boost::asio::any_io_executor ex, const config& cfg, std::int64_t org_id) {
    return std::make_shared<session_impl>(std::move(ex), cfg, org_id);
}

ATOMCLOUD_DECL void session_shutdown(session_impl& impl) noexcept {
    impl.shutdown();
}

ATOMCLOUD_DECL void session_stop(session_impl& impl) {
    impl.stop(client_errc::session_stopped);
}

ATOMCLOUD_DECL void session_run(const std::shared_ptr<session_impl>& impl, diagnostics* diag,
                                void_handler handler) {
    impl->run(diag, std::move(handler));
}

ATOMCLOUD_DECL void session_subscriptions(const std::shared_ptr<session_impl>& impl,
                                          std::vector<device_number> devices, bool subscribe,
                                          void_handler handler) {
    impl->change_subscriptions(std::move(devices), subscribe, std::move(handler));
}

ATOMCLOUD_DECL void session_send(const std::shared_ptr<session_impl>& impl, const frame& f,
                                 void_handler handler) {
    impl->send(f, std::move(handler));
}

ATOMCLOUD_DECL void session_receive(const std::shared_ptr<session_impl>& impl,
                                    receive_handler handler) {
    impl->receive(std::move(handler));
}

ATOMCLOUD_DECL void session_recycle(session_impl& impl, event_batch&& batch) noexcept {
    impl.recycle(std::move(batch));
}

ATOMCLOUD_DECL session_status session_get_status(const session_impl& impl) noexcept {
    return impl.status();
}

} // namespace atomcloud::detail

#endif
