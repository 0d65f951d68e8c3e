// The server's life: start-up (fixture, address, TLS, the io_context thread), the listener
// and its accept loop with the connection limits, the outages the control API and the C++
// facade inject (drop, suspend, resume, restart), and shutdown.
#include "connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace atomcloud::emulator {

namespace asio = boost::asio;
using detail::use_nothrow;

namespace {

std::string fixture_text(const options& opts) {
    if (!opts.fixture_json.empty())
        return opts.fixture_json;
    if (!opts.fixture_file.empty())
        return detail::read_file(opts.fixture_file, "fixture");
    return std::string(detail::default_fixture_json());
}

asio::ip::address listen_address(const options& opts) {
    error_code ec;
    auto address = asio::ip::make_address(
        opts.listen_address == "localhost" ? std::string("127.0.0.1") : opts.listen_address, ec);
    if (ec)
        throw std::runtime_error("atomcloud::emulator: bad listen address '" + opts.listen_address +
                                 "' (give an IP address)");
    return address;
}

} // namespace

void server::impl::start() {
    auto fx = detail::parse_fixture(fixture_text(opts));
    if (opts.token.empty())
        throw std::runtime_error("atomcloud::emulator: the token must not be empty");
    const auto address = listen_address(opts);
    endpoint = tcp::endpoint(address, opts.port);
    tls = detail::make_tls_context(opts, address, ca);

    core = std::make_unique<detail::cloud>(opts, std::move(fx));
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

bool server::impl::admit_connection() {
    if (connections.size() - handshaking.size() >= opts.max_connections) {
        core->log(log_level::warning, "too many connections (" +
                                          std::to_string(connections.size()) +
                                          "): closing a new one");
        return false;
    }
    // Connections that never finish their TLS handshake (or never start it) must not hold
    // the door shut: beyond the limit, the one that has waited longest goes.
    if (opts.max_tls_handshakes == 0)
        return false;
    while (handshaking.size() >= opts.max_tls_handshakes) {
        connection* oldest = handshaking.front();
        core->log(log_level::info, "too many TLS handshakes in progress (" +
                                       std::to_string(handshaking.size()) +
                                       "): closing the oldest, from " + oldest->peer);
        oldest->abort();
    }
    return true;
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
        if (!admit_connection()) {
            socket.close(ec);
            continue;
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

// ---- outages ----------------------------------------------------------------------------

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

void server::impl::suspend_for(std::chrono::milliseconds duration, const connection* except) {
    suspend_now(except);
    resume_timer->expires_after(duration);
    resume_timer->async_wait([this](const error_code& ec) {
        if (!ec && !stopping)
            resume_now();
    });
}

void server::impl::resume_now() {
    if (acceptor)
        return;
    resume_timer->cancel();
    listen();
    core->log(log_level::info, "resumed: listening on " + url);
}

// ---- shutdown ---------------------------------------------------------------------------

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

} // namespace atomcloud::emulator
