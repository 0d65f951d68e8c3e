// The session's frame ends without sockets: one pass of the read side over a region of
// server frames, and the write side's batches of masked client frames.
#include <atomcloud/detail/send_queue.hpp>
#include <atomcloud/detail/session_frames.hpp>
#include <atomcloud/frame.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

using namespace atomcloud;
using namespace atomcloud::detail;

namespace {

const device_number dev_a{"18846494908532689575"};
const device_number dev_b{"00000000000000000002"};

// A server frame (unmasked), FIN unless `more`.
bytes server_frame(std::uint8_t opcode, bytes_view payload, bool fin = true) {
    bytes f{static_cast<std::uint8_t>((fin ? 0x80 : 0x00) | opcode)};
    if (payload.size() < 126) {
        f.push_back(static_cast<std::uint8_t>(payload.size()));
    } else {
        f.push_back(126);
        f.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
        f.push_back(static_cast<std::uint8_t>(payload.size()));
    }
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
}

void put(event_arena& a, const bytes& b) {
    auto room = a.prepare(b.size());
    std::memcpy(room.data(), b.data(), b.size());
    a.commit(b.size());
}

struct client_frame {
    std::uint8_t opcode;
    bytes payload;
};

// Decodes masked client frames (as a server would), checking each is masked and whole.
std::vector<client_frame> unmask_all(boost::asio::const_buffer buf) {
    std::vector<client_frame> out;
    const auto* p = static_cast<const std::uint8_t*>(buf.data());
    std::size_t n = buf.size(), i = 0;
    while (i < n) {
        REQUIRE(n - i >= 6);
        CHECK((p[i] & 0x80) != 0);     // FIN
        CHECK((p[i + 1] & 0x80) != 0); // masked
        const std::uint8_t op = p[i] & 0x0F;
        std::size_t len = p[i + 1] & 0x7F, h = 2;
        if (len == 126) {
            len = std::size_t(p[i + 2]) << 8 | p[i + 3];
            h = 4;
        }
        const std::uint8_t* key = p + i + h;
        h += 4;
        REQUIRE(n - i >= h + len);
        client_frame f{op, bytes(p + i + h, p + i + h + len)};
        for (std::size_t k = 0; k < len; ++k)
            f.payload[k] ^= key[k % 4];
        out.push_back(std::move(f));
        i += h + len;
    }
    return out;
}

struct tag {
    int value = 0;
};

} // namespace

TEST_CASE("ws_inbox: one pass over messages, pings, fragments and devices not subscribed",
          "[session][frames]") {
    event_arena arena;
    event_batch pending;
    subscription_tracker subs;
    subs.subscribe(std::vector<device_number>{dev_a});
    const receive_filter filter{&subs, 37};
    ws_inbox in(1 << 20);
    put(arena, server_frame(2, encode_frame(device_data_frame{dev_a, as_bytes("one")})));
    put(arena, server_frame(9, as_bytes("are you there")));
    bytes whole = encode_frame(device_data_frame{dev_a, as_bytes("fragmented")});
    put(arena, server_frame(2, bytes_view(whole).first(10), false));
    put(arena, server_frame(9, as_bytes("again"))); // between fragments
    put(arena, server_frame(0, bytes_view(whole).subspan(10)));
    put(arena, server_frame(2, encode_frame(device_data_frame{dev_b, as_bytes("other")})));
    put(arena, server_frame(1, as_bytes("text")));
    std::vector<device_number> dropped;
    auto r = in.parse(arena, pending, filter, 100, 1 << 20,
                      [&](const device_number& d) { dropped.push_back(d); });
    CHECK(r.device_frames == 2);
    CHECK(r.errors == 1);
    CHECK(r.ping);
    CHECK(as_chars(in.pong()) == "again"); // the last ping's payload
    CHECK_FALSE(r.close);
    CHECK_FALSE(r.failure);
    CHECK_FALSE(r.at_limits);
    CHECK(dropped == std::vector<device_number>{dev_b});
    REQUIRE(pending.size() == 3);
    CHECK(as_chars(std::get<device_message>(pending[0]).payload) == "one");
    CHECK(as_chars(std::get<device_message>(pending[1]).payload) == "fragmented");
    CHECK(std::holds_alternative<protocol_error>(pending[2]));
    CHECK(arena.region_size() == 0);

    // A close stops the pass; what follows it is not parsed.
    put(arena, server_frame(8, bytes{0x0F, 0xA0, 'b', 'y', 'e'}));
    put(arena, server_frame(2, encode_frame(device_data_frame{dev_a, as_bytes("late")})));
    r = in.parse(arena, pending, filter, 100, 1 << 20, [](const device_number&) {});
    REQUIRE(r.close);
    CHECK(*r.close == 4000);
    CHECK(pending.size() == 3);
}

TEST_CASE("ws_inbox: a pass stops at the pending limits and goes on later", "[session][frames]") {
    event_arena arena;
    event_batch pending;
    ws_inbox in(1 << 20);
    for (int i = 0; i < 5; ++i)
        put(arena,
            server_frame(2, encode_frame(device_data_frame{dev_a, as_bytes(std::to_string(i))})));
    auto r = in.parse(arena, pending, {}, 2, 1 << 20, [](const device_number&) {});
    CHECK(r.at_limits);
    CHECK(pending.size() == 2);
    CHECK(arena.region_size() != 0); // the rest waits
    pending.clear();
    r = in.parse(arena, pending, {}, 10, 1 << 20, [](const device_number&) {});
    CHECK_FALSE(r.at_limits);
    REQUIRE(pending.size() == 3);
    CHECK(as_chars(std::get<device_message>(pending[2]).payload) == "4");
    // The byte limit likewise.
    pending.clear();
    for (int i = 0; i < 3; ++i)
        put(arena, server_frame(2, encode_frame(device_data_frame{dev_a, bytes(100, 1)})));
    r = in.parse(arena, pending, {}, 100, 150, [](const device_number&) {});
    CHECK(r.at_limits);
    CHECK(pending.size() == 2); // the second crossed the limit
}

TEST_CASE("ws_inbox: a protocol violation ends the pass with its close code", "[session][frames]") {
    event_arena arena;
    event_batch pending;
    ws_inbox in(1 << 20);
    put(arena, bytes{0xC2, 0x00}); // RSV1 set
    auto r = in.parse(arena, pending, {}, 100, 1 << 20, [](const device_number&) {});
    REQUIRE(r.failure);
    CHECK(r.failure->close_code == 1002);
    CHECK(r.failure->ec == client_errc::websocket_protocol_error);
}

TEST_CASE("ws_outbox: pong and ping first, queued frames in one batch, close last",
          "[session][frames]") {
    send_queue<tag> q(100, 1 << 20);
    q.push_data(send_frame{dev_a, as_bytes("first")}, tag{1});
    q.push_data(send_frame{dev_a, as_bytes("second")}, tag{2});
    const auto last = q.push_data(send_frame{dev_a, as_bytes("third")}, tag{3});
    ws_outbox out;
    out.owe_pong(as_bytes("hello"));
    out.owe_ping();
    out.owe_close(1000); // owed, but not while data may go
    REQUIRE(out.build(q, true, 64 * 1024));
    CHECK(out.frames() == 3);
    CHECK(out.last_id() == last);
    CHECK_FALSE(out.has_close());
    CHECK(q.in_flight() == 3);
    auto frames = unmask_all(out.pending());
    REQUIRE(frames.size() == 5);
    CHECK(frames[0].opcode == 0xA);
    CHECK(as_chars(frames[0].payload) == "hello");
    CHECK(frames[1].opcode == 0x9);
    CHECK(frames[2].opcode == 0x2);
    CHECK(frames[2].payload == encode_frame(send_frame{dev_a, as_bytes("first")}));
    CHECK(frames[4].payload == encode_frame(send_frame{dev_a, as_bytes("third")}));

    // The socket takes it in two pieces.
    const std::size_t total = out.pending().size();
    out.consumed(7);
    CHECK(out.busy());
    CHECK(out.pending().size() == total - 7);
    out.consumed(total - 7);
    CHECK_FALSE(out.busy());
    for (int i = 0; i < 3; ++i)
        q.pop_front();

    // Data no longer allowed: the close frame goes, alone.
    q.push_data(send_frame{dev_a, as_bytes("too late")}, tag{4});
    REQUIRE(out.build(q, false, 64 * 1024));
    CHECK(out.has_close());
    CHECK(out.frames() == 0);
    frames = unmask_all(out.pending());
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].opcode == 0x8);
    CHECK(frames[0].payload == bytes{0x03, 0xE8});
    out.consumed(out.pending().size());
    CHECK_FALSE(out.build(q, false, 64 * 1024)); // nothing more
}

TEST_CASE("ws_outbox: a replay queued in front of older sends is seen as written",
          "[session][frames]") {
    send_queue<tag> q(100, 1 << 20);
    q.push_data(send_frame{dev_a, as_bytes("queued while down")}, tag{1});
    const auto replayed = q.push_replay(std::vector<device_number>{dev_a, dev_b});
    ws_outbox out;
    REQUIRE(out.build(q, true, 64 * 1024));
    CHECK(out.frames() == 3);
    CHECK(out.last_id() == replayed); // not the data frame's older id, written last
    auto frames = unmask_all(out.pending());
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].payload == encode_frame(subscribe_frame{dev_a}));
    CHECK(frames[2].payload == encode_frame(send_frame{dev_a, as_bytes("queued while down")}));
}

TEST_CASE("ws_outbox: a batch holds as many queued frames as fit, the rest goes next",
          "[session][frames]") {
    send_queue<tag> q(100, 1 << 20);
    for (int i = 0; i < 10; ++i)
        q.push_data(send_frame{dev_a, bytes(1000, static_cast<std::uint8_t>(i))}, tag{i});
    ws_outbox out;
    REQUIRE(out.build(q, true, 3000));
    CHECK(out.frames() == 3); // crossed 3000 bytes with the third
    out.consumed(out.pending().size());
    for (std::size_t i = 0; i < out.frames(); ++i)
        q.pop_front();
    REQUIRE(out.build(q, true, 3000));
    auto frames = unmask_all(out.pending());
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].payload[21] == 3);
    // Masking keys differ from frame to frame.
    const auto* p = static_cast<const std::uint8_t*>(out.pending().data());
    std::uint32_t k1, k2;
    std::memcpy(&k1, p + 4, 4);
    std::memcpy(&k2, p + (8 + 1021) + 4, 4); // the next frame's key
    CHECK(k1 != k2);
}
