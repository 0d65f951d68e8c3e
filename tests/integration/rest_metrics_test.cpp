// rest_client::metrics() and rest_client::async_watch_metrics() against the in-process
// emulator: requests counted by outcome with injected faults, retries, the last failure,
// latency percentiles, and the push form (ticks, cancellation, the client destroyed).
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/rest_client.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace emu = atomcloud::emulator;
using atomcloud::client_errc;
using atomcloud::diagnostics;
using atomcloud::error_code;
using atomcloud::rest_client;
using atomcloud::rest_metrics;

namespace {

struct env {
    env() : cfg(cloud.client_config()) {
        cfg.retry.backoff.initial_delay = 5ms;
        cfg.retry.backoff.max_delay = 20ms;
        cfg.retry.max_attempts = 1;
        cfg.timeouts.request = 10s;
    }

    template <class Pred>
    bool until(Pred done, std::chrono::milliseconds limit = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            io.restart();
            io.run_for(5ms);
        }
        return true;
    }

    emu::server cloud;
    atomcloud::config cfg;
    asio::io_context io;
};

emu::fault fault_of(emu::fault::kind k) {
    emu::fault f;
    f.what = k;
    return f;
}

// A local port nothing listens on.
unsigned short closed_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

} // namespace

TEST_CASE("rest metrics: requests counted by outcome", "[rest][metrics][integration]") {
    env e;
    rest_client api(e.io, e.cfg);
    CHECK(api.metrics().requests == 0);
    CHECK(api.metrics().latency.samples == 0);
    error_code ec;
    diagnostics diag;

    for (int i = 0; i < 3; ++i) {
        api.list_orgs(ec, diag);
        REQUIRE_FALSE(ec);
    }
    auto f = fault_of(emu::fault::kind::api_code);
    f.code = 404;
    e.cloud.inject_fault(f);
    api.list_orgs(ec, diag);
    CHECK(ec == atomcloud::make_api_error(404));

    f = fault_of(emu::fault::kind::http_status);
    f.status = 404;
    e.cloud.inject_fault(f);
    api.list_orgs(ec, diag);
    CHECK(ec == client_errc::http_status);

    e.cloud.inject_fault(fault_of(emu::fault::kind::malformed_body));
    api.list_orgs(ec, diag);
    CHECK(ec == client_errc::invalid_json);

    auto m = api.metrics();
    CHECK(m.requests == 6);
    CHECK(m.ok == 3);
    CHECK(m.api_errors == 1);
    CHECK(m.http_errors == 1);
    CHECK(m.invalid_responses == 1);
    CHECK(m.network_errors == 0);
    CHECK(m.cancelled == 0);
    CHECK(m.attempts == 6);
    CHECK(m.retries == 0);
    CHECK(m.in_flight == 0);
    CHECK(m.latency.samples == 6);
    REQUIRE(m.last_failure);
    CHECK(m.last_failure.ec == client_errc::invalid_json);
    CHECK(m.last_failure.text.rfind("GET ", 0) == 0);
    CHECK(m.last_failure.text.find(e.cloud.token()) == std::string::npos);

    // A network error: nothing listens.
    auto cfg = e.cfg;
    cfg.base_url = "https://127.0.0.1:" + std::to_string(closed_port());
    rest_client dead(e.io, cfg);
    dead.list_orgs(ec, diag);
    CHECK(ec);
    m = dead.metrics();
    CHECK(m.requests == 1);
    CHECK(m.network_errors == 1);
    CHECK(m.latency.samples == 0); // no answer, no latency
    REQUIRE(m.last_failure);
    CHECK(m.last_failure.ec == ec);
    CHECK(m.connections_opened == 0);
}

TEST_CASE("rest metrics: retries, and the outcome counted once", "[rest][metrics][integration]") {
    env e;
    e.cfg.retry.max_attempts = 3;
    rest_client api(e.io, e.cfg);
    emu::fault f = fault_of(emu::fault::kind::http_status);
    f.status = 503;
    e.cloud.inject_fault(f, 2);
    error_code ec;
    diagnostics diag;
    api.list_orgs(ec, diag);
    REQUIRE_FALSE(ec);
    const auto m = api.metrics();
    CHECK(m.requests == 1);
    CHECK(m.ok == 1);
    CHECK(m.http_errors == 0);
    CHECK(m.retries == 2);
    CHECK(m.attempts == 3);
    CHECK_FALSE(m.last_failure);
}

TEST_CASE("rest metrics: cancelled requests", "[rest][metrics][integration]") {
    env e;
    rest_client api(e.io, e.cfg);
    auto f = fault_of(emu::fault::kind::delay);
    f.delay = 2s;
    e.cloud.inject_fault(f);
    asio::cancellation_signal sig;
    std::optional<error_code> r;
    api.async_list_orgs(asio::bind_cancellation_slot(
        sig.slot(), [&](error_code ec, std::vector<atomcloud::org>) { r = ec; }));
    e.until([&] { return api.metrics().in_flight == 1 && api.metrics().attempts == 1; });
    e.until([] { return false; }, 50ms);
    sig.emit(asio::cancellation_type::terminal);
    REQUIRE(e.until([&] { return r.has_value(); }));
    CHECK(*r == asio::error::operation_aborted);
    const auto m = api.metrics();
    CHECK(m.requests == 1);
    CHECK(m.cancelled == 1);
    CHECK(m.in_flight == 0);
    CHECK_FALSE(m.last_failure); // a cancellation is not a failure
    CHECK(m.latency.samples == 0);
}

TEST_CASE("rest metrics: latency percentiles are plausible and ordered",
          "[rest][metrics][integration]") {
    env e;
    rest_client api(e.io, e.cfg);
    error_code ec;
    diagnostics diag;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 40; ++i) {
        api.list_orgs(ec, diag);
        REQUIRE_FALSE(ec);
    }
    const auto total = std::chrono::steady_clock::now() - t0;
    auto f = fault_of(emu::fault::kind::delay);
    f.delay = 300ms;
    e.cloud.inject_fault(f);
    api.list_orgs(ec, diag);
    REQUIRE_FALSE(ec);

    const auto m = api.metrics();
    CHECK(m.latency.samples == 41);
    CHECK(m.latency.p50 > 0us);
    CHECK(m.latency.p50 <= m.latency.p99);
    CHECK(m.latency.p99 <= m.latency.max);
    CHECK(m.latency.max >= 300ms); // the delayed one
    CHECK(m.latency.p50 < 300ms);  // one in 41 does not move the median
    CHECK(m.latency.p50 <= total); // a request is not slower than 40 of them
    CHECK(m.latency.max < 300ms + 5s);
}

TEST_CASE("rest metrics: the push form ticks at the interval and stops when cancelled",
          "[rest][metrics][integration]") {
    env e;
    std::optional<rest_client> api;
    api.emplace(e.io, e.cfg);
    std::vector<rest_metrics> seen;
    std::optional<error_code> done;
    asio::cancellation_signal stop;
    const auto started = std::chrono::steady_clock::now();
    api->async_watch_metrics(
        40ms, [&](const rest_metrics& m) { seen.push_back(m); },
        asio::bind_cancellation_slot(stop.slot(), [&](error_code ec) { done = ec; }));
    std::optional<error_code> r;
    api->async_list_orgs([&](error_code ec, std::vector<atomcloud::org>) { r = ec; });
    REQUIRE(e.until([&] { return seen.size() >= 3 && r.has_value(); }));
    CHECK(std::chrono::steady_clock::now() - started >= 120ms);
    REQUIRE(e.until([&] { return !seen.empty() && seen.back().ok == 1; }));
    CHECK_FALSE(done);
    stop.emit(asio::cancellation_type::total);
    REQUIRE(e.until([&] { return done.has_value(); }, 2s));
    CHECK(*done == asio::error::operation_aborted);
    const auto n = seen.size();
    e.until([] { return false; }, 150ms);
    CHECK(seen.size() == n);

    // Once the client is gone the watch ends at its next tick.
    std::optional<error_code> done2;
    api->async_watch_metrics(
        20ms, [&](const rest_metrics&) {}, [&](error_code ec) { done2 = ec; });
    e.until([] { return false; }, 30ms);
    api.reset();
    REQUIRE(e.until([&] { return done2.has_value(); }, 2s));
    CHECK(*done2 == asio::error::operation_aborted);
}
