// atomcloud::session against the emulator's WebSocket faults, over TLS with certificate
// verification on: a stalled link, a frame cut mid-way, pings left unanswered and frames
// written a byte at a time. Each fault is one the session must survive: the link is found
// dead (or not) for the right reason, replaced and resubscribed, and what the application
// receives is exactly what the devices sent, never a piece of a frame.
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>

#include <catch2/catch.hpp>

#include "session_harness.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

using namespace atomcloud;
using namespace std::chrono_literals;

namespace {

const device_number dev_a{"18846494908532689575"};

using atomcloud_test::owned_event;

/// A session on an emulator (idle links are checked after 1500 ms), subscribed to dev_a,
/// with what it delivered: the payloads of dev_a's messages, the reasons the link went
/// down, how often it came up.
class fault_harness : public atomcloud_test::session_harness {
public:
    fault_harness() : session_harness(emulator::options{}, 200ms) {
        // Pings after 750 ms of silence; the link is dead after 1500 ms without an answer.
        cfg.session.idle_timeout = 1500ms;
    }

    void start() {
        session_harness::start();
        REQUIRE(until([&] { return ups() == 1; }));
        REQUIRE_FALSE(subscribe(dev_a));
        REQUIRE(cloud.wait_subscribers(dev_a.view(), 1, 5s));
    }

    std::vector<bytes> messages() const {
        std::vector<bytes> out;
        for (const auto& e : of(owned_event::device_message))
            out.push_back(e.payload);
        return out;
    }
    std::vector<error_code> downs() const {
        std::vector<error_code> out;
        for (const auto& e : of(owned_event::session_disconnected))
            out.push_back(e.ec);
        return out;
    }
    std::size_t ups() const { return count(owned_event::session_connected); }
    std::size_t protocol_errors() const { return count(owned_event::protocol_error); }
    std::size_t device_events() const {
        return count(owned_event::device_connected) + count(owned_event::device_disconnected) +
               count(owned_event::nbiot_message);
    }
};

emulator::fault websocket_fault(emulator::fault::kind k) {
    emulator::fault f;
    f.what = k;
    return f;
}

} // namespace

TEST_CASE("session faults: a stalled link is found dead by the ping check and replaced",
          "[session][integration][faults]") {
    fault_harness h;
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.start();

    auto stall = websocket_fault(emulator::fault::kind::websocket_stall);
    stall.delay = 20s; // far longer than the test: only a new link can deliver
    h.cloud.inject_fault(stall);
    const auto t0 = std::chrono::steady_clock::now();
    a.send("held back"); // the link stops writing before this frame, pongs included
    REQUIRE(h.until([&] { return h.downs().size() == 1; }));
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= 750ms); // a ping went unanswered first
    CHECK(h.downs()[0] == boost::beast::error::timeout);
    CHECK(h.logs.count("link is dead") == 1);

    // The replacement link is subscribed again and delivers at once.
    REQUIRE(h.until([&] { return h.ups() == 2; }));
    REQUIRE(h.cloud.wait_subscribers(dev_a.view(), 1, 5s));
    a.send("after the stall");
    REQUIRE(h.until([&] { return !h.messages().empty(); }));
    CHECK(std::chrono::steady_clock::now() - t0 < 15s);
    CHECK(h.messages() == std::vector<bytes>{to_bytes("after the stall")});
    CHECK(h.protocol_errors() == 0);
    CHECK(h.cloud.status().pending_faults == 0);
    CHECK(h.cloud.wait_websocket_connections(1, 5s)); // the stalled link is gone
}

TEST_CASE("session faults: a frame cut mid-way is never an event, the session heals",
          "[session][integration][faults]") {
    fault_harness h;
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    h.start();

    // A 0x06 frame of a 200-byte payload is 225 bytes on the wire with its 4-byte header:
    // cut in the first header byte, in the extended length, in the frame's id, in the
    // payload and before its last byte.
    const bytes payload(200, 0x5A);
    std::size_t cycle = 0;
    for (std::size_t cut : {1u, 3u, 10u, 0u, 224u}) {
        INFO("cut after " << cut << " bytes");
        auto drop = websocket_fault(emulator::fault::kind::websocket_drop_mid_frame);
        drop.cut_after_bytes = cut;
        h.cloud.inject_fault(drop);
        a.send(payload);
        ++cycle;
        REQUIRE(h.until([&] { return h.downs().size() == cycle; }));
        CHECK(h.downs().back());
        REQUIRE(h.until([&] { return h.ups() == cycle + 1; }));
        REQUIRE(h.cloud.wait_subscribers(dev_a.view(), 1, 5s));
        const bytes whole = to_bytes("whole " + std::to_string(cycle));
        a.send(whole);
        REQUIRE(h.until([&] { return h.messages().size() == cycle; }));
        CHECK(h.messages().back() == whole); // never the cut frame, whole or in part
    }
    CHECK(h.protocol_errors() == 0);
    CHECK(h.device_events() == 0);
    CHECK(h.cloud.status().pending_faults == 0);
}

TEST_CASE("session faults: an unanswered ping makes the health check replace the link",
          "[session][integration][faults]") {
    fault_harness h;
    h.start();
    h.cloud.inject_fault(websocket_fault(emulator::fault::kind::websocket_no_pong));
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(h.until([&] { return h.downs().size() == 1; }));
    CHECK(std::chrono::steady_clock::now() - t0 >= 1000ms); // ping at 750 ms, dead at 1500
    CHECK(h.downs()[0] == boost::beast::error::timeout);
    CHECK(h.cloud.status().pending_faults == 0);
    REQUIRE(h.until([&] { return h.ups() == 2; }));
    REQUIRE(h.cloud.wait_subscribers(dev_a.view(), 1, 5s));

    // The new link's pings are answered: it stays, idle, through several of them.
    h.pump(3500ms);
    CHECK(h.downs().size() == 1);
    CHECK(h.ups() == 2);
    auto a = h.cloud.device(dev_a.view());
    a.connect();
    a.send("still here");
    REQUIRE(h.until([&] { return h.messages().size() == 1; }));
    CHECK(h.messages()[0] == to_bytes("still here"));
}

TEST_CASE("session faults: frames written a byte at a time arrive whole and in order",
          "[session][integration][faults]") {
    fault_harness h;
    h.start();
    auto slow = websocket_fault(emulator::fault::kind::websocket_slow_writes);
    slow.chunk_bytes = 1;
    slow.delay = 2ms;
    // Payload sizes around the frame header's length forms (7-bit, 16-bit).
    const std::vector<bytes> sent{bytes{0x00},      bytes(80, 0x11),
                                  bytes(104, 0x22), bytes(105, 0x33),
                                  bytes(300, 0x44), parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3")};
    auto a = h.cloud.device(dev_a.view());
    h.cloud.inject_fault(slow, sent.size() + 1); // + the 0x04 of connect()
    const auto t0 = std::chrono::steady_clock::now();
    a.connect();
    for (const auto& p : sent)
        a.send(p);
    REQUIRE(h.until([&] { return h.messages().size() == sent.size(); }, 30s));
    // More than 600 pieces, 2 ms apart: the faults did write them one by one.
    CHECK(std::chrono::steady_clock::now() - t0 >= 1200ms);
    CHECK(h.messages() == sent);
    CHECK(h.device_events() == 1); // the 0x04
    CHECK(h.downs().empty());
    CHECK(h.ups() == 1);
    CHECK(h.protocol_errors() == 0);
    CHECK(h.cloud.status().pending_faults == 0);
}
