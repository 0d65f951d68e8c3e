// The emulator's WebSocket side and its life cycle: handshakes, subscriptions and fan-out,
// NB-IoT frames, policy closes, slow readers, dropped connections, suspend/resume,
// restart and shutdown. Plain Beast client over verified TLS.
#include "emulator_test_client.hpp"

#include <catch2/catch.hpp>

#include <atomcloud/payload.hpp>

#include <atomic>
#include <thread>

using namespace emu_test;
namespace emulator = atomcloud::emulator;
using atomcloud::bytes;

namespace {

constexpr const char* dtu = "18846494908532689575";
constexpr const char* wifi = "60412895370864217395";
constexpr const char* lte = "84021677359012846630";
constexpr const char* nbiot = "b6d85634-9d34-4052-80cd-b840b75cb910";

const char* two_orgs = R"({"orgs": [
  {"id": 1, "name": "一", "groups": [
    {"id": 10, "name": "g10", "devices": [
      {"id": 100, "name": "d100", "number": "11111111111111111111"},
      {"id": 101, "device_type": "03", "name": "nb101", "number": "nb-one"}]}]},
  {"id": 2, "name": "二", "groups": [
    {"id": 20, "name": "g20", "devices": [
      {"id": 200, "name": "d200", "number": "22222222222222222222"},
      {"id": 201, "device_type": "03", "name": "nb201", "number": "nb-two"}]}]}]})";

/// Opens a session and subscribes it to `numbers` (waiting until the server saw it).
void subscribe(emulator::server& cloud, wss_client& app,
               std::initializer_list<const char*> numbers) {
    for (auto n : numbers) {
        const auto before = cloud.subscribers(n);
        REQUIRE(!app.send(frame(0x01, n)));
        REQUIRE(cloud.wait_subscribers(n, before + 1, 5s));
    }
}

bytes next(wss_client& app) {
    auto m = app.receive();
    INFO(m.ec.message());
    REQUIRE(!m.ec);
    return m.data;
}

/// The server closed the session with 1008 and a reason containing `words`.
void expect_policy_close(wss_client& app, std::string_view words) {
    auto m = app.receive();
    REQUIRE(is_closed(m.ec));
    CHECK(app.close_reason().code == 1008u);
    INFO(app.close_reason().reason);
    CHECK(app.close_reason().reason.find(words) != std::string::npos);
}

std::string upgrade_request(const std::string& target) {
    return "GET " + target +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

} // namespace

TEST_CASE("websocket: the spec's test vectors, device events and data to a subscriber") {
    emulator::server cloud;
    client_io io;
    wss_client app(io, cloud);
    app.connect();
    REQUIRE(cloud.wait_websocket_connections(1, 5s));
    // 01 + "18846494908532689575", as the spec spells it out.
    REQUIRE(!app.send(hex("01 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35")));
    REQUIRE(cloud.wait_subscribers(dtu, 1, 5s));

    auto dev = cloud.device(dtu);
    dev.connect();
    CHECK(next(app) == frame(0x04, dtu));
    dev.connect(); // already connected: no second event
    dev.send("ALIENTEK-HRTDT");
    CHECK(next(app) == hex("06 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35 41 "
                           "4C 49 45 4E 54 45 4B 2D 48 52 54 44 54"));
    dev.send(bytes{});
    CHECK(next(app) == frame(0x06, dtu));
    dev.disconnect();
    CHECK(next(app) == frame(0x05, dtu));
    CHECK_THROWS_AS(dev.send("x"), std::logic_error); // a disconnected device cannot send
    dev.connect();
    CHECK(next(app) == frame(0x04, dtu));

    // 0x03 to a connected device is recorded, in order.
    REQUIRE(!app.send(frame(0x03, dtu, "hello")));
    REQUIRE(!app.send(frame(0x03, dtu)));
    REQUIRE(!app.send(frame(0x03, dtu, std::string("\0\xff", 2))));
    REQUIRE(dev.wait_received(3, 5s));
    CHECK(dev.received() ==
          std::vector<bytes>{atomcloud::to_bytes("hello"), bytes{}, bytes{0x00, 0xff}});
    CHECK(dev.received_messages().size() == 3);
    dev.clear_received();
    CHECK(dev.received().empty());

    // Session still healthy; a clean close.
    app.close();
    CHECK(cloud.wait_websocket_connections(0, 5s));
}

TEST_CASE("websocket: what a device received is bounded in count and bytes") {
    emulator::options opts;
    opts.max_received_per_device = 5;
    opts.max_received_bytes_per_device = 1000;
    emulator::server cloud(opts);
    client_io io;
    wss_client app(io, cloud);
    app.connect();
    auto dev = cloud.device(dtu);
    dev.connect();
    for (int i = 0; i < 8; ++i)
        REQUIRE(!app.send(frame(0x03, dtu, std::to_string(i))));
    REQUIRE(
        eventually([&] { return !dev.received().empty() && dev.received().back() == bytes{'7'}; }));
    CHECK(dev.received() ==
          std::vector<bytes>{bytes{'3'}, bytes{'4'}, bytes{'5'}, bytes{'6'}, bytes{'7'}});
    REQUIRE(!app.send(frame(0x03, dtu, std::string(600, 'a'))));
    REQUIRE(!app.send(frame(0x03, dtu, std::string(600, 'b'))));
    REQUIRE(eventually(
        [&] { return dev.received().back().size() == 600 && dev.received().back()[0] == 'b'; }));
    CHECK(dev.received().size() == 1); // 1200 bytes do not fit in 1000
}

TEST_CASE("websocket: fan-out only to subscribed sessions, unsubscribe") {
    emulator::server cloud;
    client_io io;
    wss_client a(io, cloud), b(io, cloud), c(io, cloud);
    a.connect();
    b.connect();
    c.connect();
    subscribe(cloud, a, {dtu});
    subscribe(cloud, b, {dtu, wifi});
    subscribe(cloud, c, {wifi});
    // Subscribing twice is one subscription (frames of a session are handled in order:
    // once the next subscription shows, the repeated one was handled).
    REQUIRE(!a.send(frame(0x01, dtu)));
    subscribe(cloud, a, {lte});
    CHECK(cloud.subscribers(dtu) == 2);
    CHECK(cloud.status().subscriptions == 5);

    auto d = cloud.device(dtu);
    auto w = cloud.device(wifi);
    d.connect();
    w.connect();
    d.send("D1");
    w.send("W1");
    CHECK(next(a) == frame(0x04, dtu));
    CHECK(next(a) == frame(0x06, dtu, "D1"));
    CHECK(next(b) == frame(0x04, dtu));
    CHECK(next(b) == frame(0x04, wifi));
    CHECK(next(b) == frame(0x06, dtu, "D1"));
    CHECK(next(b) == frame(0x06, wifi, "W1"));
    CHECK(next(c) == frame(0x04, wifi));
    CHECK(next(c) == frame(0x06, wifi, "W1"));
    // a got nothing of the WIFI device: its next message is the next DTU one.
    d.send("D2");
    CHECK(next(a) == frame(0x06, dtu, "D2"));
    CHECK(next(b) == frame(0x06, dtu, "D2"));

    // b unsubscribes from the DTU; unsubscribing from something not subscribed is harmless.
    REQUIRE(!b.send(frame(0x02, dtu)));
    REQUIRE(!c.send(frame(0x02, dtu)));
    REQUIRE(cloud.wait_subscribers(dtu, 1, 5s));
    d.send("D3");
    w.send("W2");
    CHECK(next(a) == frame(0x06, dtu, "D3"));
    CHECK(next(b) == frame(0x06, wifi, "W2")); // not D3
    CHECK(next(c) == frame(0x06, wifi, "W2"));

    // A closed session stops being a subscriber.
    a.close_now();
    REQUIRE(cloud.wait_subscribers(dtu, 0, 5s));
    CHECK(cloud.subscribers(wifi) == 2);
    d.send("D4"); // nobody listening: only stored
    CHECK(d.history_size() == 4);
}

TEST_CASE("websocket: NB-IoT frames are 37-byte padded, 0x08 goes to every session") {
    emulator::server cloud;
    client_io io;
    wss_client a(io, cloud), b(io, cloud);
    a.connect();
    b.connect();
    REQUIRE(cloud.wait_websocket_connections(2, 5s));
    auto nb = cloud.device(nbiot);
    nb.connect();

    // The spec's vector: 0x07, the UUID and one NUL of padding, payload 01 02.
    const auto vector07 = hex("07 62 36 64 38 35 36 33 34 2D 39 64 33 34 2D 34 30 35 32 2D 38 30 "
                              "63 64 2D 62 38 34 30 62 37 35 63 62 39 31 30 00 01 02");
    REQUIRE(!a.send(vector07));
    REQUIRE(nb.wait_received(1, 5s));
    CHECK(nb.received() == std::vector<bytes>{bytes{0x01, 0x02}});

    nb.send(bytes{0xAA, 0xBB});
    auto expected = vector07;
    expected[0] = 0x08;
    expected.resize(expected.size() - 2);
    expected.push_back(0xAA);
    expected.push_back(0xBB);
    CHECK(next(a) == expected); // nobody subscribed: NB-IoT data reaches every session
    CHECK(next(b) == expected);

    // No connect/disconnect events for NB-IoT devices (0x04/0x05 have a 20-byte id).
    nb.disconnect();
    CHECK(cloud.device(nbiot).state() == "notbind");
    auto d = cloud.device(dtu);
    d.connect();
    subscribe(cloud, a, {dtu});
    d.send("after");
    CHECK(next(a) == frame(0x06, dtu, "after"));

    // A 0x07 for the NB-IoT device while it is not bound is dropped.
    REQUIRE(!a.send(frame(0x07, nbiot, "lost", 37)));
    REQUIRE(!a.send(frame(0x03, dtu, "mark")));
    REQUIRE(d.wait_received(1, 5s));
    CHECK(nb.received().size() == 1);
}

TEST_CASE("websocket: frames about other organisations' or unknown devices are ignored") {
    emulator::options opts;
    opts.fixture_json = two_orgs;
    emulator::server cloud(opts);
    client_io io;
    wss_client one(io, cloud), two(io, cloud);
    one.connect(1);
    two.connect(2);
    REQUIRE(cloud.wait_websocket_connections(2, 5s));
    for (auto n : {"11111111111111111111", "22222222222222222222", "nb-one", "nb-two"})
        cloud.device(n).connect();

    // Org 1's session tries org 2's devices and unknown ones: ignored, session stays open.
    REQUIRE(!one.send(frame(0x01, "22222222222222222222")));
    REQUIRE(!one.send(frame(0x01, "99999999999999999999")));
    REQUIRE(!one.send(frame(0x03, "22222222222222222222", "x")));
    REQUIRE(!one.send(frame(0x07, "nb-two", "x", 37)));
    REQUIRE(!one.send(frame(0x07, "11111111111111111111", "x", 37))); // not an NB-IoT device
    REQUIRE(!one.send(frame(0x03, "11111111111111111111", "mine")));
    REQUIRE(cloud.device("11111111111111111111").wait_received(1, 5s));
    CHECK(cloud.subscribers("22222222222222222222") == 0);
    CHECK(cloud.device("22222222222222222222").received().empty());
    CHECK(cloud.device("nb-two").received().empty());
    CHECK(cloud.device("11111111111111111111").received().size() == 1);

    // NB-IoT data of org 2 goes to org 2's sessions only.
    cloud.device("nb-two").send("2");
    cloud.device("nb-one").send("1");
    CHECK(next(one) == frame(0x08, "nb-one", "1", 37));
    CHECK(next(two) == frame(0x08, "nb-two", "2", 37));
}

TEST_CASE("websocket: handshake rejections carry an HTTP status and an envelope") {
    emulator::server cloud;
    client_io io;
    https_client raw(io, cloud);
    const std::string t = cloud.token();

    struct rejection {
        std::string target;
        unsigned status;
        int code;
    };
    for (const auto& r :
         std::vector<rejection>{{"/connection/wrong-token/org/1?token=abc", 401, 300},
                                {"/connection//org/1?token=abc", 401, 300},
                                {"/connection/" + t + "/org/7?token=abc", 404, 401},
                                {"/connection/" + t + "/org/x?token=abc", 404, 401},
                                {"/connection/" + t + "/org/1", 400, 400},
                                {"/connection/" + t + "/org/1?token=", 400, 400},
                                {"/connection/" + t + "/org/1?other=1", 400, 400},
                                {"/conntecion/" + t + "/org/1?token=abc", 404, 401},
                                {"/connection/" + t + "/orgs/1?token=abc", 404, 401},
                                {"/api/orgs", 404, 401}}) {
        INFO(r.target);
        auto out = raw.raw_exchange(upgrade_request(r.target));
        CHECK(out.substr(0, 12) == "HTTP/1.1 " + std::to_string(r.status));
        auto body = out.substr(out.find("\r\n\r\n") + 4);
        auto j = json::parse(body);
        CHECK(j["code"] == r.code);
        CHECK(body.find(t) == std::string::npos);

        wss_client app(io, cloud);
        CHECK(is_upgrade_declined(app.try_connect(r.target)));
        CHECK(app.handshake_status() == r.status);
    }
    // Percent-encoded and GUID-style random tokens are fine.
    wss_client ok(io, cloud);
    CHECK(!ok.try_connect("/connection/" + t +
                          "/org/1?token=%7B6F9619FF-8B86-D011-B42D-00C04FC964FF%7D"));
    CHECK(cloud.wait_websocket_connections(1, 5s));
    // A plain GET on the WebSocket path is not an upgrade.
    CHECK(raw.get("/connection/" + t + "/org/1?token=1").status == 404u);
}

TEST_CASE("websocket: malformed frames, text frames and oversized messages close with 1008") {
    emulator::server cloud;
    client_io io;
    wss_client bystander(io, cloud);
    bystander.connect();
    subscribe(cloud, bystander, {dtu});
    auto dev = cloud.device(dtu);
    dev.connect();
    CHECK(next(bystander) == frame(0x04, dtu));

    struct bad_message {
        bytes data;
        bool text;
        const char* words;
    };
    const std::vector<bad_message> cases{
        {bytes{}, false, "malformed frame"},
        {bytes{0x09, 0x31}, false, "unknown"},
        {bytes{0x00}, false, "unknown"},
        {bytes{0x01, 0x31, 0x38}, false, "malformed frame"},
        {frame(0x06, dtu, "from an app"), false, "malformed frame"},
        {frame(0x04, dtu), false, "malformed frame"},
        {frame(0x01, dtu, "x"), false, "malformed frame"},
        {frame(0x02, dtu, "x"), false, "malformed frame"},
        {frame(0x07, "", "x", 37), false, "malformed frame"},
        {frame(0x03, "1884649490853268957\x01"), false, "malformed frame"},
        {atomcloud::to_bytes("hello"), true, "text"},
        {frame(0x01, dtu), true, "text"},
        {frame(0x03, dtu, std::string(64 * 1024, 'x')), false, "too large"},
        {bytes(1024 * 1024, 0x03), false, "too large"},
    };
    for (const auto& c : cases) {
        INFO(c.words << " " << c.data.size());
        wss_client app(io, cloud);
        app.connect();
        REQUIRE(!app.send(c.data, c.text));
        expect_policy_close(app, c.words);
    }
    REQUIRE(cloud.wait_websocket_connections(1, 5s));

    // The largest message accepted: exactly 64 KiB.
    wss_client big(io, cloud);
    big.connect();
    const std::string payload(64 * 1024 - 21, 'y');
    REQUIRE(!big.send(frame(0x03, dtu, payload)));
    REQUIRE(dev.wait_received(1, 5s));
    CHECK(dev.received()[0].size() == payload.size());

    // The others were served all along.
    dev.send("still here");
    CHECK(next(bystander) == frame(0x06, dtu, "still here"));
}

TEST_CASE("websocket: pings are answered") {
    emulator::server cloud;
    client_io io;
    wss_client app(io, cloud);
    app.connect();
    // A text frame after the ping makes the server close the session; the read that sees
    // the close frame has seen the pong, which the server sent first.
    const bool ponged = app.ping_then_text("are you there");
    CHECK(ponged);
}

TEST_CASE("websocket: a client that does not read is disconnected, memory stays bounded") {
    emulator::options opts;
    opts.max_outbound_bytes_per_connection = 256 * 1024;
    emulator::server cloud(opts);
    client_io io;
    wss_client slow(io, cloud), fine(io, cloud);
    slow.connect();
    fine.connect();
    slow.set_small_receive_buffer();
    subscribe(cloud, slow, {dtu});
    auto dev = cloud.device(dtu);
    dev.connect();
    const std::string chunk(16 * 1024, 'z');
    int sent = 0;
    // The socket buffers take some megabytes at most; the queue takes 256 KiB.
    for (; sent < 2000 && cloud.websocket_connections() == 2; ++sent)
        dev.send(chunk);
    CHECK(sent < 2000);
    REQUIRE(cloud.wait_websocket_connections(1, 5s));
    CHECK(cloud.subscribers(dtu) == 0);
    // The other session is fine.
    subscribe(cloud, fine, {dtu});
    dev.send("ok");
    CHECK(next(fine) == frame(0x06, dtu, "ok"));
}

TEST_CASE("websocket: drop_connections, suspend/resume and restart") {
    emulator::server cloud;
    client_io io;
    https_client http_client(io, cloud);
    auto dev = cloud.device(dtu);
    dev.connect();

    SECTION("drop_connections closes sessions abruptly and keeps HTTPS") {
        wss_client a(io, cloud), b(io, cloud);
        a.connect();
        b.connect();
        subscribe(cloud, a, {dtu});
        CHECK(http_client.get("/api/orgs").status == 200u);
        cloud.drop_connections();
        for (auto* app : {&a, &b}) {
            auto m = app->receive();
            CHECK(m.ec);
            CHECK_FALSE(is_closed(m.ec)); // no close frame
        }
        CHECK(cloud.wait_websocket_connections(0, 5s));
        CHECK(cloud.subscribers(dtu) == 0);
        CHECK(http_client.get("/api/orgs").status == 200u);
        CHECK(http_client.connects() == 1);
        // New sessions work.
        wss_client c(io, cloud);
        c.connect();
        subscribe(cloud, c, {dtu});
        dev.send("again");
        CHECK(next(c) == frame(0x06, dtu, "again"));
    }
    SECTION("suspend refuses connections until resume, on the same port") {
        const auto port = cloud.port();
        wss_client a(io, cloud);
        a.connect();
        cloud.suspend();
        CHECK_FALSE(cloud.status().listening);
        CHECK(a.receive().ec);
        CHECK(eventually([&] { return cloud.status().connections == 0; }));
        wss_client b(io, cloud);
        CHECK(is_connection_refused(b.try_connect(b.path())));
        CHECK(http_client.try_request("GET", "/api/orgs", {}, cloud.token()).ec);
        dev.send("while down"); // the devices keep talking to the cloud
        cloud.resume();
        cloud.resume(); // harmless
        CHECK(cloud.port() == port);
        CHECK(!b.try_connect(b.path()));
        CHECK(http_client.get_json(
                  "/api/orgs/1/devicepacket/18846494908532689575")["data"]["total_item"] == 1);
    }
    SECTION("restart drops everything and keeps state, history and faults") {
        wss_client a(io, cloud);
        a.connect();
        subscribe(cloud, a, {dtu});
        dev.send("before");
        CHECK(next(a) == frame(0x06, dtu, "before"));
        emulator::fault f;
        f.what = emulator::fault::kind::api_code;
        f.code = 500;
        cloud.inject_fault(f);
        const auto port = cloud.port();
        cloud.restart();
        CHECK(cloud.port() == port);
        CHECK(a.receive().ec);
        CHECK(cloud.wait_websocket_connections(0, 5s));
        CHECK(http_client.get_json("/api/orgs")["code"] == 500);
        CHECK(http_client.get_json("/api/orgs/1/devicestate/146")["data"] == "connected");
        CHECK(cloud.device(dtu).history_size() == 1);
        wss_client b(io, cloud);
        b.connect();
        subscribe(cloud, b, {dtu});
        dev.send("after");
        CHECK(next(b) == frame(0x06, dtu, "after"));
    }
}

TEST_CASE("websocket: stopping with connections open is clean") {
    client_io io;
    auto cloud = std::make_unique<emulator::server>();
    https_client http_client(io, *cloud);
    wss_client a(io, *cloud), b(io, *cloud);
    a.connect();
    b.connect();
    subscribe(*cloud, a, {dtu});
    CHECK(http_client.get("/api/orgs").status == 200u);
    auto dev = cloud->device(dtu);
    dev.connect();
    emulator::fault f;
    f.what = emulator::fault::kind::delay;
    f.delay = 30s;
    cloud->inject_fault(f);
    // A request stuck in a delay fault, a TCP client that never starts TLS, a session with
    // queued data.
    https_client delayed(io, *cloud);
    std::thread stuck([&] { delayed.try_request("GET", "/api/orgs", {}, cloud->token(), 20s); });
    plain_tcp idle(cloud->port());
    for (int i = 0; i < 10; ++i)
        dev.send("queued");
    while (cloud->status().pending_faults != 0)
        std::this_thread::sleep_for(1ms);

    auto t0 = std::chrono::steady_clock::now();
    cloud->stop();
    cloud->stop(); // idempotent
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    stuck.join();
    CHECK_THROWS_AS(cloud->status(), std::logic_error);
    CHECK_THROWS_AS(dev.connect(), std::logic_error);
    CHECK(dev.received().empty()); // still answers after the stop
    cloud.reset();
    CHECK(dev.received().empty()); // and after the server object is gone
    int messages = 0;
    while (!a.receive().ec)
        REQUIRE(++messages <= 11); // 0x04 and the ten queued ones at most, then the end
}

TEST_CASE("websocket: frames go out in the history's order, nothing is forwarded later") {
    // A clock that jumps back and forth: the order must hold all the same.
    auto us = std::make_shared<std::atomic<std::int64_t>>(1'533'978'000'000'000);
    emulator::options opts;
    opts.clock = [us] {
        return std::chrono::system_clock::time_point(std::chrono::microseconds(us->load()));
    };
    emulator::server cloud(opts);
    client_io io;
    https_client http_client(io, cloud);
    auto dev = cloud.device(dtu);
    dev.connect();
    wss_client a(io, cloud), b(io, cloud);
    a.connect();
    b.connect();
    REQUIRE(cloud.wait_websocket_connections(2, 5s));

    // Stored while nobody is subscribed (the sessions are open): never forwarded.
    for (int i = 0; i < 3; ++i)
        dev.send("before " + std::to_string(i));
    subscribe(cloud, a, {dtu});
    subscribe(cloud, b, {dtu});

    const std::string send_path = std::string("/emulator/devices/") + dtu + "/send";
    constexpr int count = 150;
    for (int i = 0; i < count; ++i) {
        us->fetch_add((i * 7919) % 13 < 5 ? -2'000'000 : 1'000'000 + i);
        const std::string text = "m" + std::to_string(i);
        if (i % 2 == 0)
            dev.send(text);
        else
            REQUIRE(http_client
                        .post(send_path, R"({"hex":")" +
                                             atomcloud::to_hex_packet(atomcloud::as_bytes(text)) +
                                             R"("})")
                        .status == 200u);
    }

    // The history, oldest first.
    auto page = http_client.get_json(std::string("/api/orgs/1/devicepacket/") + dtu +
                                     "?limit=1000")["data"]["items"];
    REQUIRE(page.size() == 3 + count);
    std::vector<bytes> history;
    for (auto it = page.rbegin(); it != page.rend(); ++it)
        history.push_back(atomcloud::parse_hex_packet((*it)["hex_packet"].get<std::string>()));
    for (int i = 0; i < 3; ++i)
        CHECK(history[i] == atomcloud::to_bytes("before " + std::to_string(i)));
    for (int i = 0; i < count; ++i)
        CHECK(history[3 + i] == atomcloud::to_bytes("m" + std::to_string(i)));
    // The times never went back, although the clock did.
    const auto sent = dev.sent();
    REQUIRE(sent.size() == history.size());
    for (std::size_t i = 1; i < sent.size(); ++i)
        CHECK(sent[i - 1].time <= sent[i].time);

    // Each session got exactly the messages stored after it subscribed, in history order.
    for (auto* app : {&a, &b}) {
        for (int i = 0; i < count; ++i) {
            auto m = app->receive();
            REQUIRE(!m.ec);
            CHECK(m.data ==
                  frame(0x06, dtu, std::string(history[3 + i].begin(), history[3 + i].end())));
        }
    }

    // Unsubscribed: what is sent meanwhile does not come later.
    REQUIRE(!a.send(frame(0x02, dtu)));
    REQUIRE(cloud.wait_subscribers(dtu, 1, 5s));
    dev.send("gap");
    CHECK(next(b) == frame(0x06, dtu, "gap"));
    subscribe(cloud, a, {dtu});
    dev.send("next");
    CHECK(next(a) == frame(0x06, dtu, "next"));
    CHECK(next(b) == frame(0x06, dtu, "next"));

    // Nor to a session that reconnects after a drop.
    cloud.drop_connections();
    CHECK(a.receive().ec);
    dev.send("while away");
    wss_client c(io, cloud);
    c.connect();
    subscribe(cloud, c, {dtu});
    dev.send("back");
    CHECK(next(c) == frame(0x06, dtu, "back"));
    CHECK(dev.history_size() == 3 + count + 4);
}

TEST_CASE("websocket: drop_connections(refuse_for) refuses upgrades for that long, REST answers") {
    emulator::server cloud;
    client_io io;
    https_client http_client(io, cloud);
    auto dev = cloud.device(dtu);
    dev.connect();
    wss_client a(io, cloud);
    a.connect();
    subscribe(cloud, a, {dtu});
    CHECK_FALSE(cloud.status().websocket_refusing);
    CHECK_THROWS_AS(cloud.drop_connections(-1ms), std::invalid_argument);
    CHECK(cloud.websocket_connections() == 1);

    // The window is long enough for a loaded machine; should this thread still be slower
    // than that, the checks inside the window say so instead of failing at random.
    constexpr auto window = 3s;
    const auto dropped_at = std::chrono::steady_clock::now();
    cloud.drop_connections(window);
    auto m = a.receive();
    CHECK(m.ec);
    CHECK_FALSE(is_closed(m.ec)); // abrupt: no close frame
    // The client can see its link cut before the emulator's thread has let it go.
    auto st = cloud.status();
    for (const auto give_up = std::chrono::steady_clock::now() + 2s;
         (st.websocket_connections != 0 || st.subscriptions != 0) &&
         std::chrono::steady_clock::now() < give_up;
         st = cloud.status())
        std::this_thread::sleep_for(5ms);
    CHECK(st.websocket_connections == 0);
    CHECK(st.subscriptions == 0);

    // The session reconnects: 503 with the envelope, and not counted as a session.
    wss_client b(io, cloud);
    const auto ec = b.try_connect(b.path());
    const unsigned status = b.handshake_status();
    const auto out = http_client.raw_exchange(upgrade_request(b.path()));
    const bool refusing = cloud.status().websocket_refusing;
    const auto sessions = cloud.websocket_connections();
    // REST and the control API answer normally; devices keep sending into the history.
    const auto orgs = http_client.get_json("/api/orgs");
    const auto control = http_client.get_json("/emulator/status")["data"];
    dev.send("during");
    const bool in_window = std::chrono::steady_clock::now() - dropped_at < window;
    INFO("the checks ran " << (in_window ? "inside" : "after") << " the refusal window");
    CHECK((is_upgrade_declined(ec) || !in_window));
    CHECK((status == 503u || !in_window));
    CHECK((out.substr(0, 12) == "HTTP/1.1 503" || !in_window));
    if (in_window) {
        auto body = json::parse(out.substr(out.find("\r\n\r\n") + 4));
        CHECK(body["code"] == 500);
        CHECK(body["message"] == "websocket unavailable (injected outage)");
        CHECK(body["data"].is_null());
        CHECK(control["websocket_refusing"] == true);
    }
    CHECK((refusing || !in_window));
    CHECK(sessions == 0);
    CHECK(orgs["code"] == 200);
    CHECK(control["websocket_connections"] == 0);
    CHECK(http_client.connects() == 1); // the HTTPS connection stayed
    CHECK(dev.history_size() == 1);
    CHECK(dev.sent_count() == 1);

    // Retrying, the session gets in once the window is over, not before.
    wss_client c(io, cloud);
    bool connected = false;
    while (std::chrono::steady_clock::now() - dropped_at < window + 30s) {
        const auto attempt = c.try_connect(c.path());
        if (!attempt) {
            connected = true;
            break;
        }
        REQUIRE(is_upgrade_declined(attempt));
        REQUIRE(c.handshake_status() == 503u);
        std::this_thread::sleep_for(50ms);
    }
    REQUIRE(connected);
    CHECK(std::chrono::steady_clock::now() - dropped_at >= window);
    CHECK_FALSE(cloud.status().websocket_refusing);
    CHECK(cloud.wait_websocket_connections(1, 5s));
    subscribe(cloud, c, {dtu});
    dev.send("after");
    CHECK(next(c) == frame(0x06, dtu, "after")); // "during" is only in the history

    // A later call replaces the refusal; 0 ends it.
    cloud.drop_connections(1h);
    CHECK(c.receive().ec);
    CHECK(cloud.status().websocket_refusing);
    cloud.drop_connections(0ms);
    CHECK_FALSE(cloud.status().websocket_refusing);
    CHECK(!c.try_connect(c.path()));
}

TEST_CASE("websocket: the control API's drop-connections takes refuse_ms, and checks it") {
    emulator::server cloud;
    client_io io;
    https_client http_client(io, cloud);
    wss_client a(io, cloud);
    a.connect();
    REQUIRE(cloud.wait_websocket_connections(1, 5s));

    for (auto bad : {"not json", "[]", "5", R"({"refuse_ms":-1})", R"({"refuse_ms":3600001})",
                     R"({"refuse_ms":"100"})", R"({"refuse_ms":1.5})", R"({"refuse_ms":true})",
                     R"({"refuse_ms":null})", R"({"refuse_ms":18446744073709551615})",
                     R"({"refuse_ms":99999999999999999999999})"}) {
        INFO(bad);
        auto r = http_client.post("/emulator/drop-connections", bad);
        CHECK(r.status == 400u);
        CHECK(json::parse(r.body)["code"] == 400);
    }
    // Refused requests did nothing.
    CHECK(cloud.websocket_connections() == 1);
    CHECK_FALSE(cloud.status().websocket_refusing);

    // No body and {"refuse_ms":0}: drop only.
    for (auto body : {"", R"({"refuse_ms":0})", "{}"}) {
        INFO(body);
        CHECK(http_client.post("/emulator/drop-connections", body).status == 200u);
        CHECK(a.receive().ec);
        CHECK(cloud.wait_websocket_connections(0, 5s));
        CHECK_FALSE(cloud.status().websocket_refusing);
        REQUIRE(!a.try_connect(a.path()));
        REQUIRE(cloud.wait_websocket_connections(1, 5s));
    }

    // The largest refusal; the status says so; the C++ call ends it.
    auto r = http_client.post("/emulator/drop-connections", R"({"refuse_ms":3600000})");
    CHECK(r.status == 200u);
    CHECK(a.receive().ec);
    CHECK(cloud.status().websocket_refusing);
    CHECK(http_client.get_json("/emulator/status")["data"]["websocket_refusing"] == true);
    wss_client b(io, cloud);
    CHECK(is_upgrade_declined(b.try_connect(b.path())));
    CHECK(b.handshake_status() == 503u);
    CHECK(cloud.websocket_connections() == 0);
    cloud.drop_connections(0ms);
    CHECK(http_client.get_json("/emulator/status")["data"]["websocket_refusing"] == false);
    CHECK(!b.try_connect(b.path()));

    // A short refusal ends by itself.
    CHECK(http_client.post("/emulator/drop-connections", R"({"refuse_ms":300})").status == 200u);
    CHECK(b.receive().ec);
    CHECK(eventually([&] { return !b.try_connect(b.path()); }));
    CHECK(cloud.wait_websocket_connections(1, 5s));
}

TEST_CASE("websocket: link faults take the next frames or pings, in order, and only those") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);
    wss_client app(io, cloud);
    app.connect();
    subscribe(cloud, app, {dtu});
    auto dev = cloud.device(dtu);
    const bytes connected = frame(0x04, dtu);
    const bytes data = frame(0x06, dtu, "ALIENTEK-HRTDT");

    SECTION("stall: the frame comes after the delay; REST requests are not faulted") {
        emulator::fault f;
        f.what = emulator::fault::kind::websocket_stall;
        f.delay = 400ms;
        cloud.inject_fault(f);
        CHECK(c.get("/api/orgs").status == 200u);
        CHECK(cloud.status().pending_faults == 1);
        const auto t0 = std::chrono::steady_clock::now();
        dev.connect();
        CHECK(next(app) == connected);
        CHECK(std::chrono::steady_clock::now() - t0 >= 400ms);
        CHECK(cloud.status().pending_faults == 0);
        dev.send("ALIENTEK-HRTDT"); // the next frame goes out at once
        CHECK(next(app) == data);
    }
    SECTION("drop mid-frame: part of the frame, then the connection ends without a close") {
        REQUIRE(
            c.post("/emulator/faults", R"({"kind":"websocket_drop_mid_frame","cut_after_bytes":5})")
                .status == 200u);
        dev.connect();
        auto m = app.receive(5s);
        CHECK(m.ec);
        CHECK_FALSE(is_closed(m.ec));
        CHECK_FALSE(is_timeout(m.ec));
        CHECK(cloud.wait_websocket_connections(0, 5s));
        CHECK(cloud.subscribers(dtu) == 0);
    }
    SECTION("slow writes: a frame in 1-byte pieces arrives whole") {
        emulator::fault f;
        f.what = emulator::fault::kind::websocket_slow_writes;
        f.chunk_bytes = 1;
        f.delay = 1ms;
        cloud.inject_fault(f, 2);
        dev.connect();
        dev.send("ALIENTEK-HRTDT");
        CHECK(next(app) == connected);
        CHECK(next(app) == data);
        CHECK(cloud.status().pending_faults == 0);
    }
    SECTION("no pong: the next ping goes unanswered, the one after is answered") {
        REQUIRE(c.post("/emulator/faults", R"({"kind":"websocket_no_pong"})").status == 200u);
        dev.connect(); // frames still flow
        CHECK(next(app) == connected);
        CHECK_FALSE(app.ping_then_text("anyone?"));
        CHECK(cloud.status().pending_faults == 0);
        wss_client again(io, cloud);
        again.connect();
        CHECK(again.ping_then_text("anyone?"));
    }
}

TEST_CASE("websocket: link faults from the control API and C++ are checked against the table") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);
    auto r = c.post("/emulator/faults",
                    R"({"kind":"websocket_slow_writes","chunk_bytes":3,"delay_ms":1,"count":2})");
    CHECK(r.status == 200u);
    c.post("/emulator/faults", R"({"kind":"websocket_stall","delay_ms":250})");
    auto list = c.get_json("/emulator/faults")["data"];
    REQUIRE(list.size() == 2);
    CHECK(list[0]["kind"] == "websocket_slow_writes");
    CHECK(list[0]["chunk_bytes"] == 3);
    CHECK(list[0]["delay_ms"] == 1);
    CHECK(list[0]["count"] == 2);
    CHECK_FALSE(list[0].contains("status")); // only the kind's own parameters
    CHECK(list[1]["kind"] == "websocket_stall");
    CHECK(list[1]["delay_ms"] == 250);
    CHECK(cloud.status().pending_faults == 3);
    c.del("/emulator/faults");

    for (auto bad : {R"({"kind":"websocket_slow_writes","chunk_bytes":0})",
                     R"({"kind":"websocket_slow_writes","chunk_bytes":65537})",
                     R"({"kind":"websocket_stall","status":503})",
                     R"({"kind":"websocket_stall","delay_ms":600001})",
                     R"({"kind":"websocket_drop_mid_frame","cut_after_bytes":-1})",
                     R"({"kind":"websocket_no_pong","delay_ms":5})",
                     R"({"kind":"http_status","delay_ms":5})", R"({"kind":"websocket_nap"})"}) {
        INFO(bad);
        auto res = c.post("/emulator/faults", bad);
        CHECK(res.status == 400u);
        CHECK(json::parse(res.body)["code"] == 400);
    }
    CHECK(cloud.status().pending_faults == 0);

    emulator::fault f;
    f.what = emulator::fault::kind::websocket_slow_writes;
    f.chunk_bytes = 0;
    CHECK_THROWS_AS(cloud.inject_fault(f), std::invalid_argument);
    f.what = emulator::fault::kind::websocket_stall;
    f.delay = -1ms;
    CHECK_THROWS_AS(cloud.inject_fault(f), std::invalid_argument);
    CHECK(cloud.status().pending_faults == 0);
    CHECK(std::string(emulator::to_string(emulator::fault::kind::websocket_no_pong)) ==
          "websocket_no_pong");
}
