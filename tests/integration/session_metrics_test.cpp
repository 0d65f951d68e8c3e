// session::metrics() and session::async_watch_metrics() against the in-process emulator:
// exact message and byte counts both ways, dropped frames of unsubscribed devices, a
// dropped link (reconnects, last failure), the gauges, and the push form (ticks at the
// interval, stops on cancellation and when the session is gone).
//
// Everything runs on the test's thread: the session's io_context is run in short slices
// while waiting for a condition; the emulator runs on its own thread.
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/frame.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include "session_harness.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

using namespace atomcloud;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

const device_number dev_a{"18846494908532689575"};
const device_number dev_b{"27309143566123801957"};

using atomcloud_test::owned_event;

// An emulator and a session on it (made at once, so that a test can read its metrics
// before it runs) that receives everything.
struct harness : atomcloud_test::session_harness {
    harness() : session_harness(atomcloud_test::quiet_emulator(), 200ms) { make_session(); }

    std::size_t links() const { return count(owned_event::session_connected); }
    std::size_t messages() const { return count(owned_event::device_message); }
    std::size_t connects() const { return count(owned_event::device_connected); }
};

bytes payload_of(std::size_t n) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::uint8_t>('a' + i % 26);
    return b;
}

} // namespace

TEST_CASE("session metrics: a new session counts nothing", "[session][metrics][integration]") {
    harness h;
    const auto m = h.s->metrics();
    CHECK_FALSE(m.running);
    CHECK_FALSE(m.connected);
    CHECK(m.links_established == 0);
    CHECK(m.reconnects == 0);
    CHECK_FALSE(m.last_failure);
    CHECK(m.messages_received == 0);
    CHECK(m.bytes_received == 0);
    CHECK(m.messages_sent == 0);
    CHECK(m.bytes_sent == 0);
    CHECK(m.send_queue_depth == 0);
    CHECK(m.pending_events == 0);
}

TEST_CASE("session metrics: exact message and byte counts both ways",
          "[session][metrics][integration]") {
    harness h;
    h.start();
    REQUIRE(h.until([&] { return h.links() == 1; }));
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.until([&] { return h.cloud.subscribers(dev_a.view()) == 1; }));

    const auto before = h.s->metrics();
    CHECK(before.running);
    CHECK(before.connected);
    CHECK(before.links_established == 1);
    CHECK(before.control_messages_sent == 1); // the subscription
    CHECK(before.messages_received == 0);
    CHECK(before.subscriptions == 1);

    // The device connects (0x04) and sends N messages of known sizes (0x06).
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    const std::size_t sizes[] = {0, 1, 16, 100, 1000, 4096, 7, 65000};
    std::size_t expected_bytes = encoded_size(device_connected_frame{dev_a});
    for (std::size_t n : sizes) {
        const bytes p = payload_of(n);
        a.send(p);
        expected_bytes += encoded_size(device_data_frame{dev_a, p});
    }
    const std::size_t n_messages = std::size(sizes);
    REQUIRE(h.until([&] { return h.messages() == n_messages && h.connects() == 1; }));
    auto m = h.s->metrics();
    CHECK(m.messages_received == n_messages + 1);
    CHECK(m.bytes_received == expected_bytes);
    CHECK(m.dropped_unsubscribed == 0);
    CHECK(m.protocol_errors == 0);
    CHECK(m.pending_events == 0);

    // The application sends K messages of known sizes (0x03).
    const std::size_t out_sizes[] = {1, 20, 300, 4000};
    std::size_t sent_bytes = 0;
    for (std::size_t n : out_sizes) {
        const bytes p = payload_of(n);
        REQUIRE_FALSE(h.send(dev_a, p));
        sent_bytes += encoded_size(send_frame{dev_a, p});
    }
    REQUIRE(h.until([&] { return a.received().size() == std::size(out_sizes); }));
    m = h.s->metrics();
    CHECK(m.messages_sent == std::size(out_sizes));
    CHECK(m.bytes_sent == sent_bytes);
    CHECK(m.control_messages_sent == 1);
    CHECK(m.send_queue_depth == 0);
    CHECK(m.send_queue_bytes == 0);
    CHECK(m.reconnects == 0);
    CHECK_FALSE(m.last_failure);
    CHECK(m.taken >= before.taken);
}

TEST_CASE("session metrics: frames of unsubscribed devices are counted as dropped",
          "[session][metrics][integration]") {
    harness h;
    h.start();
    REQUIRE(h.until([&] { return h.links() == 1; }));
    REQUIRE_FALSE(h.subscribe(dev_b));
    REQUIRE(h.until([&] { return h.cloud.subscribers(dev_b.view()) == 1; }));
    auto b = h.cloud.device(dev_b.view());
    b.connect();
    REQUIRE(h.until([&] { return h.connects() == 1; }));

    // The device sends while the session is still subscribed at the emulator; the session
    // (whose io_context does not run meanwhile) unsubscribes before it reads those frames:
    // they arrive for a device it no longer has, and are dropped.
    const auto before = h.s->metrics();
    b.send("x");
    b.send("yy");
    std::optional<error_code> r;
    h.s->async_unsubscribe(dev_b, [&](error_code ec) { r = ec; });
    REQUIRE_FALSE(h.wait(r));
    REQUIRE(h.until(
        [&] { return h.s->metrics().dropped_unsubscribed - before.dropped_unsubscribed == 2; }));
    const auto m = h.s->metrics();
    CHECK(m.messages_received - before.messages_received == 2);
    CHECK(m.bytes_received - before.bytes_received ==
          encoded_size(device_data_frame{dev_b, as_bytes(std::string_view("x"))}) +
              encoded_size(device_data_frame{dev_b, as_bytes(std::string_view("yy"))}));
    CHECK(m.subscriptions == 0);
    CHECK(h.messages() == 0);
}

TEST_CASE("session metrics: a dropped link counts a reconnect and sets the last failure",
          "[session][metrics][integration]") {
    harness h;
    h.start();
    REQUIRE(h.until([&] { return h.links() == 1; }));
    const auto t0 = std::chrono::system_clock::now();
    h.cloud.drop_connections();
    REQUIRE(h.until([&] { return h.links() == 2; }));
    const auto m = h.s->metrics();
    CHECK(m.connected);
    CHECK(m.links_established == 2);
    CHECK(m.links_lost == 1);
    CHECK(m.reconnects == 1);
    CHECK(m.failed_attempts == 0);
    REQUIRE(m.last_failure);
    CHECK(m.last_failure.text.rfind("link lost: ", 0) == 0);
    CHECK(m.last_failure.text.find(h.cloud.token()) == std::string::npos);
    CHECK(m.last_failure.time >= t0 - 1s);
    CHECK(m.last_failure.time <= std::chrono::system_clock::now() + 1s);
}

TEST_CASE("session metrics: failed attempts while the server refuses",
          "[session][metrics][integration]") {
    harness h;
    h.start();
    REQUIRE(h.until([&] { return h.links() == 1; }));
    h.cloud.drop_connections(300ms); // upgrades refused for a while (HTTP 503)
    REQUIRE(h.until([&] { return h.links() == 2; }));
    const auto m = h.s->metrics();
    CHECK(m.links_lost == 1);
    CHECK(m.failed_attempts >= 1);
    CHECK(m.reconnects == m.links_lost + m.failed_attempts);
    REQUIRE(m.last_failure);
    CHECK(m.last_failure.ec == client_errc::handshake_rejected);
    CHECK(m.last_failure.text.rfind("connection attempt failed at WebSocket upgrade", 0) == 0);
}

TEST_CASE("session metrics: the gauges", "[session][metrics][integration]") {
    harness h;
    // Not running: a send waits in the queue (send_policy::queue).
    std::optional<error_code> r;
    const bytes p = payload_of(10);
    h.s->async_send(dev_a, p, [&](error_code ec) { r = ec; });
    h.until([] { return false; }, 20ms);
    auto m = h.s->metrics();
    CHECK(m.send_queue_depth == 1);
    CHECK(m.send_queue_bytes == encoded_size(send_frame{dev_a, p}));
    CHECK(m.messages_sent == 0);

    // Running, but nobody receives: events stay pending.
    h.s->async_run([&](error_code ec) { h.run_result = ec; });
    REQUIRE(h.until([&] { return h.s->metrics().connected; }));
    REQUIRE(h.until([&] { return r.has_value(); }));
    CHECK_FALSE(*r);
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.until([&] { return h.cloud.subscribers(dev_a.view()) == 1; }));
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    a.send("hello");
    // session_connected, device_connected, device_message
    REQUIRE(h.until([&] { return h.s->metrics().pending_events == 3; }));
    m = h.s->metrics();
    CHECK(m.pending_bytes == encoded_size(device_data_frame{dev_a, as_bytes("hello")}));
    CHECK(m.send_queue_depth == 0);
    CHECK(m.messages_sent == 1);
}

TEST_CASE("session metrics: the push form ticks at the interval and stops when cancelled",
          "[session][metrics][integration]") {
    harness h;
    h.start();
    REQUIRE(h.until([&] { return h.links() == 1; }));
    std::vector<std::chrono::steady_clock::time_point> ticks;
    std::vector<session_metrics> seen;
    std::optional<error_code> done;
    asio::cancellation_signal stop;
    const auto started = std::chrono::steady_clock::now();
    h.s->async_watch_metrics(
        50ms,
        [&](const session_metrics& m) {
            ticks.push_back(std::chrono::steady_clock::now());
            seen.push_back(m);
        },
        asio::bind_cancellation_slot(stop.slot(), [&](error_code ec) { done = ec; }));
    REQUIRE(h.until([&] { return ticks.size() >= 4; }, 5s));
    // Never early: the n-th tick comes at least n intervals after the start.
    for (std::size_t i = 0; i < ticks.size(); ++i)
        CHECK(ticks[i] - started >= 50ms * (i + 1));
    CHECK(seen.back().connected);
    CHECK(seen.back().links_established == 1);
    CHECK_FALSE(done);

    stop.emit(asio::cancellation_type::terminal);
    REQUIRE(h.until([&] { return done.has_value(); }, 2s));
    CHECK(*done == asio::error::operation_aborted);
    const std::size_t n = ticks.size();
    h.until([] { return false; }, 200ms);
    CHECK(ticks.size() == n);
}

TEST_CASE("session metrics: the push form ends when the session is destroyed",
          "[session][metrics][integration]") {
    harness h;
    std::size_t ticks = 0;
    std::optional<error_code> done;
    h.s->async_watch_metrics(
        20ms, [&](const session_metrics&) { ++ticks; }, [&](error_code ec) { done = ec; });
    REQUIRE(h.until([&] { return ticks >= 1; }));
    h.s.reset();
    REQUIRE(h.until([&] { return done.has_value(); }, 2s));
    CHECK(*done == asio::error::operation_aborted);

    // A non-positive interval is refused.
    h.s.emplace(h.io.get_executor(), h.cfg, 1);
    std::optional<error_code> bad;
    h.s->async_watch_metrics(
        0ms, [&](const session_metrics&) { ++ticks; }, [&](error_code ec) { bad = ec; });
    REQUIRE(h.until([&] { return bad.has_value(); }));
    CHECK(*bad == asio::error::invalid_argument);
}
