#ifndef ATOMCLOUD_IMPL_REST_CLIENT_IPP
#define ATOMCLOUD_IMPL_REST_CLIENT_IPP

#include <atomcloud/detail/backoff.hpp>
#include <atomcloud/detail/connect.hpp>
#include <atomcloud/detail/endpoint.hpp>
#include <atomcloud/detail/latency_window.hpp>
#include <atomcloud/detail/proxy.hpp>
#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/detail/run_sync.hpp>
#include <atomcloud/detail/stored_handler.hpp>
#include <atomcloud/detail/tls.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/rest_client.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <unordered_set>

namespace atomcloud::detail {

namespace rest_net = boost::asio;
namespace rest_http = boost::beast::http;

// One pooled keep-alive connection.
struct rest_connection {
    rest_connection(const rest_net::any_io_executor& ex,
                    std::shared_ptr<rest_net::ssl::context> tls_context, std::uint64_t number)
        : tls(std::move(tls_context)), stream(ex, *tls), resolver(ex), id(number) {}

    std::shared_ptr<rest_net::ssl::context> tls; // outlives the stream
    tls_stream stream;
    rest_net::ip::tcp::resolver resolver;
    boost::beast::flat_buffer buffer;
    std::uint64_t id;
    std::uint64_t requests = 0;
    connect_step step = connect_step::none;
    std::string verify_failure; // why the certificate was rejected, if it was
    diagnostics proxy_refusal;  // why the proxy refused the tunnel, if it did

    void close() noexcept {
        error_code ignored;
        auto& tcp = boost::beast::get_lowest_layer(stream);
        tcp.socket().shutdown(rest_net::ip::tcp::socket::shutdown_both, ignored);
        tcp.close();
    }
};

// What the pool sees of a request.
class rest_op_base {
public:
    virtual ~rest_op_base() = default;
    // The pool hands over an idle connection, or (null) the right to open a new one.
    virtual void on_connection(std::shared_ptr<rest_connection> conn) = 0;
    // Abandon the request (per-operation cancellation or client shutdown).
    virtual void cancel() = 0;
};

class rest_client_impl : public std::enable_shared_from_this<rest_client_impl> {
public:
    rest_client_impl(rest_net::any_io_executor executor, config c)
        : ex(std::move(executor)), cfg(std::move(c)) {
        auto where = make_endpoint(cfg, setup_ec, setup_what);
        if (!where)
            return;
        url = std::move(where->url);
        proxy = std::move(where->proxy);
        error_code ec;
        std::string what;
        tls = make_tls_context(cfg.tls, ec, what);
        if (ec) {
            setup_ec = ec;
            setup_what = what + ": " + ec.message();
            return;
        }
        if (!cfg.tls.verify)
            warn_tls_verification_off(cfg.log);
    }

    std::size_t max_connections() const noexcept {
        return std::max<std::size_t>(1, cfg.max_connections);
    }

    // The pool. Only touched from the client's executor.
    void acquire(const std::shared_ptr<rest_op_base>& op) {
        if (!idle.empty()) {
            auto conn = std::move(idle.back());
            idle.pop_back();
            op->on_connection(std::move(conn));
        } else if (open < max_connections()) {
            ++open;
            op->on_connection(nullptr);
        } else {
            waiters.push_back(op);
        }
    }

    void release(std::shared_ptr<rest_connection> conn, bool reusable) {
        if (reusable && !shut_down) {
            if (!waiters.empty()) {
                auto next = std::move(waiters.front());
                waiters.pop_front();
                rest_net::post(ex, [next, conn = std::move(conn)]() mutable {
                    next->on_connection(std::move(conn));
                });
            } else {
                idle.push_back(std::move(conn));
            }
            return;
        }
        conn->close();
        release_slot();
    }

    void release_slot() {
        --open;
        if (!waiters.empty() && !shut_down) {
            auto next = std::move(waiters.front());
            waiters.pop_front();
            ++open;
            rest_net::post(ex, [next] { next->on_connection(nullptr); });
        }
    }

    bool remove_waiter(const rest_op_base* op) {
        const auto it = std::find_if(waiters.begin(), waiters.end(),
                                     [op](const auto& w) { return w.get() == op; });
        if (it == waiters.end())
            return false;
        waiters.erase(it);
        return true;
    }

    void close_idle() {
        for (auto& conn : idle) {
            conn->close();
            --open;
        }
        idle.clear();
    }

    void shutdown() {
        if (shut_down)
            return;
        shut_down = true;
        close_idle();
        std::vector<rest_op_base*> ops(active.begin(), active.end());
        for (auto* op : ops)
            op->cancel();
    }

    rest_net::any_io_executor ex;
    config cfg;
    std::optional<base_url> url;
    error_code setup_ec;
    std::string setup_what;
    std::optional<proxy_endpoint> proxy; // the proxy to go through, if any
    std::shared_ptr<rest_net::ssl::context> tls;

    std::vector<std::shared_ptr<rest_connection>> idle;
    std::size_t open = 0; // connections existing or being opened (idle + busy)
    std::deque<std::shared_ptr<rest_op_base>> waiters;
    std::unordered_set<rest_op_base*> active;
    bool shut_down = false;
    std::uint64_t next_connection_id = 1;
    rest_client::statistics stats;

    // Metrics (rest_metrics); the rest comes from stats and the pool.
    std::uint64_t outcomes[6] = {}; // by rest_outcome
    failure_record last_failure;
    latency_window<rest_latency_window> latency;

    // A request completed: count it (no allocation unless it failed).
    void note_outcome(const error_code& ec, std::chrono::steady_clock::duration took,
                      const std::string& target, const diagnostics& diag) {
        const rest_outcome o = rest_outcome_of(ec);
        ++outcomes[static_cast<int>(o)];
        if (rest_outcome_answered(o))
            latency.add(took);
        if (!ec || o == rest_outcome::cancelled)
            return;
        last_failure.ec = ec;
        last_failure.time = std::chrono::system_clock::now();
        try {
            std::string text = "GET " + redact(target, cfg.token) + ": " + ec.message();
            if (!diag.client_message().empty())
                text += ": " + diag.client_message();
            else if (diag.http_status() != 0 && ec == client_errc::http_status)
                text += " (HTTP " + std::to_string(diag.http_status()) + ")";
            last_failure.text = std::move(text);
        } catch (...) {
            last_failure.text.clear(); // out of memory: the code alone
        }
    }

    rest_metrics metrics() const {
        rest_metrics m;
        m.taken = std::chrono::steady_clock::now();
        m.ok = outcomes[static_cast<int>(rest_outcome::ok)];
        m.api_errors = outcomes[static_cast<int>(rest_outcome::api_error)];
        m.http_errors = outcomes[static_cast<int>(rest_outcome::http_error)];
        m.invalid_responses = outcomes[static_cast<int>(rest_outcome::invalid_response)];
        m.network_errors = outcomes[static_cast<int>(rest_outcome::network_error)];
        m.cancelled = outcomes[static_cast<int>(rest_outcome::cancelled)];
        m.requests = m.ok + m.api_errors + m.http_errors + m.invalid_responses + m.network_errors +
                     m.cancelled;
        m.attempts = stats.requests;
        m.retries = stats.retries;
        m.connections_opened = stats.connections_opened;
        m.reconnects = stats.reconnects;
        m.in_flight = active.size();
        m.waiting = waiters.size();
        m.connections = open;
        m.last_failure = last_failure;
        m.latency = latency.summary();
        return m;
    }
};

template <class T>
using rest_parse_fn = T (*)(int, std::string_view, const parse_context&, diagnostics&, error_code&);

// One GET request with its retries: acquire a connection, (connect,) write, read. All the
// I/O is here, compiled once; rest_request_op<T> adds parsing and the typed completion.
class rest_request_base : public rest_op_base,
                          public std::enable_shared_from_this<rest_request_base> {
public:
    rest_request_base(std::shared_ptr<rest_client_impl> client, std::string target,
                      diagnostics* user_diag)
        : client_(std::move(client)), target_(std::move(target)), user_diag_(user_diag),
          timer_(client_->ex),
          // Requests started together (many clients after an outage) spread their retries.
          backoff_(client_->cfg.retry.backoff,
                   reinterpret_cast<std::uintptr_t>(this) ^
                       static_cast<std::uint64_t>(
                           std::chrono::steady_clock::now().time_since_epoch().count())) {}

    ~rest_request_base() override { client_->active.erase(this); }

    // Called where the operation is initiated; the client's state is only touched from
    // its executor.
    void start(rest_net::cancellation_slot slot) {
        started_ = std::chrono::steady_clock::now();
        if (slot.is_connected()) {
            slot_ = slot;
            slot.assign([weak = weak_from_this()](rest_net::cancellation_type type) {
                using ct = rest_net::cancellation_type;
                if ((type & (ct::terminal | ct::partial | ct::total)) != ct::none)
                    if (auto self = weak.lock())
                        self->cancel();
            });
        }
        // Never complete inside the initiating function.
        rest_net::post(client_->ex, [self = shared_from_this()] {
            self->client_->active.insert(self.get());
            self->begin_attempt();
        });
    }

    void cancel() override {
        if (finished_ || cancelled_)
            return;
        cancelled_ = true;
        switch (phase_) {
        case phase::waiting:
            // Still queued: complete now (posted: we may be inside a cancellation slot).
            // Otherwise a connection is already on its way to on_connection().
            if (client_->remove_waiter(this))
                rest_net::post(client_->ex, [self = shared_from_this()] {
                    self->finish(rest_net::error::operation_aborted);
                });
            break;
        case phase::connecting:
        case phase::io:
            if (conn_) {
                conn_->resolver.cancel();
                boost::beast::get_lowest_layer(conn_->stream).cancel();
            }
            break;
        case phase::backoff:
            timer_.cancel();
            break;
        case phase::starting:
        case phase::done:
            break;
        }
    }

    void on_connection(std::shared_ptr<rest_connection> conn) override {
        if (cancelled_) {
            if (conn)
                client_->release(std::move(conn), true); // untouched: still good
            else
                client_->release_slot();
            return finish(rest_net::error::operation_aborted);
        }
        if (conn) {
            conn_ = std::move(conn);
            return send();
        }
        conn_ = std::make_shared<rest_connection>(client_->ex, client_->tls,
                                                  client_->next_connection_id++);
        phase_ = phase::connecting;
        // (Verification off was announced once, when the client was made.)
        async_connect_tls(conn_->stream, conn_->resolver, *client_->url,
                          client_->proxy ? &*client_->proxy : nullptr, cfg().user_agent,
                          client_->cfg.tls.verify, client_->cfg.timeouts, &conn_->step,
                          &conn_->verify_failure, &conn_->proxy_refusal,
                          [self = shared_from_this()](error_code ec) { self->on_connected(ec); });
    }

protected:
    // Parses a complete response into the result; on failure sets ec and fills diag_.
    virtual void parse(int http_status, std::string_view body, error_code& ec) = 0;
    // Delivers the outcome to the handler (the parsed value on success).
    virtual void deliver(error_code ec) = 0;

    const config& cfg() const noexcept { return client_->cfg; }
    const rest_net::any_io_executor& executor() const noexcept { return client_->ex; }
    parse_context make_parse_context() const {
        parse_context ctx;
        ctx.token = cfg().token;
        ctx.default_offset = cfg().server_utc_offset;
        ctx.log = &cfg().log;
        return ctx;
    }

    diagnostics diag_;

private:
    enum class phase { starting, waiting, connecting, io, backoff, done };

    void begin_attempt() {
        if (cancelled_ || client_->shut_down)
            return finish(rest_net::error::operation_aborted);
        if (client_->setup_ec) {
            diag_.clear();
            diag_.set_client_message(client_->setup_what);
            return finish(client_->setup_ec);
        }
        ++attempt_;
        phase_ = phase::waiting;
        client_->acquire(shared_from_this());
    }

    void on_connected(error_code ec) {
        if (cancelled_) {
            drop_connection();
            return finish(rest_net::error::operation_aborted);
        }
        if (ec) {
            diag_.clear();
            int proxy_status = 0;
            if (ec == client_errc::certificate_rejected)
                diag_.set_client_message("TLS certificate rejected: " + conn_->verify_failure +
                                         " (server " + client_->url->host_header() + ")");
            else if (conn_->step == connect_step::proxy && !conn_->proxy_refusal.empty()) {
                diag_ = std::move(conn_->proxy_refusal);
                proxy_status = diag_.http_status();
            } else if (client_->proxy && conn_->step != connect_step::tls_handshake)
                diag_.set_client_message(std::string(to_string(conn_->step)) + " to the proxy " +
                                         client_->proxy->address() + " failed: " + ec.message());
            else
                diag_.set_client_message(std::string(to_string(conn_->step)) + " to " +
                                         client_->url->host_header() + " failed: " + ec.message());
            drop_connection();
            if (ec == client_errc::proxy_rejected || ec == client_errc::proxy_protocol_error)
                return fail(ec, proxy_status);
            // A certificate that does not verify will not verify on the next attempt.
            if (ec == client_errc::certificate_rejected ||
                ec.category() == rest_net::error::get_ssl_category())
                return finish(ec);
            return fail(ec, 0);
        }
        ++client_->stats.connections_opened;
        send();
    }

    void send() {
        phase_ = phase::io;
        req_ = {};
        req_.method(rest_http::verb::get);
        req_.target(target_);
        req_.version(11);
        req_.set(rest_http::field::host, client_->url->host_header());
        req_.set(rest_http::field::user_agent, cfg().user_agent);
        req_.set(rest_http::field::accept, "application/json");
        if (!cfg().token.empty())
            req_.set("token", cfg().token);
        req_.keep_alive(true);
        reused_ = conn_->requests > 0;
        ++conn_->requests;
        ++client_->stats.requests;
        if (reused_)
            ++client_->stats.reused;
        attempt_started_ = std::chrono::steady_clock::now();
        boost::beast::get_lowest_layer(conn_->stream).expires_after(cfg().timeouts.request);
        rest_http::async_write(
            conn_->stream, req_,
            [self = shared_from_this()](error_code ec, std::size_t) { self->on_written(ec); });
    }

    void on_written(error_code ec) {
        if (cancelled_) {
            drop_connection();
            return finish(rest_net::error::operation_aborted);
        }
        if (ec) {
            if (try_reconnect(ec, true))
                return;
            drop_connection();
            explain_io_error(ec, "writing the request");
            return fail(ec, 0);
        }
        parser_.emplace();
        parser_->body_limit(cfg().max_response_size);
        rest_http::async_read(
            conn_->stream, conn_->buffer, *parser_,
            [self = shared_from_this()](error_code e, std::size_t n) { self->on_read(e, n); });
    }

    void on_read(error_code ec, std::size_t n) {
        if (conn_)
            boost::beast::get_lowest_layer(conn_->stream).expires_never();
        if (cancelled_) {
            drop_connection();
            return finish(rest_net::error::operation_aborted);
        }
        if (ec) {
            const bool nothing_received =
                n == 0 && !parser_->got_some() && conn_->buffer.size() == 0;
            if (try_reconnect(ec, nothing_received))
                return;
            drop_connection();
            if (ec == rest_http::error::body_limit) {
                diag_.clear();
                diag_.set_client_message("the response body exceeds max_response_size (" +
                                         std::to_string(cfg().max_response_size) + " bytes)");
                return finish(client_errc::response_too_large);
            }
            explain_io_error(ec, "reading the response");
            return fail(ec, 0);
        }
        auto& res = parser_->get();
        const int status = static_cast<int>(res.result_int());
        const bool keep_alive = res.keep_alive();
        const std::string body = std::move(res.body());
        parser_.reset();
        log_request(status);
        client_->release(std::move(conn_), keep_alive);
        conn_.reset();

        error_code pec;
        parse(status, body, pec);
        if (pec)
            return fail(pec, status);
        finish({});
    }

    // A reused keep-alive connection the server closed while idle: open a fresh one,
    // once per request. The other idle connections are most likely gone too.
    bool try_reconnect(const error_code& ec, bool nothing_received) {
        if (!reused_ || reconnected_ || !nothing_received || !is_connection_closed(ec))
            return false;
        reconnected_ = true;
        ++client_->stats.reconnects;
        if (cfg().log.enabled(log_level::debug))
            cfg().log.log(log_level::debug, "GET " + redacted_target() + ": connection #" +
                                                std::to_string(conn_->id) +
                                                " was closed by the server (" + ec.message() +
                                                "); reconnecting");
        drop_connection();
        client_->close_idle();
        phase_ = phase::waiting;
        client_->acquire(shared_from_this());
        return true;
    }

    void explain_io_error(const error_code& ec, const char* step) {
        diag_.clear();
        if (ec == boost::beast::error::timeout)
            diag_.set_client_message(std::string("no complete response within ") +
                                     std::to_string(cfg().timeouts.request.count()) +
                                     " ms (timeouts.request)");
        else if (is_connection_closed(ec))
            diag_.set_client_message(std::string(step) +
                                     ": the server closed the connection before the response "
                                     "was complete");
        else
            diag_.set_client_message(std::string(step) + " failed: " + ec.message());
    }

    void drop_connection() {
        if (conn_) {
            client_->release(std::move(conn_), false);
            conn_.reset();
        }
    }

    // A failed attempt: retry if transient and attempts remain, else complete.
    void fail(error_code ec, int http_status) {
        if (cancelled_)
            return finish(rest_net::error::operation_aborted);
        const unsigned max_attempts = std::max(1u, cfg().retry.max_attempts);
        if (!is_transient(ec, http_status) || attempt_ >= max_attempts || client_->shut_down)
            return finish(ec);
        const auto delay = backoff_.next();
        ++client_->stats.retries;
        if (cfg().log.enabled(log_level::info))
            cfg().log.log(log_level::info, "GET " + redacted_target() + ": " + ec.message() +
                                               "; retrying in " + std::to_string(delay.count()) +
                                               " ms (attempt " + std::to_string(attempt_ + 1) +
                                               " of " + std::to_string(max_attempts) + ")");
        phase_ = phase::backoff;
        timer_.expires_after(delay);
        timer_.async_wait([self = shared_from_this()](error_code) { self->begin_attempt(); });
    }

    void finish(error_code ec) {
        if (finished_)
            return;
        finished_ = true;
        phase_ = phase::done;
        if (slot_.is_connected())
            slot_.clear();
        client_->active.erase(this);
        client_->note_outcome(ec, std::chrono::steady_clock::now() - started_, target_, diag_);
        if (ec && cfg().log.enabled(log_level::debug)) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - started_)
                                .count();
            cfg().log.log(log_level::debug, "GET " + redacted_target() + " failed after " +
                                                std::to_string(attempt_) + " attempt(s), " +
                                                std::to_string(ms) + " ms: " + ec.message());
        }
        if (user_diag_)
            *user_diag_ = diag_;
        deliver(ec);
    }

    void log_request(int status) const {
        if (!cfg().log.enabled(log_level::debug))
            return;
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - attempt_started_)
                            .count();
        cfg().log.log(log_level::debug,
                      "GET " + redacted_target() + " -> HTTP " + std::to_string(status) + " in " +
                          std::to_string(us / 1000) + "." + std::to_string(us / 100 % 10) +
                          " ms (connection #" + std::to_string(conn_->id) +
                          (reused_ ? ", reused)" : ", new)"));
    }

    std::string redacted_target() const { return redact(target_, cfg().token); }

    std::shared_ptr<rest_client_impl> client_;
    std::string target_;
    diagnostics* user_diag_;
    rest_net::cancellation_slot slot_;
    rest_net::steady_timer timer_;
    backoff backoff_;

    phase phase_ = phase::starting;
    bool cancelled_ = false;
    bool finished_ = false;
    bool reused_ = false;
    bool reconnected_ = false;
    unsigned attempt_ = 0;
    std::shared_ptr<rest_connection> conn_;
    rest_http::request<rest_http::empty_body> req_;
    std::optional<rest_http::response_parser<rest_http::string_body>> parser_;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point attempt_started_;
};

// The typed part: parse into T, complete the handler on its executor.
template <class T>
class rest_request_op final : public rest_request_base {
public:
    rest_request_op(std::shared_ptr<rest_client_impl> client, std::string target,
                    rest_parse_fn<T> parse_fn, diagnostics* user_diag, rest_handler<T> handler)
        : rest_request_base(client, std::move(target), user_diag), parse_fn_(parse_fn),
          handler_(std::move(handler), client->ex) {}

    void start() { rest_request_base::start(handler_.slot()); }

private:
    void parse(int http_status, std::string_view body, error_code& ec) override {
        value_ = parse_fn_(http_status, body, make_parse_context(), diag_, ec);
    }

    void deliver(error_code ec) override {
        if (ec)
            value_ = T();
        handler_.post(executor(), ec, std::move(value_));
    }

    rest_parse_fn<T> parse_fn_;
    stored_handler<void(error_code, T)> handler_;
    T value_{};
};

inline std::string_view rest_prefix(const rest_client_impl& c) {
    return c.url ? std::string_view(c.url->path_prefix) : std::string_view();
}

// The endpoint table: each operation's request target and parser.
template <class T>
struct rest_endpoint {
    std::string target;
    rest_parse_fn<T> parse;
};

inline rest_endpoint<std::vector<org>> endpoint_of(const rest_client_impl& c,
                                                   const rest_op::list_orgs&) {
    return {orgs_target(rest_prefix(c)), &parse_orgs};
}
inline rest_endpoint<std::vector<group>> endpoint_of(const rest_client_impl& c,
                                                     const rest_op::list_groups& op) {
    return {groups_target(rest_prefix(c), op.org_id), &parse_groups};
}
inline rest_endpoint<std::vector<device>> endpoint_of(const rest_client_impl& c,
                                                      const rest_op::list_devices& op) {
    return {devices_target(rest_prefix(c), op.org_id, op.group_id), &parse_devices};
}
inline rest_endpoint<device_state> endpoint_of(const rest_client_impl& c,
                                               const rest_op::device_state& op) {
    return {device_state_target(rest_prefix(c), op.org_id, op.device_id), &parse_device_state};
}
inline rest_endpoint<packet_page> endpoint_of(const rest_client_impl& c,
                                              const rest_op::packets& op) {
    return {packets_target(rest_prefix(c), op.org_id, op.device, op.query, c.cfg.server_utc_offset),
            &parse_packet_page};
}

template <class Op>
void rest_call<Op>::start(rest_client_impl& c, Op op, diagnostics* diag,
                          rest_handler<result_type> handler) {
    auto e = endpoint_of(c, op);
    std::make_shared<rest_request_op<result_type>>(c.shared_from_this(), std::move(e.target),
                                                   e.parse, diag, std::move(handler))
        ->start();
}

template <class Op>
typename Op::result_type rest_call<Op>::run(rest_client_impl& c, Op op, error_code& ec,
                                            diagnostics& diag) {
    return run_sync<result_type>(c.ex, ec, [&](rest_handler<result_type> h) {
        start(c, std::move(op), &diag, std::move(h));
    });
}

#ifdef ATOMCLOUD_SEPARATE_COMPILATION
// Compiled once, here, for every operation.
template struct rest_call<rest_op::list_orgs>;
template struct rest_call<rest_op::list_groups>;
template struct rest_call<rest_op::list_devices>;
template struct rest_call<rest_op::device_state>;
template struct rest_call<rest_op::packets>;
#endif

} // namespace atomcloud::detail

namespace atomcloud {

ATOMCLOUD_DECL rest_client::rest_client(executor_type ex, config cfg)
    : ex_(ex), impl_(std::make_shared<detail::rest_client_impl>(std::move(ex), std::move(cfg))) {
}

ATOMCLOUD_DECL rest_client::rest_client(boost::asio::io_context& ctx, config cfg)
    : rest_client(executor_type(ctx.get_executor()), std::move(cfg)) {
}

ATOMCLOUD_DECL rest_client::~rest_client() {
    if (impl_)
        impl_->shutdown();
}

ATOMCLOUD_DECL rest_client::rest_client(rest_client&& other) noexcept
    : ex_(other.ex_), impl_(std::move(other.impl_)) {
}

ATOMCLOUD_DECL rest_client& rest_client::operator=(rest_client&& other) noexcept {
    if (this != &other) {
        if (impl_)
            impl_->shutdown();
        ex_ = other.ex_;
        impl_ = std::move(other.impl_);
    }
    return *this;
}

ATOMCLOUD_DECL const config& rest_client::get_config() const noexcept {
    return impl_->cfg;
}

ATOMCLOUD_DECL rest_client::statistics rest_client::stats() const noexcept {
    return impl_->stats;
}

ATOMCLOUD_DECL rest_metrics rest_client::metrics() const {
    return impl_ ? impl_->metrics() : rest_metrics{};
}

ATOMCLOUD_DECL rest_metrics detail::rest_get_metrics(const detail::rest_client_impl& c) {
    return c.metrics();
}

ATOMCLOUD_DECL bool detail::rest_is_shut_down(const detail::rest_client_impl& c) noexcept {
    return c.shut_down;
}

ATOMCLOUD_DECL const boost::asio::any_io_executor&
detail::rest_executor(const detail::rest_client_impl& c) noexcept {
    return c.ex;
}

ATOMCLOUD_DECL void rest_client::close_idle_connections() {
    impl_->close_idle();
}

} // namespace atomcloud

#endif
