// The session's logic without sockets: subscription tracking, the reconnect schedule, the
// send queue and its limits, and the WebSocket URL (with its redacted log form).
#include <atomcloud/detail/backoff.hpp>
#include <atomcloud/detail/send_queue.hpp>
#include <atomcloud/detail/session_url.hpp>
#include <atomcloud/detail/subscription_tracker.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/payload.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

using namespace atomcloud;
using namespace std::chrono_literals;

namespace {

const device_number dev_a{"18846494908532689575"};
const device_number dev_b{"00000000000000000002"};
const device_number dev_c{"00000000000000000003"};

std::vector<device_number> list(std::initializer_list<device_number> l) {
    return std::vector<device_number>(l);
}

} // namespace

// ------------------------------------------------------------------ subscription tracker

TEST_CASE("subscription tracker: subscribe reports only new devices, in order",
          "[session][tracker]") {
    detail::subscription_tracker t;
    CHECK(t.empty());
    CHECK(t.subscribe(list({dev_b, dev_a})) == list({dev_b, dev_a}));
    CHECK(t.size() == 2);
    // Again, plus one new and a duplicate within the call: only the new one, once.
    CHECK(t.subscribe(list({dev_a, dev_c, dev_c, dev_b})) == list({dev_c}));
    CHECK(t.devices() == list({dev_b, dev_a, dev_c}));
    CHECK(t.contains(dev_a));
    CHECK(t.subscribe(list({})).empty());
}

TEST_CASE("subscription tracker: unsubscribe forgets, unknown devices change nothing",
          "[session][tracker]") {
    detail::subscription_tracker t;
    t.subscribe(list({dev_a, dev_b, dev_c}));
    CHECK(t.unsubscribe(list({dev_b, dev_b})) == list({dev_b}));
    CHECK_FALSE(t.contains(dev_b));
    CHECK(t.devices() == list({dev_a, dev_c})); // order of the others kept
    CHECK(t.unsubscribe(list({dev_b})).empty());
    // Re-subscribing puts the device at the end of the replay order.
    CHECK(t.subscribe(list({dev_b})) == list({dev_b}));
    CHECK(t.devices() == list({dev_a, dev_c, dev_b}));
    CHECK(t.unsubscribe(list({dev_a, dev_b, dev_c})).size() == 3);
    CHECK(t.empty());
    CHECK(t.devices().empty());
}

TEST_CASE("subscription tracker: many devices", "[session][tracker]") {
    detail::subscription_tracker t;
    std::vector<device_number> all;
    for (int i = 0; i < 1000; ++i) {
        std::string n = std::to_string(i);
        all.emplace_back(std::string(20 - n.size(), '0') + n);
    }
    CHECK(t.subscribe(all).size() == 1000);
    std::vector<device_number> odd;
    for (std::size_t i = 1; i < all.size(); i += 2)
        odd.push_back(all[i]);
    CHECK(t.unsubscribe(odd).size() == 500);
    REQUIRE(t.size() == 500);
    for (std::size_t i = 0; i < 500; ++i)
        CHECK(t.devices()[i] == all[2 * i]);
}

// ------------------------------------------------------------------ backoff

TEST_CASE("backoff: without jitter, exponential from initial_delay up to max_delay",
          "[session][backoff]") {
    backoff_options o;
    o.initial_delay = 100ms;
    o.max_delay = 1000ms;
    o.multiplier = 2.0;
    o.jitter = 0.0;
    detail::backoff b(o, 42);
    std::vector<long> got;
    for (int i = 0; i < 7; ++i)
        got.push_back(static_cast<long>(b.next().count()));
    CHECK(got == std::vector<long>{100, 200, 400, 800, 1000, 1000, 1000});
    CHECK(b.failures() == 7);
    b.reset();
    CHECK(b.failures() == 0);
    CHECK(b.next() == 100ms); // the first retry after a working link is quick again
    CHECK(b.next() == 200ms);
}

TEST_CASE("backoff: jitter stays within bounds and below the cap", "[session][backoff]") {
    backoff_options o;
    o.initial_delay = 100ms;
    o.max_delay = 3000ms;
    o.multiplier = 1.5;
    o.jitter = 0.2;
    detail::backoff b(o, 7);
    double base = 100;
    for (int i = 0; i < 40; ++i) {
        const double d = static_cast<double>(b.next().count());
        const double capped = std::min(base, 3000.0);
        INFO("attempt " << i << " delay " << d << " base " << capped);
        CHECK(d >= std::floor(capped * 0.8) - 1);
        CHECK(d <= std::min(capped * 1.2, 3000.0));
        base *= 1.5;
    }
}

TEST_CASE("backoff: a fixed seed gives a fixed schedule, jitter varies it", "[session][backoff]") {
    backoff_options o; // defaults: 100 ms, x2, 30 s, jitter 0.2
    detail::backoff a(o, 1234), b(o, 1234), c(o, 99);
    std::vector<long> sa, sb, sc;
    for (int i = 0; i < 12; ++i) {
        sa.push_back(static_cast<long>(a.next().count()));
        sb.push_back(static_cast<long>(b.next().count()));
        sc.push_back(static_cast<long>(c.next().count()));
    }
    CHECK(sa == sb);
    CHECK(sa != sc);
    // Jitter really jitters: not every delay is the bare exponential value.
    std::set<long> firsts;
    for (std::uint64_t seed = 0; seed < 50; ++seed)
        firsts.insert(static_cast<long>(detail::backoff(o, seed).next().count()));
    CHECK(firsts.size() > 10);
    for (long f : firsts) {
        CHECK(f >= 80);
        CHECK(f <= 120);
    }
    // The schedule pinned for seed 1234 (a regression check of the formula).
    for (std::size_t i = 0; i < sa.size(); ++i) {
        const double base = std::min(100.0 * std::pow(2.0, static_cast<double>(i)), 30000.0);
        CHECK(static_cast<double>(sa[i]) >= std::floor(base * 0.8) - 1);
        CHECK(static_cast<double>(sa[i]) <= std::min(base * 1.2, 30000.0));
    }
    CHECK(sa.back() <= 30000);
}

TEST_CASE("backoff: out-of-range options are tamed", "[session][backoff]") {
    backoff_options o;
    o.initial_delay = 50ms;
    o.max_delay = 10ms; // below initial: counts as initial
    o.multiplier = 0.5; // below 1: counts as 1
    o.jitter = 7.0;     // clamped to 1
    detail::backoff b(o, 3);
    for (int i = 0; i < 20; ++i) {
        const auto d = b.next();
        CHECK(d >= 0ms);
        CHECK(d <= 50ms);
    }
    backoff_options z;
    z.initial_delay = -5ms;
    z.jitter = 0;
    detail::backoff zb(z, 1);
    CHECK(zb.next() == 0ms);
}

// ------------------------------------------------------------------ send queue

namespace {

struct test_handler {
    int tag;
};
using queue = detail::send_queue<test_handler>;

frame data_frame(std::size_t payload_size, std::vector<std::uint8_t>& storage) {
    storage.assign(payload_size, 0xAB);
    return send_frame{dev_a, bytes_view(storage)};
}

} // namespace

TEST_CASE("send queue: encodes frames into the queue", "[session][queue]") {
    queue q(10, 1000);
    const bytes payload = to_bytes("ALIENTEK-HRTDT");
    q.push_data(send_frame{dev_a, payload}, {1});
    q.push_data(nbiot_send_frame{nbiot_id("b6d85634-9d34-4052-80cd-b840b75cb910"), bytes{1, 2}},
                {2});
    REQUIRE(q.size() == 2);
    CHECK(q.data_count() == 2);
    CHECK(q.data_bytes() == (1 + 20 + 14) + (1 + 37 + 2));
    auto& e = q.start_front();
    CHECK(to_hex_packet(e.data) == "03 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35 "
                                   "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54");
    CHECK(q.in_flight());
    auto first = q.pop_front();
    CHECK(first.handler->tag == 1);
    CHECK_FALSE(q.in_flight());
    CHECK(q.data_count() == 1);
    auto second = q.pop_front();
    // The spec's NB-IoT vector: the id NUL-padded to 37 bytes.
    CHECK(to_hex_packet(second.data) ==
          "07 62 36 64 38 35 36 33 34 2D 39 64 33 34 2D 34 30 35 32 2D 38 30 63 64 2D 62 38 34 "
          "30 62 37 35 63 62 39 31 30 00 01 02");
    CHECK(q.empty());
    CHECK(q.data_bytes() == 0);
}

TEST_CASE("send queue: message and byte limits", "[session][queue]") {
    std::vector<std::uint8_t> storage;
    SECTION("messages") {
        queue q(3, 1 << 20);
        for (int i = 0; i < 3; ++i) {
            auto f = data_frame(10, storage);
            REQUIRE_FALSE(q.check_data(encoded_size(f)));
            q.push_data(f, {i});
        }
        CHECK(q.check_data(31) == client_errc::send_queue_full);
        // Control frames are not counted.
        q.push_control(subscribe_frame{dev_b});
        CHECK(q.size() == 4);
        CHECK(q.data_count() == 3);
        // Writing one frees a place.
        q.start_front();
        q.pop_front();
        CHECK_FALSE(q.check_data(31));
    }
    SECTION("bytes") {
        queue q(100, 100);
        auto f = data_frame(50, storage); // 71 bytes encoded
        REQUIRE_FALSE(q.check_data(encoded_size(f)));
        q.push_data(f, {1});
        CHECK(q.data_bytes() == 71);
        CHECK(q.check_data(30) == client_errc::send_queue_full);
        CHECK_FALSE(q.check_data(29));
        // A frame that could never fit is a different error.
        CHECK(q.check_data(101) == client_errc::message_too_large);
    }
}

TEST_CASE("send queue: replay goes to the front, behind the frame being written",
          "[session][queue]") {
    std::vector<std::uint8_t> storage;
    queue q(10, 10000);
    q.push_data(data_frame(1, storage), {1});
    q.push_data(data_frame(2, storage), {2});
    q.start_front(); // frame 1 is on the wire
    q.push_replay(list({dev_b, dev_c}));
    REQUIRE(q.size() == 4);
    CHECK(q.data_count() == 2);
    auto e1 = q.pop_front();
    CHECK(e1.handler->tag == 1);
    auto r1 = q.pop_front();
    CHECK(r1.control);
    CHECK_FALSE(r1.handler);
    CHECK(r1.data == encode_frame(subscribe_frame{dev_b}));
    auto r2 = q.pop_front();
    CHECK(r2.data == encode_frame(subscribe_frame{dev_c}));
    CHECK(q.pop_front().handler->tag == 2);
}

TEST_CASE("send queue: removal by id and by predicate spares the frame in flight",
          "[session][queue]") {
    std::vector<std::uint8_t> storage;
    queue q(10, 10000);
    const auto id1 = q.push_data(data_frame(1, storage), {1});
    const auto id2 = q.push_data(data_frame(1, storage), {2});
    q.push_control(unsubscribe_frame{dev_a}, test_handler{3});
    const auto id4 = q.push_data(data_frame(1, storage), {4});
    q.start_front();
    CHECK_FALSE(q.remove(id1)); // being written
    auto r = q.remove(id2);
    REQUIRE(r);
    CHECK(r->handler->tag == 2);
    CHECK_FALSE(q.remove(id2)); // gone already
    CHECK(q.data_count() == 2);
    std::vector<int> out;
    q.remove_if([](const auto&) { return true; }, [&](auto&& e) { out.push_back(e.handler->tag); });
    CHECK(out == std::vector<int>{3, 4});
    CHECK(q.size() == 1); // only the frame in flight is left
    CHECK(q.data_count() == 1);
    CHECK_FALSE(q.remove(id4));
    CHECK(q.pop_front().handler->tag == 1);
    CHECK(q.data_bytes() == 0);
}

TEST_CASE("send queue: several frames in flight in one write, replay and removal go behind "
          "them",
          "[session][queue]") {
    std::vector<std::uint8_t> storage;
    queue q(10, 10000);
    const auto id1 = q.push_data(data_frame(1, storage), {1});
    const auto id2 = q.push_data(data_frame(2, storage), {2});
    const auto id3 = q.push_data(data_frame(3, storage), {3});
    CHECK(q.has_unstarted());
    CHECK(q.start_front().id == id1);
    CHECK(q.start_front().id == id2); // both in one write
    CHECK(q.in_flight() == 2);
    CHECK(q.has_unstarted());
    CHECK_FALSE(q.remove(id1));
    CHECK_FALSE(q.remove(id2));
    q.push_replay(list({dev_b}));
    std::vector<int> removed;
    q.remove_if([](const auto& e) { return !e.control; },
                [&](auto&& e) { removed.push_back(e.handler->tag); });
    CHECK(removed == std::vector<int>{3}); // not the two in flight
    CHECK(q.pop_front().id == id1);
    CHECK(q.in_flight() == 1);
    CHECK(q.pop_front().id == id2);
    CHECK(q.in_flight() == 0);
    auto r = q.pop_front();
    CHECK(r.control); // the replay went behind the write
    CHECK(q.empty());
    (void)id3;
}

TEST_CASE("send queue: buffers are reused", "[session][queue]") {
    std::vector<std::uint8_t> storage;
    queue q(10, 100000);
    q.push_data(data_frame(1000, storage), {1});
    auto e = q.pop_front();
    const std::uint8_t* p = e.data.data();
    q.recycle(std::move(e.data));
    q.push_data(data_frame(500, storage), {2});
    auto e2 = q.pop_front();
    CHECK(e2.data.data() == p); // the same allocation, no new one
    CHECK(e2.data.size() == 1 + 20 + 500);
}

// ------------------------------------------------------------------ URL

TEST_CASE("session URL: target with tokens, redacted log form", "[session][url]") {
    error_code ec;
    auto url = detail::parse_base_url("https://cloud.example.com:8443/v2", ec);
    REQUIRE(url);
    const std::string token = "0115b0e4a89f7819ea88f81006117646";
    const std::string target = detail::websocket_target(*url, token, 42, "guid-1");
    CHECK(target == "/v2/connection/0115b0e4a89f7819ea88f81006117646/org/42?token=guid-1");
    const std::string log = detail::websocket_url_for_log(*url, 42);
    CHECK(log == "wss://cloud.example.com:8443/v2/connection/***/org/42");
    CHECK(log.find(token) == std::string::npos);
    // A token with characters that would change the path is percent-encoded, and
    // redact() also hides that form.
    const std::string odd = "a/b?c d";
    const std::string t2 = detail::websocket_target(*url, odd, 1, "x");
    CHECK(t2 == "/v2/connection/a%2Fb%3Fc%20d/org/1?token=x");
    CHECK(redact("GET " + t2, odd) == "GET /v2/connection/***/org/1?token=x");

    auto plain = detail::parse_base_url("https://cloud.alientek.com", ec);
    REQUIRE(plain);
    CHECK(detail::websocket_url_for_log(*plain, 7) ==
          "wss://cloud.alientek.com/connection/***/org/7");
    CHECK(detail::websocket_target(*plain, "t", -1, "g") == "/connection/t/org/-1?token=g");
}

TEST_CASE("session URL: random GUIDs", "[session][url]") {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string g = detail::random_guid();
        INFO(g);
        REQUIRE(g.size() == 36);
        for (std::size_t k : {8u, 13u, 18u, 23u})
            CHECK(g[k] == '-');
        CHECK(g[14] == '4');                                              // version 4
        CHECK(std::string_view("89ab").find(g[19]) != std::string::npos); // RFC 4122 variant
        for (char c : g)
            CHECK((c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))); // lower case
        seen.insert(g);
    }
    CHECK(seen.size() == 100); // fresh each time
}
