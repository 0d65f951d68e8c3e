// atomcloud::session against the in-process emulator, over TLS with certificate
// verification on: subscriptions and every event type, sends to devices, reconnects
// (dropped links, a server away for a while, a silent link), rejected handshakes,
// stopping, backpressure, the send policies, and the token never reaching a log.
//
// Everything runs on the test's thread: the session's io_context is run in short slices
// while waiting for a condition; the emulator runs on its own thread.
#include <atomcloud/cancel_after.hpp>
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <catch2/catch.hpp>

#include "session_harness.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace atomcloud;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

const device_number dev_a{"18846494908532689575"};
const device_number dev_b{"27309143566123801957"};
const nbiot_id nb{"b6d85634-9d34-4052-80cd-b840b75cb910"};

using atomcloud_test::owned_event;
using harness = atomcloud_test::session_harness;

// A TCP relay between the session and the emulator that can turn into a black hole
// (bytes are swallowed, nothing is closed): a link that went silent.
class tcp_relay {
public:
    explicit tcp_relay(unsigned short target)
        : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
          target_(asio::ip::make_address("127.0.0.1"), target) {
        accept();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~tcp_relay() {
        io_.stop();
        thread_.join();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    void freeze(bool on) { frozen_ = on; }

private:
    struct pair {
        explicit pair(asio::io_context& io) : a(io), b(io) {}
        tcp::socket a, b;
        std::array<char, 16384> ab{}, ba{};
    };

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket sock) {
            if (ec)
                return;
            auto p = std::make_shared<pair>(io_);
            p->a = std::move(sock);
            p->b.async_connect(target_, [this, p](boost::system::error_code e) {
                if (e)
                    return;
                pump(p, p->a, p->b, p->ab);
                pump(p, p->b, p->a, p->ba);
            });
            accept();
        });
    }

    void pump(std::shared_ptr<pair> p, tcp::socket& from, tcp::socket& to,
              std::array<char, 16384>& buf) {
        from.async_read_some(asio::buffer(buf), [this, p, &from, &to, &buf](
                                                    boost::system::error_code ec, std::size_t n) {
            if (ec) {
                boost::system::error_code ignored;
                to.close(ignored);
                return;
            }
            if (frozen_)
                return pump(p, from, to, buf); // swallowed
            asio::async_write(
                to, asio::buffer(buf.data(), n),
                [this, p, &from, &to, &buf](boost::system::error_code e, std::size_t) {
                    if (!e)
                        pump(p, from, to, buf);
                });
        });
    }

    asio::io_context io_;
    tcp::acceptor acceptor_;
    tcp::endpoint target_;
    std::atomic<bool> frozen_{false};
    std::thread thread_;
};

} // namespace

TEST_CASE("session: subscribe, then receive 0x04/0x05/0x06 of the device and 0x08 of the org",
          "[session][integration]") {
    harness h;
    h.start();
    REQUIRE(h.wait_connected());
    CHECK(h.events.front().kind == owned_event::session_connected);
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_subscribers(dev_a, 1));

    auto a = h.cloud.device(dev_a.view());
    auto b = h.cloud.device(dev_b.view());
    auto n = h.cloud.device(nb.view());
    a.connect();
    b.connect(); // not subscribed: no event
    n.connect();
    const bytes gbk = parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4");
    a.send("ALIENTEK-HRTDT");
    b.send("not for us");
    a.send(gbk);
    n.send(bytes{0x01, 0x02, 0x00, 0xFF});
    a.disconnect();
    REQUIRE(h.until([&] { return h.count(owned_event::device_disconnected) == 1; }));

    auto connected = h.of(owned_event::device_connected);
    REQUIRE(connected.size() == 1);
    CHECK(connected[0].id == dev_a.str());
    auto msgs = h.of(owned_event::device_message);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0].id == dev_a.str());
    CHECK(as_chars(msgs[0].payload) == "ALIENTEK-HRTDT");
    CHECK(msgs[1].payload == gbk);
    CHECK(gbk_to_utf8(msgs[1].payload) == "正点原子数据测试");
    auto nbs = h.of(owned_event::nbiot_message);
    REQUIRE(nbs.size() == 1);
    CHECK(nbs[0].id == nb.str()); // the id's NUL padding is gone
    CHECK(nbs[0].payload == bytes{0x01, 0x02, 0x00, 0xFF});
    CHECK(h.of(owned_event::device_disconnected)[0].id == dev_a.str());
    CHECK(h.count(owned_event::protocol_error) == 0);
    // Order as sent: connected, two messages, then disconnected.
    std::vector<owned_event::kind_t> a_kinds;
    for (const auto& e : h.events)
        if (e.id == dev_a.str())
            a_kinds.push_back(e.kind);
    CHECK(a_kinds == std::vector<owned_event::kind_t>{
                         owned_event::device_connected, owned_event::device_message,
                         owned_event::device_message, owned_event::device_disconnected});
}

TEST_CASE("session: 0x03 and 0x07 sends reach the devices byte for byte",
          "[session][integration]") {
    harness h;
    auto a = h.cloud.device(dev_a.view());
    auto n = h.cloud.device(nb.view());
    a.connect();
    n.connect();
    h.start();
    REQUIRE(h.wait_connected());

    bytes all_values(256);
    for (std::size_t i = 0; i < all_values.size(); ++i)
        all_values[i] = static_cast<std::uint8_t>(i);
    const bytes big(60000, 0xA5);
    CHECK_FALSE(h.send(dev_a, all_values));
    CHECK_FALSE(h.send(dev_a, bytes{}));
    CHECK_FALSE(h.send(dev_a, big));
    std::optional<error_code> r;
    h.s->async_send_nbiot(nb, bytes{0x01, 0x02}, [&](error_code ec) { r = ec; });
    CHECK_FALSE(h.wait(r));

    REQUIRE(a.wait_received(3, 5s));
    const auto got = a.received();
    REQUIRE(got.size() == 3);
    CHECK(got[0] == all_values);
    CHECK(got[1].empty());
    CHECK(got[2] == big);
    // The emulator matched the 37-byte, NUL-padded id to its NB-IoT device.
    REQUIRE(n.wait_received(1, 5s));
    CHECK(n.received() == std::vector<bytes>{bytes{0x01, 0x02}});
}

TEST_CASE("session: unsubscribe stops delivery", "[session][integration]") {
    harness h;
    auto a = h.cloud.device(dev_a.view());
    auto n = h.cloud.device(nb.view());
    a.connect();
    n.connect();
    h.start();
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_connected());
    REQUIRE(h.wait_subscribers(dev_a, 1));
    a.send("before");
    REQUIRE(h.until([&] { return h.count(owned_event::device_message) == 1; }));

    std::optional<error_code> r;
    h.s->async_unsubscribe(dev_a, [&](error_code ec) { r = ec; });
    CHECK_FALSE(h.wait(r));
    REQUIRE(h.wait_subscribers(dev_a, 0));
    CHECK(h.s->status().subscriptions == 0);
    a.send("after");
    n.send("marker"); // NB-IoT data reaches every session: once it is here, "after" would be too
    REQUIRE(h.until([&] { return h.count(owned_event::nbiot_message) == 1; }));
    h.pump(50ms);
    auto msgs = h.of(owned_event::device_message);
    REQUIRE(msgs.size() == 1);
    CHECK(as_chars(msgs[0].payload) == "before");
}

TEST_CASE("session: dropped connections heal: reconnect, resubscribe, nothing lost after "
          "session_connected",
          "[session][integration]") {
    harness h;
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.start();
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_connected());
    REQUIRE(h.wait_subscribers(dev_a, 1));

    for (int round = 1; round <= 3; ++round) {
        INFO("round " << round);
        h.cloud.drop_connections();
        REQUIRE(h.wait_connected(static_cast<std::size_t>(round) + 1));
        CHECK(h.count(owned_event::session_disconnected) == static_cast<std::size_t>(round));
        // The subscription was replayed (written) before session_connected was reported.
        // The protocol has no acknowledgement: wait until the cloud has read it; from then
        // on nothing a device sends may be lost.
        REQUIRE(h.wait_subscribers(dev_a, 1));
        const std::size_t before = h.count(owned_event::device_message);
        for (int i = 0; i < 20; ++i)
            a.send("r" + std::to_string(round) + "-" + std::to_string(i));
        REQUIRE(h.until([&] { return h.count(owned_event::device_message) == before + 20; }));
        auto msgs = h.of(owned_event::device_message);
        for (int i = 0; i < 20; ++i)
            CHECK(as_chars(msgs[before + static_cast<std::size_t>(i)].payload) ==
                  "r" + std::to_string(round) + "-" + std::to_string(i));
    }
    // The disconnects were reported between the connects, in order.
    std::vector<owned_event::kind_t> link;
    for (const auto& e : h.events)
        if (e.kind == owned_event::session_connected || e.kind == owned_event::session_disconnected)
            link.push_back(e.kind);
    CHECK(link == std::vector<owned_event::kind_t>{
                      owned_event::session_connected, owned_event::session_disconnected,
                      owned_event::session_connected, owned_event::session_disconnected,
                      owned_event::session_connected, owned_event::session_disconnected,
                      owned_event::session_connected});
    CHECK(h.s->status().connections == 4);
    CHECK(h.logs.count("lost") == 3);
}

TEST_CASE("session: a server away for a while: reconnects with growing delays, then delivers "
          "queued sends",
          "[session][integration]") {
    harness h;
    h.cfg.session.reconnect.initial_delay = 30ms;
    h.cfg.session.reconnect.multiplier = 2.0;
    h.cfg.session.reconnect.max_delay = 5s;
    h.cfg.session.healthy_after = 100ms; // the first link counts as healthy
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.start();
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_connected());
    h.pump(150ms);

    h.cloud.suspend();
    REQUIRE(h.until([&] { return h.count(owned_event::session_disconnected) == 1; }));
    REQUIRE(h.until([&] { return h.s->status().failed_attempts >= 4; }));
    CHECK_FALSE(h.s->status().connected);
    // The schedule is in the log: 30 ms after the (healthy) link was lost, then 60, 120 ...
    CHECK(h.logs.count("reconnecting in 30 ms (attempt 1)") == 1);
    CHECK(h.logs.count("reconnecting in 60 ms (attempt 2)") == 1);
    CHECK(h.logs.count("reconnecting in 120 ms (attempt 3)") == 1);
    CHECK(h.logs.count("reconnecting in 240 ms (attempt 4)") == 1);
    CHECK(h.logs.count("connection attempt 3 to") == 1);

    // Sends made meanwhile wait for the link.
    std::optional<error_code> r1, r2;
    h.s->async_send(dev_a, as_bytes("queued-1"), [&](error_code ec) { r1 = ec; });
    h.s->async_send(dev_a, as_bytes("queued-2"), [&](error_code ec) { r2 = ec; });
    h.pump(30ms);
    CHECK_FALSE(r1);
    CHECK(h.s->status().queued_messages == 2);

    h.cloud.resume();
    // (The next attempt may be a few seconds away when the machine is slow: the delays grew.)
    const bool reconnected = h.wait_connected(2, 20s);
    INFO(h.logs.all());
    REQUIRE(reconnected);
    CHECK_FALSE(h.wait(r1));
    CHECK_FALSE(h.wait(r2));
    REQUIRE(a.wait_received(2, 5s));
    CHECK(a.received() == std::vector<bytes>{to_bytes("queued-1"), to_bytes("queued-2")});
    REQUIRE(h.wait_subscribers(dev_a, 1));
    a.send("welcome back");
    REQUIRE(h.until([&] { return h.count(owned_event::device_message) == 1; }));
    CHECK(h.s->status().failed_attempts == 0); // reset by the working link
}

TEST_CASE("session: a bad token is rejected once, with diagnostics, and never retried",
          "[session][integration]") {
    harness h;
    h.cfg.token = "wrong-token-0123456789abcdef";
    h.start();
    REQUIRE(h.until([&] { return h.run_result.has_value(); }));
    CHECK(*h.run_result == client_errc::handshake_rejected);
    CHECK(h.diag.http_status() == 401);
    CHECK(h.diag.api_code() == 300);
    CHECK_FALSE(h.diag.server_message().empty());
    CHECK(h.logs.count("connecting to") == 1);
    CHECK(h.logs.count("wrong-token") == 0);
    CHECK(h.diag.to_string().find("wrong-token") == std::string::npos);
    CHECK(h.run_result->message().find("wrong-token") == std::string::npos);
    // The session is stopped: the receiver hears so; sends fail.
    REQUIRE(h.until([&] { return h.receive_error.has_value(); }));
    CHECK(*h.receive_error == client_errc::session_stopped);
    CHECK(h.send(dev_a, as_bytes("x")) == client_errc::session_stopped);
    h.pump(100ms);
    CHECK(h.logs.count("connecting to") == 1);
}

TEST_CASE("session: an unknown organisation is rejected once", "[session][integration]") {
    harness h;
    h.start(999);
    REQUIRE(h.until([&] { return h.run_result.has_value(); }));
    CHECK(*h.run_result == client_errc::handshake_rejected);
    CHECK(h.diag.http_status() == 404);
    CHECK(h.diag.api_code() == 401);
    CHECK(h.diag.server_message().find("999") != std::string::npos);
    CHECK(h.logs.count("connecting to") == 1);
    CHECK(h.logs.count("/org/999") >= 1);
}

TEST_CASE("session: stop() while connecting ends cleanly", "[session][integration]") {
    SECTION("at once") {
        harness h;
        h.start();
        h.s->stop();
        REQUIRE(h.until([&] { return h.run_result.has_value(); }));
        CHECK(*h.run_result == client_errc::session_stopped);
        CHECK(h.count(owned_event::session_connected) == 0);
    }
    SECTION("after the first steps") {
        for (auto delay : {1ms, 3ms, 6ms, 10ms}) {
            harness h;
            h.start();
            h.pump(delay);
            h.s->stop();
            REQUIRE(h.until([&] { return h.run_result.has_value(); }));
            CHECK(*h.run_result == client_errc::session_stopped);
            REQUIRE(h.until([&] { return h.receive_error.has_value(); }));
            CHECK(*h.receive_error == client_errc::session_stopped);
            // If the link got up before the stop, its end was reported.
            CHECK(h.count(owned_event::session_disconnected) ==
                  h.count(owned_event::session_connected));
        }
    }
    SECTION("while backing off") {
        harness h;
        h.cfg.session.reconnect.initial_delay = 10s;
        h.cloud.suspend();
        h.start();
        REQUIRE(h.until([&] { return h.s->status().failed_attempts == 1; }));
        const auto t0 = std::chrono::steady_clock::now();
        h.s->stop();
        REQUIRE(h.until([&] { return h.run_result.has_value(); }));
        CHECK(std::chrono::steady_clock::now() - t0 < 1s);
        CHECK(*h.run_result == client_errc::session_stopped);
    }
}

TEST_CASE("session: stop() while connected closes the link and reports it",
          "[session][integration]") {
    harness h;
    h.start();
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_connected());
    REQUIRE(h.until([&] { return h.cloud.websocket_connections() == 1; }));
    std::optional<error_code> queued;
    h.s->stop();
    h.s->async_send(dev_a, as_bytes("too late"), [&](error_code ec) { queued = ec; });
    REQUIRE(h.until([&] { return h.run_result.has_value(); }));
    CHECK(*h.run_result == client_errc::session_stopped);
    CHECK(h.wait(queued) == client_errc::session_stopped);
    REQUIRE(h.until([&] { return h.receive_error.has_value(); }));
    CHECK(*h.receive_error == client_errc::session_stopped);
    REQUIRE(h.events.back().kind == owned_event::session_disconnected);
    CHECK(h.events.back().ec == client_errc::session_stopped);
    CHECK(h.until([&] { return h.cloud.websocket_connections() == 0; }));

    // It can run again, and replays what it remembered.
    h.run_result.reset();
    h.receive_error.reset();
    h.s->async_run(h.diag, [&](error_code ec) { h.run_result = ec; });
    h.receive();
    REQUIRE(h.wait_connected(2));
    REQUIRE(h.wait_subscribers(dev_a, 1));
}

TEST_CASE("session: a slow consumer: reading pauses within the limits, nothing is lost",
          "[session][integration]") {
    harness h;
    h.cfg.session.max_pending_events = 50;
    h.cfg.session.max_pending_bytes = 1 << 20;
    h.auto_receive = false;
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.start();
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_subscribers(dev_a, 1));

    const int total = 1000;
    for (int i = 0; i < total; ++i)
        a.send("m" + std::to_string(i));
    REQUIRE(h.until([&] { return h.s->status().reading_paused; }));
    h.pump(200ms);
    auto st = h.s->status();
    CHECK(st.reading_paused);
    CHECK(st.pending_events == 50); // session_connected + 49 messages
    CHECK(h.logs.count("reading paused") >= 1);

    // Receiving resumes reading; every message arrives, in order.
    h.auto_receive = true;
    h.receive();
    REQUIRE(h.until([&] { return h.count(owned_event::device_message) == total; }, 10s));
    auto msgs = h.of(owned_event::device_message);
    for (int i = 0; i < total; ++i)
        CHECK(as_chars(msgs[static_cast<std::size_t>(i)].payload) == "m" + std::to_string(i));
    CHECK(h.max_batch <= 50);
    CHECK(h.count(owned_event::session_disconnected) == 0);
}

TEST_CASE("session: a slow consumer: the byte limit holds", "[session][integration]") {
    harness h;
    h.cfg.session.max_pending_bytes = 10000;
    h.auto_receive = false;
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.start();
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_subscribers(dev_a, 1));
    for (int i = 0; i < 100; ++i)
        a.send(bytes(1000, static_cast<std::uint8_t>(i)));
    REQUIRE(h.until([&] { return h.s->status().reading_paused; }));
    h.pump(100ms);
    // At most one message beyond the limit: the one that crossed it.
    CHECK(h.s->status().pending_bytes >= 10000);
    CHECK(h.s->status().pending_bytes < 10000 + 1021);
    h.auto_receive = true;
    h.receive();
    REQUIRE(h.until([&] { return h.count(owned_event::device_message) == 100; }, 10s));
    auto msgs = h.of(owned_event::device_message);
    for (std::size_t i = 0; i < msgs.size(); ++i)
        CHECK(msgs[i].payload == bytes(1000, static_cast<std::uint8_t>(i)));
}

TEST_CASE("session: the send queue's limit while the server is away", "[session][integration]") {
    harness h;
    h.cfg.session.max_queued_messages = 2;
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.start();
    REQUIRE(h.wait_connected());
    h.cloud.suspend();
    REQUIRE(h.until([&] { return !h.s->status().connected; }));
    std::optional<error_code> r1, r2, r3;
    h.s->async_send(dev_a, as_bytes("1"), [&](error_code ec) { r1 = ec; });
    h.s->async_send(dev_a, as_bytes("2"), [&](error_code ec) { r2 = ec; });
    h.s->async_send(dev_a, as_bytes("3"), [&](error_code ec) { r3 = ec; });
    CHECK(h.wait(r3) == client_errc::send_queue_full);
    CHECK_FALSE(r1);
    h.cloud.resume();
    CHECK_FALSE(h.wait(r1, 10s));
    CHECK_FALSE(h.wait(r2));
    REQUIRE(a.wait_received(2, 5s));
    CHECK(a.received() == std::vector<bytes>{to_bytes("1"), to_bytes("2")});
}

TEST_CASE("session: send_policy::fail while the link is down", "[session][integration]") {
    harness h;
    h.cfg.session.when_disconnected = send_policy::fail;
    h.start();
    REQUIRE(h.wait_connected());
    CHECK_FALSE(h.send(dev_a, as_bytes("up")));
    h.cloud.suspend();
    REQUIRE(h.until([&] { return !h.s->status().connected; }));
    CHECK(h.send(dev_a, as_bytes("down")) == client_errc::not_connected);
    CHECK(h.s->status().queued_messages == 0);
}

TEST_CASE("session: a silent link is found dead by the idle checks and replaced",
          "[session][integration]") {
    harness h;
    tcp_relay relay(h.cloud.port());
    h.cfg.base_url = "https://127.0.0.1:" + std::to_string(relay.port());
    // Pings after 750 ms of silence; each pong has 750 ms to come back, room enough for a
    // loaded machine running the sanitizers.
    h.cfg.session.idle_timeout = 1500ms;
    h.cfg.timeouts.tls_handshake = 500ms;
    h.start();
    REQUIRE(h.wait_connected());
    // Idle but alive: the pings are answered, the link stays.
    h.pump(3500ms);
    CHECK(h.s->status().connections == 1);
    CHECK(h.count(owned_event::session_disconnected) == 0);

    relay.freeze(true);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(h.until([&] { return h.count(owned_event::session_disconnected) == 1; }));
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= 750ms);
    CHECK(took < 6s);
    CHECK(h.of(owned_event::session_disconnected)[0].ec == boost::beast::error::timeout);
    CHECK(h.logs.count("link is dead") == 1);
    h.pump(300ms); // attempts through the frozen relay time out
    relay.freeze(false);
    REQUIRE(h.wait_connected(2, 10s));
}

TEST_CASE("session: a message over max_message_size fails the link, which heals",
          "[session][integration]") {
    harness h;
    h.cfg.session.max_message_size = 1000;
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.start();
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_subscribers(dev_a, 1));
    a.send(bytes(2000, 1));
    REQUIRE(h.until([&] { return h.count(owned_event::session_disconnected) == 1; }));
    CHECK(h.of(owned_event::session_disconnected)[0].ec == client_errc::message_too_large);
    REQUIRE(h.wait_connected(2));
    REQUIRE(h.wait_subscribers(dev_a, 1));
    a.send(bytes(900, 2));
    REQUIRE(h.until([&] { return h.count(owned_event::device_message) == 1; }));
}

TEST_CASE("session: async_receive hands over everything pending in one batch",
          "[session][integration]") {
    harness h;
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.auto_receive = false;
    h.start();
    REQUIRE_FALSE(h.subscribe(dev_a));
    REQUIRE(h.wait_subscribers(dev_a, 1));
    std::size_t frame_bytes = 0;
    for (int i = 0; i < 2000; ++i) {
        const std::string text = "burst-" + std::to_string(i);
        a.send(text);
        frame_bytes += 1 + 20 + text.size();
    }
    REQUIRE(h.until([&] { return h.s->status().pending_events == 2001; }, 10s));
    CHECK(h.s->status().pending_bytes == frame_bytes);
    h.receive();
    REQUIRE(h.until([&] { return h.batches == 1; }));
    CHECK(h.max_batch == 2001);
    CHECK(h.events.front().kind == owned_event::session_connected);
    REQUIRE(h.count(owned_event::device_message) == 2000);
    CHECK(as_chars(h.events.back().payload) == "burst-1999");
    CHECK(h.s->status().pending_events == 0);
}

TEST_CASE("session: per-operation time limits with cancel_after", "[session][integration]") {
    harness h;
    h.auto_receive = false;
    h.start();
    REQUIRE(h.until([&] { return h.s->status().connected; }));

    // A receive that waits too long: cancelled, and no event is lost by it.
    std::optional<error_code> r;
    std::size_t got = 0;
    h.s->async_receive(cancel_after(100ms, [&](error_code ec, event_batch b) {
        got = b.size();
        r = ec;
    }));
    CHECK_FALSE(h.wait(r)); // session_connected was pending: delivered at once
    CHECK(got == 1);
    r.reset();
    const auto t0 = std::chrono::steady_clock::now();
    h.s->async_receive(cancel_after(100ms, [&](error_code ec, event_batch) { r = ec; }));
    CHECK(h.wait(r) == asio::error::operation_aborted);
    CHECK(std::chrono::steady_clock::now() - t0 >= 90ms);
    h.auto_receive = true;
    h.receive();

    // A send waiting for the link: removed from the queue.
    h.cloud.suspend();
    REQUIRE(h.until([&] { return !h.s->status().connected; }));
    std::optional<error_code> sr;
    h.s->async_send(dev_a, as_bytes("x"), cancel_after(100ms, [&](error_code ec) { sr = ec; }));
    CHECK(h.wait(sr) == asio::error::operation_aborted);
    CHECK(h.s->status().queued_messages == 0);

    // async_run itself (terminal cancellation): the session stops.
    h.cloud.resume();
    h.s->stop();
    REQUIRE(h.until([&] { return h.run_result.has_value(); }));
    h.run_result.reset();
    h.receive_error.reset();
    h.s->async_run(cancel_after(500ms, [&](error_code ec) { h.run_result = ec; }));
    h.receive();
    REQUIRE(h.until([&] { return h.run_result.has_value(); }, 5s));
    CHECK(*h.run_result == asio::error::operation_aborted);
    CHECK_FALSE(h.s->status().running);
}
