// The network side of the emulator: one TLS listener serving HTTPS and WSS with
// Boost.Beast, each connection a coroutine on the server's own io_context thread.
#include "certificate.hpp"
#include "cloud.hpp"
#include "fixture.hpp"

#include <atomcloud/emulator/server.hpp>
#include <atomcloud/payload.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <list>
#include <random>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace atomcloud::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using detail::cloud;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
using ws_stream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

std::string read_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error(std::string("cannot read the ") + what + " file '" + path + "'");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

bool is_http_protocol_error(const error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_target).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message;
}

std::string truncate_reason(std::string reason) {
    // A close frame's reason is at most 123 bytes; cut on a UTF-8 boundary.
    if (reason.size() > 123) {
        std::size_t n = 123;
        while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80)
            --n;
        reason.resize(n);
    }
    return reason;
}

} // namespace

struct connection;

struct server::impl : std::enable_shared_from_this<server::impl> {
    explicit impl(options o) : opts(std::move(o)) {}

    options opts;
    std::string ca;
    std::string url;
    tcp::endpoint endpoint; // with the bound port once listening
    std::unique_ptr<ssl::context> tls;
    std::unique_ptr<cloud> core;
    std::unique_ptr<asio::io_context> ioc;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::shared_ptr<tcp::acceptor> acceptor;
    std::unique_ptr<asio::steady_timer> resume_timer;
    std::vector<std::shared_ptr<asio::steady_timer>> simulation_timers;
    std::unordered_set<connection*> connections;
    /// The connections still in their TLS handshake, oldest first.
    std::list<connection*> handshaking;
    std::thread thread;
    std::thread::id thread_id;
    std::future<void> finished;
    std::atomic<bool> running{false};
    mutable std::shared_mutex lifecycle;
    bool stopping = false;

    void start();
    void shutdown();
    void listen();
    void close_listener();
    /// Closes the connections (all, or only WebSocket sessions) but `except`.
    void abort_connections(bool websocket_only, const connection* except = nullptr);
    /// Drops every WebSocket connection and refuses upgrades for `refuse_for`.
    void drop_websockets(std::chrono::milliseconds refuse_for);
    void restart_now(const connection* except = nullptr);
    void suspend_now(const connection* except = nullptr);
    void resume_now();
    void start_simulation();
    asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acc);
    asio::awaitable<void> simulate(std::shared_ptr<asio::steady_timer> timer,
                                   std::chrono::milliseconds interval, bool heartbeat);

    /// Runs f on the server's thread and returns its result (or rethrows its exception).
    template <class F>
    auto call(F&& f) const -> std::invoke_result_t<F&> {
        using result = std::invoke_result_t<F&>;
        if (std::this_thread::get_id() == thread_id)
            throw std::logic_error("atomcloud::emulator::server: called from the server's own "
                                   "thread (inside a handler); call it from another thread");
        std::shared_lock lock(lifecycle);
        if (!running)
            throw std::logic_error("atomcloud::emulator::server: the server is stopped");
        std::packaged_task<result()> task(std::forward<F>(f));
        auto fut = task.get_future();
        asio::post(*ioc, std::move(task));
        return fut.get();
    }

    template <class Pred>
    bool wait_until(Pred pred, std::chrono::milliseconds timeout) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (call(pred))
                return true;
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    std::size_t device_index(std::string_view number) const {
        const auto* d = core->devices().find_device(number);
        if (!d)
            throw std::out_of_range("atomcloud::emulator: no device '" + std::string(number) +
                                    "' in the fixture");
        return static_cast<std::size_t>(d - core->devices().devices.data());
    }
};

/// One TLS connection: HTTP requests, possibly upgraded to a WebSocket session.
struct connection : std::enable_shared_from_this<connection> {
    connection(server::impl& s, tcp::socket socket)
        : srv(s), core(*s.core), ws(std::move(socket), *s.tls), timer(ws.get_executor()),
          wake(ws.get_executor()) {
        error_code ec;
        const auto ep = beast::get_lowest_layer(ws).socket().remote_endpoint(ec);
        peer = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
        srv.connections.insert(this);
        handshake_entry = srv.handshaking.insert(srv.handshaking.end(), this);
        ++core.open_connections;
    }
    ~connection() {
        end_tls_handshake();
        srv.connections.erase(this);
        --core.open_connections;
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    server::impl& srv;
    cloud& core;
    ws_stream ws;
    asio::steady_timer timer; // fault delays
    asio::steady_timer wake;  // wakes the WebSocket writer
    std::deque<std::shared_ptr<const bytes>> outbound;
    std::size_t outbound_bytes = 0;
    bool is_websocket = false;
    bool closed = false;
    std::string peer;
    std::optional<std::list<connection*>::iterator> handshake_entry; // while handshaking

    /// Leaves the list of handshaking connections (idempotent).
    void end_tls_handshake() noexcept {
        if (handshake_entry) {
            srv.handshaking.erase(*handshake_entry);
            handshake_entry.reset();
        }
    }

    /// Closes the socket at once (no TLS or WebSocket closing handshake).
    void abort() noexcept {
        end_tls_handshake();
        closed = true;
        outbound.clear();
        outbound_bytes = 0;
        beast::get_lowest_layer(ws).close();
        timer.cancel();
        wake.cancel();
    }

    void enqueue(const std::shared_ptr<const bytes>& frame) {
        if (closed)
            return;
        if (outbound_bytes + frame->size() > srv.opts.max_outbound_bytes_per_connection) {
            core.log(log_level::warning,
                     "WebSocket client " + peer + " does not read fast enough (" +
                         std::to_string(outbound_bytes) + " bytes queued): disconnecting it");
            abort();
            return;
        }
        outbound.push_back(frame);
        outbound_bytes += frame->size();
        if (outbound.size() == 1)
            wake.cancel();
    }

    asio::awaitable<void> run();
    asio::awaitable<void> serve_websocket(detail::http_request req);
    asio::awaitable<void> write_reply(detail::http_reply r, unsigned version, bool keep_alive);
    asio::awaitable<void> write_truncated(const detail::http_request& req);
    asio::awaitable<void> graceful_close();
    asio::awaitable<void> close_policy(std::string reason);
    asio::awaitable<void> writer();
};

namespace {

/// The cloud's view of a WebSocket session: frames go to the connection's queue.
struct ws_link final : detail::app_link {
    ws_link(std::size_t org, connection& c) noexcept : app_link(org), conn(c) {}
    void deliver(const std::shared_ptr<const bytes>& frame) override { conn.enqueue(frame); }
    connection& conn;
};

} // namespace

asio::awaitable<void> connection::run() {
    auto& lowest = beast::get_lowest_layer(ws);
    lowest.expires_after(srv.opts.tls_handshake_timeout);
    auto [hec] = co_await ws.next_layer().async_handshake(ssl::stream_base::server, use_nothrow);
    end_tls_handshake();
    if (hec || closed) {
        if (!closed)
            core.log(log_level::debug, "TLS handshake with " + peer + " failed: " + hec.message());
        co_return;
    }
    if (srv.connections.size() - srv.handshaking.size() > srv.opts.max_connections) {
        core.log(log_level::warning, "too many connections (" +
                                         std::to_string(srv.opts.max_connections) +
                                         " established): closing " + peer);
        co_return;
    }

    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(srv.opts.max_request_header_size));
        parser.body_limit(srv.opts.max_request_body_size);
        lowest.expires_after(srv.opts.http_idle_timeout);
        auto [rec, n] =
            co_await http::async_read_header(ws.next_layer(), buffer, parser, use_nothrow);
        if (!rec && !closed && !parser.is_done()) {
            // A client that waits for "100 Continue" before sending the body (curl does
            // for larger bodies) gets it.
            if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
                auto [wec, wn] = co_await asio::async_write(
                    ws.next_layer(), asio::buffer(go_on.data(), go_on.size()), use_nothrow);
                rec = wec;
            }
            if (!rec)
                std::tie(rec, n) =
                    co_await http::async_read(ws.next_layer(), buffer, parser, use_nothrow);
        }
        if (closed)
            co_return;
        if (rec) {
            if (rec == http::error::header_limit || rec == http::error::body_limit ||
                is_http_protocol_error(rec)) {
                auto r = cloud::error_reply(
                    rec == http::error::header_limit ? http::status::request_header_fields_too_large
                    : rec == http::error::body_limit ? http::status::payload_too_large
                                                     : http::status::bad_request,
                    400, "参数错误 (bad HTTP request: " + rec.message() + ")");
                core.log(log_level::info, "bad HTTP request from " + peer + ": " + rec.message());
                co_await write_reply(std::move(r), 11, false);
                co_await graceful_close();
            }
            co_return;
        }
        detail::http_request req = parser.release();

        if (websocket::is_upgrade(req)) {
            co_await serve_websocket(std::move(req));
            co_return;
        }

        const bool keep_alive = req.keep_alive();
        detail::http_reply reply;
        std::optional<fault> f;
        if (cloud::is_api_target(req.target()))
            f = core.take_fault();
        if (f) {
            core.log(log_level::info, std::string("fault ") + to_string(f->what) + " on " +
                                          std::string(req.method_string()) + " " +
                                          std::string(req.target()));
            switch (f->what) {
            case fault::kind::close_connection:
                abort();
                co_return;
            case fault::kind::truncated_body:
                co_await write_truncated(req);
                abort();
                co_return;
            case fault::kind::delay:
                timer.expires_after(f->delay);
                co_await timer.async_wait(use_nothrow);
                if (closed)
                    co_return;
                reply = core.handle_http(req);
                break;
            default:
                reply = core.fault_reply(*f);
                break;
            }
        } else {
            reply = core.handle_http(req);
        }
        if (core.logs(log_level::info))
            core.log(log_level::info, std::string(req.method_string()) + " " +
                                          std::string(req.target()) + " -> " +
                                          std::to_string(static_cast<unsigned>(reply.status)));

        const auto after = reply.after;
        const auto suspend_for = reply.suspend_for;
        const auto refuse_for = reply.refuse_websockets_for;
        const bool keep = keep_alive && after != detail::after_reply::restart &&
                          after != detail::after_reply::suspend;
        // The action is done before the reply, so that a client reading the reply sees its
        // effect; only this connection itself is closed after it.
        switch (after) {
        case detail::after_reply::drop_connections:
            srv.drop_websockets(refuse_for);
            break;
        case detail::after_reply::restart:
            srv.restart_now(this);
            break;
        case detail::after_reply::suspend:
            srv.suspend_now(this);
            srv.resume_timer->expires_after(suspend_for);
            srv.resume_timer->async_wait([s = &srv](const error_code& ec) {
                if (!ec && !s->stopping)
                    s->resume_now();
            });
            break;
        case detail::after_reply::none:
            break;
        }
        co_await write_reply(std::move(reply), req.version(), keep);
        if (closed)
            co_return;
        if (after == detail::after_reply::restart || after == detail::after_reply::suspend) {
            abort();
            co_return;
        }
        if (!keep) {
            co_await graceful_close();
            co_return;
        }
    }
}

asio::awaitable<void> connection::write_reply(detail::http_reply r, unsigned version,
                                              bool keep_alive) {
    http::response<http::string_body> res{r.status, version};
    res.set(http::field::server, "atomcloud-emulator");
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::pragma, "no-cache");
    if (!r.allow.empty())
        res.set(http::field::allow, r.allow);
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    beast::get_lowest_layer(ws).expires_after(srv.opts.http_idle_timeout);
    auto [ec, n] = co_await http::async_write(ws.next_layer(), res, use_nothrow);
    if (ec)
        abort();
}

asio::awaitable<void> connection::write_truncated(const detail::http_request& req) {
    auto full = core.handle_http(req);
    const std::string body = std::move(full.body);
    std::string out =
        "HTTP/1.1 200 OK\r\nServer: atomcloud-emulator\r\nContent-Type: " + full.content_type +
        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
        body.substr(0, body.size() / 2);
    beast::get_lowest_layer(ws).expires_after(srv.opts.http_idle_timeout);
    co_await asio::async_write(ws.next_layer(), asio::buffer(out), use_nothrow);
}

asio::awaitable<void> connection::graceful_close() {
    if (closed)
        co_return;
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(2));
    co_await ws.next_layer().async_shutdown(use_nothrow);
    abort();
}

asio::awaitable<void> connection::serve_websocket(detail::http_request req) {
    if (core.refusing_websockets()) {
        // An injected outage: refused before anything else, and never a session.
        core.log(log_level::info, "WebSocket upgrade " +
                                      core.admit_websocket(req.target()).log_target + " from " +
                                      peer + " refused: 503 (injected outage)");
        co_await write_reply(cloud::websocket_outage_reply(), req.version(), false);
        co_await graceful_close();
        co_return;
    }
    auto admission = core.admit_websocket(req.target());
    if (!admission.accepted) {
        core.log(log_level::info,
                 "WebSocket upgrade " + admission.log_target + " from " + peer + " rejected: " +
                     std::to_string(static_cast<unsigned>(admission.rejection.status)));
        co_await write_reply(std::move(admission.rejection), req.version(), false);
        co_await graceful_close();
        co_return;
    }

    beast::get_lowest_layer(ws).expires_never();
    websocket::stream_base::timeout limits{};
    limits.handshake_timeout = srv.opts.tls_handshake_timeout;
    limits.idle_timeout = srv.opts.websocket_idle_timeout;
    limits.keep_alive_pings = true;
    ws.set_option(limits);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "atomcloud-emulator"); }));
    ws.read_message_max(0); // the limit is enforced below, with a policy-error close
    ws.binary(true);
    // From here on drop_connections() takes it, also while in the WebSocket handshake.
    is_websocket = true;
    auto [aec] = co_await ws.async_accept(req, use_nothrow);
    if (aec || closed) {
        if (!closed)
            core.log(log_level::info,
                     "WebSocket handshake with " + peer + " failed: " + aec.message());
        co_return;
    }

    ws_link link(admission.org, *this);
    core.attach(link);
    struct detach_guard {
        cloud& c;
        ws_link& l;
        ~detach_guard() { c.detach(l); }
    } guard{core, link};
    core.log(log_level::info, "WebSocket session from " + peer + " on " + admission.log_target);

    asio::co_spawn(
        ws.get_executor(),
        [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->writer(); },
        asio::detached);

    const std::size_t limit = srv.opts.max_inbound_message_size;
    beast::flat_buffer message;
    for (;;) {
        message.clear();
        bool first = true;
        std::string violation;
        do {
            auto [rec, n] = co_await ws.async_read_some(message.prepare(limit + 1 - message.size()),
                                                        use_nothrow);
            if (rec || closed) {
                if (!closed)
                    core.log(log_level::info,
                             "WebSocket session from " + peer + " ended: " + rec.message());
                abort();
                co_return;
            }
            message.commit(n);
            if (first && ws.got_text()) {
                violation = "text frames are not accepted: the protocol uses binary frames";
                break;
            }
            first = false;
            if (message.size() > limit) {
                violation = "message too large: the limit is " + std::to_string(limit) + " bytes";
                break;
            }
        } while (!ws.is_message_done());

        if (violation.empty()) {
            const bytes_view data(static_cast<const std::uint8_t*>(message.data().data()),
                                  message.size());
            if (auto ec = core.on_app_message(link, data)) {
                violation = ec.message();
                if (violation.rfind("malformed frame", 0) != 0)
                    violation = "malformed frame: " + violation;
            }
        }
        if (!violation.empty()) {
            core.log(log_level::warning,
                     "closing WebSocket session from " + peer + " (1008): " + violation);
            co_await close_policy(std::move(violation));
            co_return;
        }
    }
}

asio::awaitable<void> connection::close_policy(std::string reason) {
    closed = true; // no more deliveries; the writer stops
    outbound.clear();
    outbound_bytes = 0;
    wake.cancel();
    websocket::close_reason cr(websocket::close_code::policy_error);
    cr.reason = truncate_reason(std::move(reason));
    co_await ws.async_close(cr, use_nothrow);
    beast::get_lowest_layer(ws).close();
    timer.cancel();
}

asio::awaitable<void> connection::writer() {
    while (!closed) {
        if (outbound.empty()) {
            wake.expires_at(asio::steady_timer::time_point::max());
            co_await wake.async_wait(use_nothrow);
            continue;
        }
        auto frame = outbound.front();
        auto [ec, n] = co_await ws.async_write(asio::buffer(*frame), use_nothrow);
        if (closed)
            co_return;
        if (ec) {
            abort();
            co_return;
        }
        outbound.pop_front();
        outbound_bytes -= frame->size();
    }
}

// ---- the listener and the server's life -----------------------------------------------

void server::impl::start() {
    // Fixture.
    std::string fixture_text;
    if (!opts.fixture_json.empty())
        fixture_text = opts.fixture_json;
    else if (!opts.fixture_file.empty())
        fixture_text = read_file(opts.fixture_file, "fixture");
    else
        fixture_text = std::string(detail::default_fixture_json());
    auto fx = detail::parse_fixture(fixture_text);
    if (opts.token.empty())
        throw std::runtime_error("atomcloud::emulator: the token must not be empty");

    // Address.
    error_code ec;
    auto address = asio::ip::make_address(
        opts.listen_address == "localhost" ? std::string("127.0.0.1") : opts.listen_address, ec);
    if (ec)
        throw std::runtime_error("atomcloud::emulator: bad listen address '" + opts.listen_address +
                                 "' (give an IP address)");
    endpoint = tcp::endpoint(address, opts.port);

    // TLS.
    tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                     ssl::context::single_dh_use);
    if (!opts.cert_file.empty() || !opts.key_file.empty()) {
        if (opts.cert_file.empty() || opts.key_file.empty())
            throw std::runtime_error("atomcloud::emulator: give both a certificate and a key file");
        const std::string chain = read_file(opts.cert_file, "certificate");
        const std::string key = read_file(opts.key_file, "private key");
        tls->use_certificate_chain(asio::buffer(chain), ec);
        if (ec)
            throw std::runtime_error("atomcloud::emulator: cannot use the certificate '" +
                                     opts.cert_file + "': " + ec.message());
        tls->use_private_key(asio::buffer(key), ssl::context::pem, ec);
        if (ec)
            throw std::runtime_error("atomcloud::emulator: cannot use the private key '" +
                                     opts.key_file + "': " + ec.message());
        ca = opts.ca_file.empty() ? chain : read_file(opts.ca_file, "CA");
    } else {
        std::vector<std::string> ips{"127.0.0.1", "::1"};
        if (!address.is_unspecified() && !address.is_loopback())
            ips.push_back(address.to_string());
        auto pem = detail::make_self_signed_certificate({"localhost"}, ips);
        tls->use_certificate_chain(asio::buffer(pem.certificate));
        tls->use_private_key(asio::buffer(pem.private_key), ssl::context::pem);
        ca = std::move(pem.certificate);
    }

    core = std::make_unique<cloud>(opts, std::move(fx));
    ioc = std::make_unique<asio::io_context>(1);
    work.emplace(ioc->get_executor());
    resume_timer = std::make_unique<asio::steady_timer>(*ioc);

    listen();
    endpoint.port(acceptor->local_endpoint().port());
    std::string host = address.to_string();
    if (address.is_unspecified())
        host = address.is_v6() ? "::1" : "127.0.0.1";
    url = "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
          std::to_string(endpoint.port());

    if (opts.simulate.connect_all)
        for (std::size_t i = 0; i < core->devices().devices.size(); ++i)
            core->connect_device(i);
    if (opts.simulate.enabled)
        start_simulation();

    core->log(log_level::info, "listening on " + url);
    std::promise<void> done;
    finished = done.get_future();
    running = true;
    thread = std::thread([this, done = std::move(done)]() mutable {
        for (;;) {
            try {
                ioc->run();
                break;
            } catch (const std::exception& e) {
                core->log(log_level::error, std::string("unexpected exception: ") + e.what());
            }
        }
        done.set_value();
    });
    thread_id = thread.get_id();
}

void server::impl::listen() {
    auto acc = std::make_shared<tcp::acceptor>(*ioc);
    error_code ec;
    acc->open(endpoint.protocol(), ec);
    if (!ec)
        acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
        acc->bind(endpoint, ec);
    if (!ec)
        acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("atomcloud::emulator: cannot listen on " +
                                 endpoint.address().to_string() + ":" +
                                 std::to_string(endpoint.port()) + ": " + ec.message());
    acceptor = acc;
    core->listening = true;
    asio::co_spawn(*ioc, accept_loop(std::move(acc)), asio::detached);
}

void server::impl::close_listener() {
    if (acceptor) {
        error_code ec;
        acceptor->close(ec);
        acceptor.reset();
    }
    core->listening = false;
}

asio::awaitable<void> server::impl::accept_loop(std::shared_ptr<tcp::acceptor> acc) {
    asio::steady_timer backoff(*ioc);
    for (;;) {
        auto [ec, socket] = co_await acc->async_accept(use_nothrow);
        if (acceptor != acc) // closed (suspend, restart, stop)
            co_return;
        if (ec) {
            core->log(log_level::warning, "accept failed: " + ec.message());
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(use_nothrow);
            continue;
        }
        if (connections.size() - handshaking.size() >= opts.max_connections) {
            core->log(log_level::warning, "too many connections (" +
                                              std::to_string(connections.size()) +
                                              "): closing a new one");
            socket.close(ec);
            continue;
        }
        // Connections that never finish their TLS handshake (or never start it) must not
        // hold the door shut: beyond the limit, the one that has waited longest goes.
        if (opts.max_tls_handshakes == 0) {
            socket.close(ec);
            continue;
        }
        while (handshaking.size() >= opts.max_tls_handshakes) {
            connection* oldest = handshaking.front();
            core->log(log_level::info, "too many TLS handshakes in progress (" +
                                           std::to_string(handshaking.size()) +
                                           "): closing the oldest, from " + oldest->peer);
            oldest->abort();
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto c = std::make_shared<connection>(*this, std::move(socket));
        asio::co_spawn(
            *ioc,
            [c]() -> asio::awaitable<void> {
                try {
                    co_await c->run();
                } catch (const std::exception& e) {
                    c->core.log(log_level::error, std::string("connection failed: ") + e.what());
                }
                c->abort();
            },
            asio::detached);
    }
}

void server::impl::abort_connections(bool websocket_only, const connection* except) {
    // abort() only closes sockets: the coroutines finish, and unregister, later.
    std::vector<connection*> all(connections.begin(), connections.end());
    for (auto* c : all)
        if (c != except && (!websocket_only || c->is_websocket))
            c->abort();
    if (!all.empty())
        core->log(log_level::info,
                  websocket_only ? "WebSocket connections dropped" : "all connections dropped");
}

void server::impl::drop_websockets(std::chrono::milliseconds refuse_for) {
    // A year at most: steady_clock's time_point must not overflow.
    refuse_for = std::min<std::chrono::milliseconds>(refuse_for, std::chrono::hours(24 * 366));
    core->websocket_refused_until = refuse_for.count() > 0
                                        ? std::chrono::steady_clock::now() + refuse_for
                                        : std::chrono::steady_clock::time_point{};
    abort_connections(true);
    if (refuse_for.count() > 0)
        core->log(log_level::info,
                  "WebSocket upgrades refused for " + std::to_string(refuse_for.count()) + " ms");
}

void server::impl::restart_now(const connection* except) {
    close_listener();
    abort_connections(false, except);
    listen();
    core->log(log_level::info, "restarted");
}

void server::impl::suspend_now(const connection* except) {
    close_listener();
    abort_connections(false, except);
    core->log(log_level::info, "suspended: not listening");
}

void server::impl::resume_now() {
    if (acceptor)
        return;
    resume_timer->cancel();
    listen();
    core->log(log_level::info, "resumed: listening on " + url);
}

void server::impl::start_simulation() {
    const auto& sim = opts.simulate;
    if (sim.heartbeat_interval.count() > 0) {
        auto t = std::make_shared<asio::steady_timer>(*ioc);
        simulation_timers.push_back(t);
        asio::co_spawn(*ioc, simulate(t, sim.heartbeat_interval, true), asio::detached);
    }
    if (sim.reading_interval.count() > 0) {
        auto t = std::make_shared<asio::steady_timer>(*ioc);
        simulation_timers.push_back(t);
        asio::co_spawn(*ioc, simulate(t, sim.reading_interval, false), asio::detached);
    }
}

asio::awaitable<void> server::impl::simulate(std::shared_ptr<asio::steady_timer> timer,
                                             std::chrono::milliseconds interval, bool heartbeat) {
    std::minstd_rand rng(heartbeat ? 1u : 2u);
    std::uniform_int_distribution<int> temperature(180, 320); // tenths of a degree
    std::uniform_int_distribution<int> humidity(30, 80);
    auto next = std::chrono::steady_clock::now();
    for (;;) {
        next += interval;
        timer->expires_at(next);
        auto [ec] = co_await timer->async_wait(use_nothrow);
        if (ec || stopping)
            co_return;
        const auto& devs = core->devices().devices;
        for (std::size_t i = 0; i < devs.size(); ++i) {
            if (!core->connected(i))
                continue;
            if (heartbeat) {
                if (devs[i].kind != detail::device_kind::nbiot)
                    core->device_send(i, as_bytes(default_heartbeat));
                continue;
            }
            const int t = temperature(rng);
            char text[64];
            std::snprintf(text, sizeof text, "温度:%d.%d℃ 湿度:%d%%", t / 10, t % 10,
                          humidity(rng));
            error_code gec;
            auto gbk = utf8_to_gbk(text, gec);
            if (!gec)
                core->device_send(i, gbk);
        }
    }
}

void server::impl::shutdown() {
    {
        std::unique_lock lock(lifecycle);
        if (!running)
            return;
        running = false;
    }
    asio::post(*ioc, [this] {
        stopping = true;
        close_listener();
        abort_connections(false);
        resume_timer->cancel();
        for (auto& t : simulation_timers)
            t->cancel();
        work.reset();
    });
    // Normally run() returns as soon as the connections have wound down; a timer some
    // library still holds must not keep the caller waiting.
    if (finished.wait_for(std::chrono::seconds(2)) != std::future_status::ready)
        ioc->stop();
    thread.join();
    // Destroy what is left (pending handlers, coroutine frames) while the state they refer
    // to still exists.
    simulation_timers.clear();
    resume_timer.reset();
    acceptor.reset();
    ioc.reset();
    core->log(log_level::info, "stopped");
}

// ---- server ----------------------------------------------------------------------------

server::server(options opts) : impl_(std::make_shared<impl>(std::move(opts))) {
    impl_->start();
}

server::~server() {
    try {
        stop();
    } catch (...) {
    }
}

void server::stop() {
    impl_->shutdown();
}

std::uint16_t server::port() const {
    return impl_->endpoint.port();
}
std::string server::base_url() const {
    return impl_->url;
}
const std::string& server::token() const {
    return impl_->opts.token;
}
const std::string& server::ca_pem() const {
    return impl_->ca;
}

atomcloud::config server::client_config() const {
    atomcloud::config cfg;
    cfg.base_url = impl_->url;
    cfg.token = impl_->opts.token;
    cfg.tls.ca_pem = impl_->ca;
    return cfg;
}

device_handle server::device(std::string_view number) {
    const auto index = impl_->device_index(number);
    const auto& d = impl_->core->devices().devices[index];
    return device_handle(impl_, d.number, index, d.kind == detail::device_kind::nbiot);
}

std::vector<std::string> server::device_numbers() const {
    std::vector<std::string> out;
    for (const auto& d : impl_->core->devices().devices)
        out.push_back(d.number);
    return out;
}

void server::drop_connections() {
    drop_connections(std::chrono::milliseconds(0));
}

void server::drop_connections(std::chrono::milliseconds refuse_for) {
    if (refuse_for.count() < 0)
        throw std::invalid_argument(
            "atomcloud::emulator: drop_connections: refuse_for must not be negative");
    impl_->call([i = impl_.get(), refuse_for] { i->drop_websockets(refuse_for); });
}

void server::suspend() {
    impl_->call([i = impl_.get()] { i->suspend_now(); });
}

void server::resume() {
    impl_->call([i = impl_.get()] { i->resume_now(); });
}

void server::restart() {
    impl_->call([i = impl_.get()] { i->restart_now(); });
}

void server::inject_fault(const fault& f, std::size_t count) {
    if (f.what == fault::kind::http_status && (f.status < 200 || f.status > 599))
        throw std::invalid_argument("atomcloud::emulator: a fault's HTTP status must be 200..599");
    if (f.delay.count() < 0)
        throw std::invalid_argument("atomcloud::emulator: a fault's delay must not be negative");
    impl_->call([i = impl_.get(), &f, count] { i->core->inject_fault(f, count); });
}

void server::clear_faults() {
    impl_->call([i = impl_.get()] { i->core->clear_faults(); });
}

std::size_t server::websocket_connections() const {
    return impl_->call([i = impl_.get()] { return i->core->websocket_sessions(); });
}

std::size_t server::subscribers(std::string_view number) const {
    const auto index = impl_->device_index(number);
    return impl_->call([i = impl_.get(), index] { return i->core->subscribers(index); });
}

server_status server::status() const {
    return impl_->call([i = impl_.get()] {
        server_status s;
        s.connections = i->core->open_connections;
        s.tls_handshakes = i->handshaking.size();
        s.websocket_connections = i->core->websocket_sessions();
        s.subscriptions = i->core->subscriptions();
        s.pending_faults = i->core->pending_faults();
        s.listening = i->core->listening;
        s.websocket_refusing = i->core->refusing_websockets();
        return s;
    });
}

bool server::wait_websocket_connections(std::size_t count,
                                        std::chrono::milliseconds timeout) const {
    return impl_->wait_until(
        [i = impl_.get(), count] { return i->core->websocket_sessions() == count; }, timeout);
}

bool server::wait_subscribers(std::string_view number, std::size_t count,
                              std::chrono::milliseconds timeout) const {
    const auto index = impl_->device_index(number);
    return impl_->wait_until(
        [i = impl_.get(), index, count] { return i->core->subscribers(index) == count; }, timeout);
}

// ---- device_handle ---------------------------------------------------------------------

struct device_handle::impl_access {
    static server::impl& get(const device_handle& h) {
        return *static_cast<server::impl*>(h.state_.get());
    }
};

void device_handle::connect() {
    auto& s = impl_access::get(*this);
    s.call([&s, i = index_] { s.core->connect_device(i); });
}

void device_handle::disconnect() {
    auto& s = impl_access::get(*this);
    s.call([&s, i = index_] { s.core->disconnect_device(i); });
}

bool device_handle::connected() const {
    auto& s = impl_access::get(*this);
    return s.call([&s, i = index_] { return s.core->connected(i); });
}

std::string device_handle::state() const {
    auto& s = impl_access::get(*this);
    return s.call([&s, i = index_] { return s.core->state_text(i); });
}

void device_handle::send(atomcloud::bytes_view payload) {
    auto& s = impl_access::get(*this);
    s.call([&s, i = index_, payload] { s.core->device_send(i, payload); });
}

std::vector<atomcloud::bytes> device_handle::received() const {
    auto& s = impl_access::get(*this);
    std::vector<atomcloud::bytes> out;
    for (auto& m : s.core->received(index_))
        out.push_back(std::move(m.payload));
    return out;
}

std::vector<received_message> device_handle::received_messages() const {
    return impl_access::get(*this).core->received(index_);
}

bool device_handle::wait_received(std::size_t count, std::chrono::milliseconds timeout) const {
    return impl_access::get(*this).core->wait_received(index_, count, timeout);
}

void device_handle::clear_received() {
    impl_access::get(*this).core->clear_received(index_);
}

std::vector<sent_message> device_handle::sent() const {
    return impl_access::get(*this).core->sent(index_);
}

std::size_t device_handle::sent_count() const {
    return impl_access::get(*this).core->sent_count(index_);
}

std::size_t device_handle::sent_dropped() const {
    return impl_access::get(*this).core->sent_dropped(index_);
}

void device_handle::clear_sent() {
    impl_access::get(*this).core->clear_sent(index_);
}

std::size_t device_handle::history_size() const {
    auto& s = impl_access::get(*this);
    return s.call([&s, i = index_] { return s.core->history_size(i); });
}

} // namespace atomcloud::emulator
