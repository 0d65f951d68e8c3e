// The session's behaviour that needs no server: what sends, subscriptions and receives do
// while the link is down or the session stopped, limits, cancellation, configuration
// errors, and reconnect attempts against a closed port (loopback only).
#include <atomcloud/session.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include "../log_capture.hpp"
#include "../run_until.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace atomcloud;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

const device_number dev{"18846494908532689575"};
const std::string secret = "s3cr3t-t0ken-0123456789";

config test_config() {
    config cfg;
    cfg.token = secret;
    cfg.base_url = "https://127.0.0.1:1";
    return cfg;
}

// Runs the io_context until `done` or the time limit.
template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5s) {
    return atomcloud_test::run_until(io, done, limit, 10ms);
}

// A loopback port with nothing listening (bound, then closed).
unsigned short closed_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor acc(io,
                                asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acc.local_endpoint().port();
    acc.close();
    return port;
}

using atomcloud_test::log_capture;

} // namespace

TEST_CASE("session: sends before async_run wait in the queue, stop() fails them",
          "[session][api]") {
    asio::io_context io;
    session s(io.get_executor(), test_config(), 1);
    std::optional<error_code> r1, r2;
    s.async_send(dev, as_bytes("one"), [&](error_code ec) { r1 = ec; });
    s.async_send_nbiot(nbiot_id("nb-1"), as_bytes("two"), [&](error_code ec) { r2 = ec; });
    io.run_for(50ms);
    CHECK_FALSE(r1);
    CHECK_FALSE(r2);
    CHECK(s.status().queued_messages == 2);
    CHECK(s.status().queued_bytes == (1 + 20 + 3) + (1 + 37 + 3));
    s.stop();
    REQUIRE(run_until(io, [&] { return r1 && r2; }));
    CHECK(*r1 == client_errc::session_stopped);
    CHECK(*r2 == client_errc::session_stopped);
    // Once stopped, sends fail at once.
    std::optional<error_code> r3;
    s.async_send(dev, as_bytes("three"), [&](error_code ec) { r3 = ec; });
    REQUIRE(run_until(io, [&] { return r3.has_value(); }));
    CHECK(*r3 == client_errc::session_stopped);
}

TEST_CASE("session: send_policy::fail fails at once while down", "[session][api]") {
    asio::io_context io;
    config cfg = test_config();
    cfg.session.when_disconnected = send_policy::fail;
    session s(io.get_executor(), cfg, 1);
    std::optional<error_code> r;
    s.async_send(dev, as_bytes("x"), [&](error_code ec) { r = ec; });
    REQUIRE(run_until(io, [&] { return r.has_value(); }));
    CHECK(*r == client_errc::not_connected);
    CHECK(s.status().queued_messages == 0);
}

TEST_CASE("session: the send queue's limits", "[session][api]") {
    asio::io_context io;
    config cfg = test_config();
    cfg.session.max_queued_messages = 3;
    cfg.session.max_queued_bytes = 200;
    session s(io.get_executor(), cfg, 1);
    std::vector<error_code> results;
    for (int i = 0; i < 5; ++i)
        s.async_send(dev, as_bytes("payload"), [&](error_code ec) { results.push_back(ec); });
    REQUIRE(run_until(io, [&] { return results.size() == 2; }));
    CHECK(results[0] == client_errc::send_queue_full);
    CHECK(results[1] == client_errc::send_queue_full);
    CHECK(s.status().queued_messages == 3);
    std::optional<error_code> big;
    s.async_send(dev, bytes(500, 1), [&](error_code ec) { big = ec; });
    REQUIRE(run_until(io, [&] { return big.has_value(); }));
    CHECK(*big == client_errc::message_too_large);
    s.stop();
    REQUIRE(run_until(io, [&] { return results.size() == 5; }));
}

TEST_CASE("session: a queued send can be cancelled", "[session][api]") {
    asio::io_context io;
    session s(io.get_executor(), test_config(), 1);
    asio::cancellation_signal sig;
    std::optional<error_code> r;
    s.async_send(dev, as_bytes("x"),
                 asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) { r = ec; }));
    io.run_for(20ms);
    REQUIRE(s.status().queued_messages == 1);
    sig.emit(asio::cancellation_type::total);
    REQUIRE(run_until(io, [&] { return r.has_value(); }));
    CHECK(*r == asio::error::operation_aborted);
    CHECK(s.status().queued_messages == 0);
}

TEST_CASE("session: subscriptions are remembered while down", "[session][api]") {
    asio::io_context io;
    session s(io.get_executor(), test_config(), 1);
    std::vector<device_number> devs{dev, device_number("00000000000000000002")};
    int done = 0;
    s.async_subscribe(devs, [&](error_code ec) {
        CHECK_FALSE(ec);
        ++done;
    });
    s.async_subscribe(dev, [&](error_code ec) {
        CHECK_FALSE(ec);
        ++done;
    });
    REQUIRE(run_until(io, [&] { return done == 2; }));
    CHECK(s.status().subscriptions == 2);
    s.async_unsubscribe(dev, [&](error_code ec) {
        CHECK_FALSE(ec);
        ++done;
    });
    REQUIRE(run_until(io, [&] { return done == 3; }));
    CHECK(s.status().subscriptions == 1);
}

TEST_CASE("session: receive waits, can be cancelled, one at a time, stopped -> session_stopped",
          "[session][api]") {
    asio::io_context io;
    session s(io.get_executor(), test_config(), 1);
    asio::cancellation_signal sig;
    std::optional<error_code> first, second;
    s.async_receive(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, event_batch b) {
        CHECK(b.empty());
        first = ec;
    }));
    s.async_receive([&](error_code ec, event_batch) { second = ec; });
    REQUIRE(run_until(io, [&] { return second.has_value(); }));
    CHECK(*second == asio::error::already_started);
    CHECK_FALSE(first);
    sig.emit(asio::cancellation_type::terminal);
    REQUIRE(run_until(io, [&] { return first.has_value(); }));
    CHECK(*first == asio::error::operation_aborted);

    std::optional<error_code> third;
    s.async_receive([&](error_code ec, event_batch) { third = ec; });
    io.run_for(20ms);
    CHECK_FALSE(third);
    s.stop(); // never ran: marked stopped; the waiting receive completes
    REQUIRE(run_until(io, [&] { return third.has_value(); }));
    CHECK(*third == client_errc::session_stopped);
}

TEST_CASE("session: configuration errors end async_run before any connection", "[session][api]") {
    asio::io_context io;
    SECTION("empty token") {
        config cfg = test_config();
        cfg.token.clear();
        session s(io.get_executor(), cfg, 1);
        diagnostics diag;
        std::optional<error_code> r;
        s.async_run(diag, [&](error_code ec) { r = ec; });
        REQUIRE(run_until(io, [&] { return r.has_value(); }));
        CHECK(*r == client_errc::invalid_config);
        CHECK(diag.client_message().find("token") != std::string::npos);
    }
    SECTION("a token or user agent that would inject header lines") {
        config cfg = test_config();
        const bool in_token = GENERATE(true, false);
        (in_token ? cfg.token : cfg.user_agent) += "\r\nX-Injected: 1";
        session s(io.get_executor(), cfg, 1);
        diagnostics diag;
        std::optional<error_code> r;
        s.async_run(diag, [&](error_code ec) { r = ec; });
        REQUIRE(run_until(io, [&] { return r.has_value(); }));
        CHECK(*r == client_errc::invalid_config);
        CHECK(diag.client_message().find(in_token ? "token" : "user_agent") != std::string::npos);
        CHECK(diag.client_message().find("X-Injected") == std::string::npos);
        CHECK(s.status().failed_attempts == 0);
        CHECK(s.status().connections == 0);
    }
    SECTION("bad base URL") {
        config cfg = test_config();
        cfg.base_url = "http://plain.example.com";
        session s(io.get_executor(), cfg, 1);
        std::optional<error_code> r;
        s.async_run([&](error_code ec) { r = ec; });
        REQUIRE(run_until(io, [&] { return r.has_value(); }));
        CHECK(*r == client_errc::invalid_base_url);
    }
    SECTION("unreadable CA file") {
        config cfg = test_config();
        cfg.tls.ca_file = "/nonexistent/ca.pem";
        session s(io.get_executor(), cfg, 1);
        diagnostics diag;
        std::optional<error_code> r;
        s.async_run(diag, [&](error_code ec) { r = ec; });
        REQUIRE(run_until(io, [&] { return r.has_value(); }));
        CHECK(*r);
        CHECK(diag.client_message().find("/nonexistent/ca.pem") != std::string::npos);
    }
}

TEST_CASE("session: retries a closed port with growing delays, logs each attempt without the "
          "token, stops cleanly",
          "[session][api]") {
    asio::io_context io;
    log_capture logs;
    config cfg = test_config();
    cfg.base_url = "https://127.0.0.1:" + std::to_string(closed_port());
    cfg.session.reconnect.initial_delay = 20ms;
    cfg.session.reconnect.multiplier = 2.0;
    cfg.session.reconnect.jitter = 0.0;
    cfg.log = logs.make();
    session s(io.get_executor(), cfg, 5);
    std::optional<error_code> r;
    s.async_run([&](error_code ec) { r = ec; });
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(run_until(io, [&] { return s.status().failed_attempts >= 4; }));
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    // Delays 20 + 40 + 80 ms before the 4th failure at least.
    CHECK(elapsed >= 140ms);
    CHECK(s.status().running);
    CHECK_FALSE(s.status().connected);
    CHECK(logs.count("reconnecting in 20 ms (attempt 2)") == 1);
    CHECK(logs.count("reconnecting in 40 ms (attempt 3)") == 1);
    CHECK(logs.count("reconnecting in 80 ms (attempt 4)") == 1);
    CHECK(logs.count("failed at TCP connect") >= 3);
    CHECK(logs.count("/connection/***/org/5") >= 3);
    s.stop();
    REQUIRE(run_until(io, [&] { return r.has_value(); }));
    CHECK(*r == client_errc::session_stopped);
    CHECK(logs.count(secret) == 0);
    CHECK_FALSE(s.status().running);
}

TEST_CASE("session: cancelling async_run stops it with operation_aborted, it can run again",
          "[session][api]") {
    asio::io_context io;
    config cfg = test_config();
    cfg.base_url = "https://127.0.0.1:" + std::to_string(closed_port());
    cfg.session.reconnect.initial_delay = 10ms;
    session s(io.get_executor(), cfg, 5);
    asio::cancellation_signal sig;
    std::optional<error_code> r;
    s.async_run(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) { r = ec; }));
    REQUIRE(run_until(io, [&] { return s.status().failed_attempts >= 1; }));
    sig.emit(asio::cancellation_type::partial); // not honoured: only terminal is
    io.run_for(50ms);
    CHECK_FALSE(r);
    sig.emit(asio::cancellation_type::terminal);
    REQUIRE(run_until(io, [&] { return r.has_value(); }));
    CHECK(*r == asio::error::operation_aborted);

    std::optional<error_code> again, twice;
    s.async_run([&](error_code ec) { again = ec; });
    s.async_run([&](error_code ec) { twice = ec; });
    REQUIRE(run_until(io, [&] { return twice.has_value(); }));
    CHECK(*twice == asio::error::already_started);
    CHECK(s.status().running);
    s.stop();
    REQUIRE(run_until(io, [&] { return again.has_value(); }));
    CHECK(*again == client_errc::session_stopped);
}

TEST_CASE("session: destroying it aborts what is in progress", "[session][api]") {
    asio::io_context io;
    config cfg = test_config();
    cfg.base_url = "https://127.0.0.1:" + std::to_string(closed_port());
    std::optional<error_code> run, recv, send;
    {
        session s(io.get_executor(), cfg, 5);
        s.async_run([&](error_code ec) { run = ec; });
        s.async_receive([&](error_code ec, event_batch) { recv = ec; });
        s.async_send(dev, as_bytes("x"), [&](error_code ec) { send = ec; });
        io.run_for(30ms);
    }
    REQUIRE(run_until(io, [&] { return run && recv && send; }));
    CHECK(*run == asio::error::operation_aborted);
    CHECK(*recv == asio::error::operation_aborted);
    CHECK(*send == asio::error::operation_aborted);
}

TEST_CASE("session: completion tokens: coroutines, futures, deferred", "[session][api]") {
    asio::io_context io;
    session s(io.get_executor(), test_config(), 1);
    bool coro_done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await s.async_subscribe(dev); // default token: deferred, awaited
            auto [ec] =
                co_await s.async_send(dev, as_bytes("x"), asio::as_tuple(asio::use_awaitable));
            CHECK(ec == client_errc::session_stopped);
            coro_done = true;
        },
        asio::detached);
    s.stop();
    REQUIRE(run_until(io, [&] { return coro_done; }));

    // A deferred operation starts only when launched.
    auto op = s.async_receive(asio::deferred);
    std::optional<error_code> r;
    std::move(op)([&](error_code ec, event_batch) { r = ec; });
    REQUIRE(run_until(io, [&] { return r.has_value(); }));
    CHECK(*r == client_errc::session_stopped);
}
