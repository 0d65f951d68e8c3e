// The session's I/O driver. It executes what the lifecycle machine (detail/session_fsm.hpp)
// decides and feeds the results back: it decides nothing itself. The library is C++17, so
// the I/O is plain completion callbacks over a shared implementation object that outlives
// the session object as long as I/O is in flight.
//
// One link at a time (ws_link): resolver, TCP socket and TLS (detail::tls_socket), the HTTP
// upgrade (Beast), then the WebSocket frames on our own frame layer (detail/ws_frame.hpp):
//  - reading waits for the socket to become readable, then reads and parses everything
//    there is, in place, into the pending batch (event_arena), without an asynchronous
//    operation per message;
//  - writing gathers the queued frames (and pings, pongs, the close frame) into one masked
//    buffer and writes it at once when the socket takes it, waiting only when it does not.
// Every completion checks that its link is still the current one, so completions of an old
// link can never touch a new one.
#ifndef ATOMCLOUD_IMPL_SESSION_IPP
#define ATOMCLOUD_IMPL_SESSION_IPP

#include <atomcloud/detail/endpoint.hpp>
#include <atomcloud/detail/event_arena.hpp>
#include <atomcloud/detail/proxy_connect.hpp>
#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/detail/send_queue.hpp>
#include <atomcloud/detail/session_frames.hpp>
#include <atomcloud/detail/session_fsm.hpp>
#include <atomcloud/detail/session_url.hpp>
#include <atomcloud/detail/stored_handler.hpp>
#include <atomcloud/detail/subscription_tracker.hpp>
#include <atomcloud/detail/tls.hpp>
#include <atomcloud/detail/tls_socket.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/detail/ws_frame.hpp>
#include <atomcloud/detail/ws_handshake.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace atomcloud::detail {

using stored_void_handler = stored_handler<void(error_code)>;
using stored_receive_handler = stored_handler<void(error_code, event_batch)>;

/// One connection attempt and, if it succeeds, one link.
struct ws_link {
    ws_link(const boost::asio::any_io_executor& ex, boost::asio::ssl::context& ctx,
            std::size_t max_message)
        : resolver(ex), tls(ex, ctx), inbox(max_message) {}

    boost::asio::ip::tcp::resolver resolver;
    boost::asio::ip::tcp::resolver::results_type endpoints;
    tls_socket tls;
    ws_inbox inbox;
    diagnostics proxy_refusal; // why the proxy refused the tunnel, if it did

    // The upgrade (released once the link is open).
    std::string key;
    boost::beast::http::request<boost::beast::http::empty_body> request;
    std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> response;
    boost::beast::flat_buffer upgrade_buffer{64 * 1024};

    // I/O in flight.
    bool stage_busy = false;           // a connection step
    bool reading = false;              // waiting for the socket to be readable
    bool writing = false;              // waiting for the socket to take the rest of a write
    bool closed = false;               // close_link done: only completions are awaited
    bool reported = false;             // link_closed was fed to the machine
    bool opened = false;               // the upgrade succeeded: frames may be written
    bool first_read = false;           // the next read parses before it waits
    bool unparsed = false;             // parsing stopped at the pending limits: frames may wait
    bool read_waits_for_write = false; // OpenSSL asked to write before reading on
};

class session_impl : public std::enable_shared_from_this<session_impl> {
public:
    session_impl(boost::asio::any_io_executor ex, const config& cfg, std::int64_t org_id)
        : ex_(std::move(ex)), cfg_(cfg), org_id_(org_id),
          fsm_(session_fsm::options::from(cfg), std::random_device{}()), timer_(ex_),
          queue_(cfg.session.max_queued_messages, cfg.session.max_queued_bytes,
                 cfg.session.nbiot_id_width) {
        arena_.reset_batch(pending_);
        filter_.subscriptions = &subs_;
        filter_.nbiot_width = cfg.session.nbiot_id_width;
    }

    // ---------------------------------------------------------------- entry points

    void run(diagnostics* diag, void_handler h) {
        stored_void_handler op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted);
        if (fsm_.running())
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
            fsm_.stop(now(), client_errc::session_stopped); // marks it stopped
            flush_stopped();
            return op.post(ex_, ec);
        }
        run_ = std::move(op);
        run_diag_ = diag;
        rejection_ = {};
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
        apply(fsm_.start(now(), over_limits()));
    }

    void stop(error_code reason) {
        if (shut_down_)
            return;
        const bool was_running = fsm_.running();
        if (was_running && !fsm_.stop_requested())
            log(log_level::info, "stopping");
        apply(fsm_.stop(now(), reason));
        if (!was_running)
            flush_stopped();
    }

    void change_subscriptions(std::vector<device_number> devices, bool subscribe, void_handler h) {
        stored_void_handler op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted);
        auto changed = subscribe ? subs_.subscribe(devices) : subs_.unsubscribe(devices);
        if (changed.empty() || !fsm_.link_up())
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
        pump_writes(link_);
    }

    void send(const frame& f, void_handler h) {
        stored_void_handler op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted);
        if (error_code ec = fsm_.admit_send(cfg_.session.when_disconnected); ec)
            return op.post(ex_, ec);
        if (auto* nb = std::get_if<nbiot_send_frame>(&f);
            nb && nb->device.size() > cfg_.session.nbiot_id_width)
            return op.post(ex_, client_errc::invalid_nbiot_id);
        if (error_code ec = queue_.check_data(queue_.encoded_size_of(f)); ec)
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
        if (fsm_.may_write())
            pump_writes(link_);
    }

    void receive(receive_handler h) {
        stored_receive_handler op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted, event_batch());
        if (receive_)
            return op.post(ex_, boost::asio::error::already_started, event_batch());
        receive_ = std::move(op);
        const std::uint64_t id = ++receive_id_;
        if (deliver()) {
            apply(fsm_.drained(now(), over_limits()));
            return;
        }
        if (!fsm_.running() && fsm_.admit_send(send_policy::queue))
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
        try {
            timer_.cancel();
            if (auto l = link_) {
                l->closed = true;
                l->resolver.cancel();
                l->tls.close();
            }
            const error_code aborted = boost::asio::error::operation_aborted;
            // Entries being written complete from their write's completion.
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
    }

    session_status status() const noexcept {
        session_status s;
        s.running = fsm_.running();
        s.connected = fsm_.link_up();
        s.connections = fsm_.connections();
        s.failed_attempts = fsm_.failed_attempts();
        s.subscriptions = subs_.size();
        s.queued_messages = queue_.data_count();
        s.queued_bytes = queue_.data_bytes();
        s.pending_events = pending_.size();
        s.pending_bytes = pending_.message_bytes();
        s.reading_paused = fsm_.reading_paused();
        s.dropped_unsubscribed = dropped_unsubscribed_;
        return s;
    }

    session_metrics metrics() const {
        session_metrics m;
        m.taken = std::chrono::steady_clock::now();
        m.running = fsm_.running();
        m.connected = fsm_.link_up();
        m.links_established = fsm_.connections();
        m.links_lost = links_lost_;
        m.failed_attempts = failed_attempts_total_;
        m.reconnects = reconnects_;
        m.last_failure = last_failure_;
        m.messages_received = messages_received_;
        m.bytes_received = bytes_received_;
        m.messages_sent = messages_sent_;
        m.bytes_sent = bytes_sent_;
        m.control_messages_sent = control_messages_sent_;
        m.dropped_unsubscribed = dropped_unsubscribed_;
        m.protocol_errors = protocol_errors_;
        m.send_queue_depth = queue_.data_count();
        m.send_queue_bytes = queue_.data_bytes();
        m.pending_events = pending_.size();
        m.pending_bytes = pending_.message_bytes();
        m.subscriptions = subs_.size();
        return m;
    }

    bool is_shut_down() const noexcept { return shut_down_; }

private:
    using link_ptr = std::shared_ptr<ws_link>;

    static session_time now() noexcept { return session_clock::now(); }

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

    std::string describe(const error_code& ec) const { return redact(ec.message(), cfg_.token); }

    bool over_limits() const noexcept {
        return pending_.size() >= std::max<std::size_t>(cfg_.session.max_pending_events, 1) ||
               pending_.message_bytes() >= std::max<std::size_t>(cfg_.session.max_pending_bytes, 1);
    }

    // Validates the config and builds what every connection shares.
    error_code prepare(diagnostics& d) {
        std::string what;
        error_code ec;
        if (!endpoint_ready_) { // the config does not change: checked by the first run
            ec = check_session_settings(cfg_, what);
            auto where = ec ? std::nullopt : make_endpoint(cfg_, ec, what);
            if (!where) {
                d.set_client_message(what);
                return ec;
            }
            url_ = std::move(where->url);
            proxy_ = std::move(where->proxy);
            log_url_ = websocket_url_for_log(url_, org_id_);
            endpoint_ready_ = true;
        }
        if (!tls_) {
            tls_ = make_tls_context(cfg_.tls, ec, what);
            if (!tls_) {
                d.set_client_message(what);
                return ec;
            }
        }
        return {};
    }

    // Hands the pending events to a waiting async_receive.
    bool deliver() {
        if (!receive_ || pending_.empty())
            return false;
        event_batch out = std::move(pending_);
        arena_.reset_batch(pending_);
        receive_.post(ex_, error_code(), std::move(out));
        return true;
    }

    void push_event(event ev) {
        event_batch_access::push(pending_, std::move(ev));
        deliver();
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

    // ---------------------------------------------------------------- executing decisions

    void apply(const session_actions& a) {
        using act = session_actions;
        if (shut_down_)
            return;
        if (a.has(act::cancel_stage) && link_) {
            link_->resolver.cancel();
            link_->tls.close();
        }
        if (a.has(act::close_link))
            close_link(link_, a.reason);
        if (a.has(act::start_stage))
            start_stage(a.stage);
        if (a.has(act::replay)) {
            const std::uint64_t last = queue_.push_replay(subs_.devices());
            if (!subs_.empty())
                log(log_level::debug,
                    "replaying " + std::to_string(subs_.size()) + " subscription(s)");
            apply(fsm_.replay_queued(now(), last));
        }
        if (a.has(act::announce_up))
            push_event(session_connected{});
        if (a.has(act::announce_down))
            push_event(session_disconnected{a.reason});
        if (a.has(act::fail_sends)) {
            const error_code lost = client_errc::link_lost;
            queue_.remove_if([](const auto& e) { return !e.control; },
                             [&](auto&& e) {
                                 if (e.handler)
                                     e.handler->post(ex_, lost);
                             });
        }
        if (a.has(act::send_pong) && link_)
            out_.owe_pong(link_->inbox.pong());
        if (a.has(act::send_ping))
            out_.owe_ping();
        if (a.has(act::send_close))
            out_.owe_close(a.close_code);
        if (a.has(act::write) || a.has(act::send_pong) || a.has(act::send_ping) ||
            a.has(act::send_close))
            pump_writes(link_);
        if (a.has(act::start_read))
            start_read(link_);
        if (a.has(act::trim_memory)) {
            arena_.trim();
            out_.trim();
        }
        if (a.has(act::complete_run))
            complete_run(a.reason);
        sync_timer();
    }

    void sync_timer() {
        const auto wake = fsm_.wake_at();
        if (wake == armed_ || shut_down_)
            return;
        armed_ = wake;
        if (!wake) {
            timer_.cancel();
            return;
        }
        timer_.expires_at(*wake);
        timer_.async_wait([self = shared_from_this(), gen = ++timer_gen_](error_code ec) {
            if (ec || self->shut_down_ || gen != self->timer_gen_)
                return;
            self->armed_.reset();
            self->apply(self->fsm_.timer_fired(now()));
        });
    }

    void complete_run(error_code ec) {
        log(log_level::info, "stopped: " + describe(ec));
        if (run_diag_ && ec == client_errc::handshake_rejected)
            *run_diag_ = rejection_;
        else if (run_diag_ && ec == client_errc::certificate_rejected)
            *run_diag_ = rejection_;
        else if (run_diag_ &&
                 (ec == client_errc::proxy_rejected || ec == client_errc::proxy_protocol_error))
            *run_diag_ = rejection_;
        run_diag_ = nullptr;
        flush_stopped();
        if (run_)
            run_.post(ex_, ec);
    }

    // ---------------------------------------------------------------- connecting

    void start_stage(connect_stage stage) {
        if (stage == connect_stage::resolve) {
            link_ = std::make_shared<ws_link>(ex_, *tls_, cfg_.session.max_message_size);
            if (log_on(log_level::info))
                log(log_level::info,
                    "connecting to " + log_url_ +
                        (proxy_ ? " through the proxy " + proxy_->address() : std::string()) +
                        " (attempt " + std::to_string(fsm_.failed_attempts() + 1) + ")");
            if (!cfg_.tls.verify)
                warn_tls_verification_off(cfg_.log);
        }
        link_ptr l = link_;
        l->stage_busy = true;
        auto done = [self = shared_from_this(), l](error_code ec) {
            l->stage_busy = false;
            if (self->stale(l))
                return;
            self->stage_finished(ec);
        };
        switch (stage) {
        case connect_stage::resolve:
            l->resolver.async_resolve(
                proxy_ ? proxy_->host : url_.host, proxy_ ? proxy_->port : url_.port,
                [done, l](error_code ec, boost::asio::ip::tcp::resolver::results_type r) {
                    l->endpoints = std::move(r);
                    done(ec);
                });
            break;
        case connect_stage::connect:
            // Through a proxy, this stage (and its time limit) includes the CONNECT.
            boost::asio::async_connect(
                l->tls.socket(), l->endpoints,
                [done, l, self = shared_from_this()](error_code ec,
                                                     const boost::asio::ip::tcp::endpoint&) {
                    if (ec || !self->proxy_ || self->shut_down_ || l != self->link_ || l->closed)
                        return done(ec);
                    async_proxy_connect(l->tls.socket(), *self->proxy_, self->url_,
                                        self->cfg_.user_agent, self->cfg_.timeouts.connect,
                                        &l->proxy_refusal, done);
                });
            break;
        case connect_stage::tls_handshake: {
            error_code ec;
            l->tls.prepare(url_, cfg_.tls.verify, ec);
            if (ec) {
                boost::asio::post(ex_, [done, ec] { done(ec); });
                break;
            }
            l->tls.async_handshake(done);
            break;
        }
        case connect_stage::upgrade:
            start_upgrade(l);
            break;
        }
    }

    void stage_finished(error_code ec) {
        const connect_stage stage = fsm_.stage();
        if (ec && fsm_.running() && !fsm_.stop_requested()) {
            std::string why = describe(ec);
            if (ec == client_errc::certificate_rejected) {
                why += ": " + link_->tls.verify_failure();
                rejection_ = {};
                rejection_.set_client_message("TLS certificate rejected: " +
                                              link_->tls.verify_failure());
            } else if (stage == connect_stage::connect && !link_->proxy_refusal.empty()) {
                why += ": " + link_->proxy_refusal.client_message();
                rejection_ = link_->proxy_refusal;
            }
            log(log_level::warning, "connection attempt " +
                                        std::to_string(fsm_.failed_attempts() + 1) + " to " +
                                        log_url_ + " failed at " + to_string(stage) + ": " + why);
        }
        apply(fsm_.stage_done(now(), ec, link_->proxy_refusal.http_status()));
    }

    void start_upgrade(const link_ptr& l) {
        namespace http = boost::beast::http;
        l->key = ws_make_key();
        l->request = ws_upgrade_request(url_.host_header(),
                                        websocket_target(url_, cfg_.token, org_id_, random_guid()),
                                        l->key, cfg_.user_agent);
        http::async_write(l->tls, l->request,
                          [self = shared_from_this(), l](error_code ec, std::size_t) {
                              l->request = {};
                              if (self->stale(l)) {
                                  l->stage_busy = false;
                                  return;
                              }
                              if (ec) {
                                  l->stage_busy = false;
                                  return self->upgrade_finished(l, ec, 0);
                              }
                              l->response.emplace();
                              l->response->header_limit(16 * 1024);
                              l->response->body_limit(64 * 1024);
                              http::async_read(l->tls, l->upgrade_buffer, *l->response,
                                               [self, l](error_code ec2, std::size_t) {
                                                   l->stage_busy = false;
                                                   if (self->stale(l))
                                                       return;
                                                   self->upgrade_answered(l, ec2);
                                               });
                          });
    }

    void upgrade_answered(const link_ptr& l, error_code ec) {
        if (ec)
            return upgrade_finished(l, ec, 0);
        const auto& res = l->response->get();
        const int status = res.result_int();
        std::string why;
        ec = ws_check_upgrade_response(res, l->key, why);
        if (ec == client_errc::handshake_rejected) {
            rejection_ = rejection_diagnostics(status, res.body());
        } else if (!ec) {
            // Frames the server sent right behind its answer: the start of the stream.
            const auto extra = l->upgrade_buffer.data();
            if (extra.size() != 0) {
                auto room = arena_.prepare(extra.size());
                std::memcpy(room.data(), extra.data(), extra.size());
                arena_.commit(extra.size());
            }
        }
        l->response.reset();
        l->upgrade_buffer = boost::beast::flat_buffer();
        if (ec && ec != client_errc::handshake_rejected)
            log(log_level::warning, "WebSocket upgrade to " + log_url_ + " failed: " + why);
        upgrade_finished(l, ec, status);
    }

    void upgrade_finished(const link_ptr& l, error_code ec, int status) {
        if (!ec) {
            l->opened = true;
            l->first_read = true;
            log(log_level::info, "connected to " + log_url_ + " (after " +
                                     std::to_string(fsm_.failed_attempts() + 1) + " attempt" +
                                     (fsm_.failed_attempts() == 0 ? "" : "s") + ")");
        } else if (ec == client_errc::handshake_rejected) {
            const bool permanent =
                classify_failure(connect_stage::upgrade, ec, status,
                                 cfg_.session.retry_tls_failures) == failure_class::permanent;
            log(permanent ? log_level::error : log_level::warning,
                "WebSocket upgrade to " + log_url_ + " rejected: " + rejection_.to_string());
        } else if (fsm_.running() && !fsm_.stop_requested()) {
            log(log_level::warning, "connection attempt " +
                                        std::to_string(fsm_.failed_attempts() + 1) + " to " +
                                        log_url_ + " failed at WebSocket upgrade: " + describe(ec));
        }
        apply(fsm_.upgrade_done(now(), ec, status));
    }

    diagnostics rejection_diagnostics(int status, const std::string& body) const {
        diagnostics d;
        d.set_http_status(status);
        read_envelope(body, cfg_.token, d);
        const bool permanent = status >= 400 && status < 500 && status != 408 && status != 429;
        d.set_client_message("the server refused the WebSocket upgrade with HTTP " +
                             std::to_string(status) + (permanent ? "; not retrying" : ""));
        return d;
    }

    // A completion of a link that is no longer the current one (or closed): only its
    // teardown matters.
    bool stale(const link_ptr& l) {
        if (shut_down_)
            return true;
        if (l != link_ || l->closed) {
            link_io_done(l);
            return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- the link

    void close_link(const link_ptr& l, const error_code& reason) {
        if (!l || l->closed)
            return;
        l->closed = true;
        if (!l->writing && !l->stage_busy)
            l->tls.shutdown_send(); // close_notify, when it can go at once
        l->resolver.cancel();
        l->tls.close();
        if (reason && !fsm_.stop_requested())
            note_failure(l->opened, reason);
        if (l->opened) {
            if (fsm_.stop_requested()) {
                log(log_level::info, "link to " + log_url_ + " closed");
            } else if (reason == boost::beast::error::timeout) {
                log(log_level::warning, "nothing received from " + log_url_ + " for " +
                                            std::to_string(cfg_.session.idle_timeout.count()) +
                                            " ms: link is dead");
            } else {
                std::string extra;
                if (reason == boost::beast::websocket::error::closed)
                    extra = " (close code " + std::to_string(fsm_.peer_close_code()) + ")";
                log(log_level::warning,
                    "link to " + log_url_ + " lost: " + describe(reason) + extra);
            }
        }
        link_io_done(l);
    }

    // Once a closed link has no I/O in flight, the machine hears of it (posted: the
    // caller may be in the middle of applying actions).
    void link_io_done(const link_ptr& l) {
        if (!l->closed || l->reported || l->reading || l->writing || l->stage_busy || l != link_)
            return;
        l->reported = true;
        boost::asio::post(ex_, [self = shared_from_this(), l] {
            if (self->shut_down_ || l != self->link_)
                return;
            self->link_finished();
        });
    }

    void link_finished() {
        // Subscription frames not written: the next link replays them anyway.
        queue_.remove_if([](const auto& e) { return e.control; },
                         [&](auto&& e) {
                             if (e.handler)
                                 e.handler->post(ex_, error_code());
                         });
        arena_.reset_region();
        out_.reset();
        link_.reset();
        auto a = fsm_.link_closed(now());
        if (!a.has(session_actions::complete_run) && fsm_.phase() == session_phase::backing_off) {
            ++reconnects_;
            log(log_level::info, "reconnecting in " + std::to_string(fsm_.last_delay().count()) +
                                     " ms (attempt " + std::to_string(fsm_.failed_attempts() + 1) +
                                     ")");
        }
        apply(a);
    }

    void start_read(const link_ptr& l) {
        if (!l || l->reading || l->closed || fsm_.reading_paused())
            return;
        l->reading = true;
        if (l->first_read || l->unparsed) {
            // Frames may wait in the region (they came with the upgrade's answer, or the
            // pending limits stopped the parsing): parse them before waiting.
            l->first_read = false;
            l->unparsed = false;
            boost::asio::post(ex_, [self = shared_from_this(), l] { self->on_readable(l, {}); });
            return;
        }
        l->tls.socket().async_wait(
            l->read_waits_for_write ? boost::asio::socket_base::wait_write
                                    : boost::asio::socket_base::wait_read,
            [self = shared_from_this(), l](error_code ec) { self->on_readable(l, ec); });
    }

    // The socket is readable (or bytes wait in the region): read and parse everything
    // there is, within a budget so that other work gets its turn.
    void on_readable(const link_ptr& l, error_code ec) {
        l->reading = false;
        if (stale(l))
            return;
        if (ec)
            return apply(fsm_.io_failed(now(), ec));
        const session_time t = now();
        std::size_t device_frames = 0;
        std::size_t budget = read_budget;
        bool go_on = parse(l, t, device_frames);
        while (go_on) {
            auto room = arena_.prepare(l->inbox.wanted());
            const tls_attempt r = l->tls.try_read(room);
            if (r.what != tls_attempt::next::done) {
                // OpenSSL may need to write before it can read on (TLS 1.3 key updates):
                // then the next attempt waits for the socket to take bytes, not to bring them.
                l->read_waits_for_write = r.what == tls_attempt::next::wait_write;
                break;
            }
            l->read_waits_for_write = false;
            if (r.ec) {
                ec = r.ec;
                break;
            }
            arena_.commit(r.bytes);
            go_on = parse(l, t, device_frames);
            if (r.bytes >= budget)
                break;
            budget -= r.bytes;
        }
        deliver();
        if (l->closed)
            return link_io_done(l);
        if (ec)
            return apply(fsm_.io_failed(t, ec));
        apply(fsm_.data_received(t, device_frames, over_limits()));
        if (fsm_.reading_paused() && log_on(log_level::debug))
            log(log_level::debug, "reading paused: " + std::to_string(pending_.size()) +
                                      " events, " + std::to_string(pending_.message_bytes()) +
                                      " bytes pending");
    }

    // One pass over the region; the machine hears of the control frames. Returns false
    // once the link should read no more for now.
    bool parse(const link_ptr& l, session_time t, std::size_t& device_frames) {
        const auto r = l->inbox.parse(arena_, pending_, filter_,
                                      std::max<std::size_t>(cfg_.session.max_pending_events, 1),
                                      std::max<std::size_t>(cfg_.session.max_pending_bytes, 1),
                                      [this](const device_number& d) { note_unsubscribed(d); });
        device_frames += r.device_frames;
        messages_received_ += r.messages;
        bytes_received_ += r.message_bytes;
        protocol_errors_ += r.errors + (r.failure ? 1 : 0);
        if (r.errors != 0 && log_on(log_level::debug))
            log(log_level::debug, "ignored " + std::to_string(r.errors) +
                                      " malformed or text message(s) from the server");
        l->unparsed = r.at_limits;
        if (r.ping)
            apply(fsm_.ping_received(t));
        if (r.close)
            apply(fsm_.close_received(t, *r.close));
        if (r.failure) {
            log(log_level::warning, "WebSocket protocol error from " + log_url_ + ": " +
                                        describe(r.failure->ec) + " (closing with " +
                                        std::to_string(r.failure->close_code) + ")");
            apply(fsm_.protocol_failed(t, r.failure->ec, r.failure->close_code));
        }
        return !l->closed && !r.at_limits && !r.close && !r.failure;
    }

    // A link was lost, or a connection attempt failed (not by stop()).
    void note_failure(bool link_was_up, const error_code& reason) {
        if (link_was_up)
            ++links_lost_;
        else
            ++failed_attempts_total_;
        last_failure_.ec = reason;
        last_failure_.time = std::chrono::system_clock::now();
        try {
            std::string text = link_was_up ? "link lost: "
                                           : std::string("connection attempt failed at ") +
                                                 to_string(fsm_.stage()) + ": ";
            text += describe(reason);
            if (reason == client_errc::handshake_rejected && rejection_.http_status() != 0)
                text += " (HTTP " + std::to_string(rejection_.http_status()) + ")";
            last_failure_.text = std::move(text);
        } catch (...) {
            last_failure_.text.clear(); // out of memory: the code alone
        }
    }

    void note_unsubscribed(const device_number& d) {
        ++dropped_unsubscribed_;
        if (!log_on(log_level::debug) || logged_unsubscribed_.size() >= max_logged_devices)
            return;
        if (logged_unsubscribed_.insert(d).second)
            log(log_level::debug, "dropping frames of " + d.str() + ", which is not subscribed");
    }

    // Writes until there is nothing to write or the socket is full.
    void pump_writes(const link_ptr& l) {
        if (!l || !l->opened || l->closed || l->writing || pumping_)
            return;
        pumping_ = true;
        while (!l->closed && !l->writing) {
            if (!out_.busy() && !out_.build(queue_, fsm_.may_write(), write_batch))
                break;
            const tls_attempt r = l->tls.try_write(out_.pending());
            if (r.what != tls_attempt::next::done) {
                l->writing = true;
                l->tls.socket().async_wait(
                    r.what == tls_attempt::next::wait_read ? boost::asio::socket_base::wait_read
                                                           : boost::asio::socket_base::wait_write,
                    [self = shared_from_this(), l](error_code ec) { self->on_writable(l, ec); });
                break;
            }
            if (r.ec) {
                write_failed(r.ec);
                pumping_ = false;
                return apply(fsm_.io_failed(now(), r.ec));
            }
            out_.consumed(r.bytes);
            if (!out_.busy())
                write_done();
        }
        pumping_ = false;
    }

    void on_writable(const link_ptr& l, error_code ec) {
        l->writing = false;
        if (stale(l))
            return write_failed(boost::asio::error::operation_aborted);
        if (ec) {
            write_failed(ec);
            return apply(fsm_.io_failed(now(), ec));
        }
        pump_writes(l);
    }

    void write_done() {
        for (std::size_t n = out_.frames(); n != 0; --n) {
            auto e = queue_.pop_front();
            if (e.control) {
                ++control_messages_sent_;
            } else {
                ++messages_sent_;
                bytes_sent_ += e.data.size();
            }
            if (e.handler)
                e.handler->post(ex_, error_code());
            queue_.recycle(std::move(e.data));
        }
        const session_time t = now();
        if (out_.frames() != 0)
            apply(fsm_.written(t, out_.last_id()));
        if (out_.has_close())
            apply(fsm_.close_written(t));
    }

    // The frames of a write that failed complete with the link's error (or
    // operation_aborted when the session is going away).
    void write_failed(error_code ec) {
        const error_code result =
            shut_down_ ? error_code(boost::asio::error::operation_aborted) : map_link_error(ec);
        for (std::size_t n = out_.frames(); n != 0; --n) {
            auto e = queue_.pop_front();
            if (e.handler)
                e.handler->post(ex_, result);
            queue_.recycle(std::move(e.data));
        }
        out_.reset();
    }

    static error_code map_link_error(error_code ec) {
        if (ec == boost::asio::error::operation_aborted)
            return make_error_code(client_errc::link_lost);
        return ec;
    }

    static constexpr std::size_t read_budget = 256 * 1024;
    static constexpr std::size_t write_batch = 64 * 1024;
    static constexpr std::size_t max_logged_devices = 1024;

    boost::asio::any_io_executor ex_;
    config cfg_;
    std::int64_t org_id_;
    base_url url_;
    std::string log_url_;
    std::optional<proxy_endpoint> proxy_; // the proxy to go through, if any
    bool endpoint_ready_ = false;         // url_, log_url_ and proxy_ are set
    std::shared_ptr<boost::asio::ssl::context> tls_;

    session_fsm fsm_;
    boost::asio::steady_timer timer_;
    std::optional<session_time> armed_;
    std::uint64_t timer_gen_ = 0;
    bool shut_down_ = false;

    stored_void_handler run_;
    diagnostics* run_diag_ = nullptr;
    diagnostics rejection_;
    link_ptr link_;

    subscription_tracker subs_;
    send_queue<stored_void_handler> queue_;
    ws_outbox out_;
    bool pumping_ = false;

    event_arena arena_;
    receive_filter filter_;
    event_batch pending_;
    stored_receive_handler receive_;
    std::uint64_t receive_id_ = 0;
    std::size_t dropped_unsubscribed_ = 0;
    std::unordered_set<device_number> logged_unsubscribed_;

    // Metrics (session_metrics); the rest comes from the machine and the queues.
    std::uint64_t links_lost_ = 0;
    std::uint64_t failed_attempts_total_ = 0;
    std::uint64_t reconnects_ = 0;
    failure_record last_failure_;
    std::uint64_t messages_received_ = 0;
    std::uint64_t bytes_received_ = 0;
    std::uint64_t messages_sent_ = 0;
    std::uint64_t bytes_sent_ = 0;
    std::uint64_t control_messages_sent_ = 0;
    std::uint64_t protocol_errors_ = 0;
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

ATOMCLOUD_DECL session_metrics session_get_metrics(const session_impl& impl) {
    return impl.metrics();
}

ATOMCLOUD_DECL bool session_is_shut_down(const session_impl& impl) noexcept {
    return impl.is_shut_down();
}

} // namespace atomcloud::detail

#endif
