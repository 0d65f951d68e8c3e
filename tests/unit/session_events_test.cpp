// Receiving without sockets: bytes go into the arena's region the way reads fill it
// (prepare / commit in pieces), and messages come out as decoded events in a batch whose
// payloads view the arena's blocks; device frames of devices not subscribed are dropped.
#include <atomcloud/detail/event_arena.hpp>
#include <atomcloud/events.hpp>
#include <atomcloud/frame.hpp>
#include <atomcloud/payload.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <stdexcept>
#include <string>
#include <variant>

using namespace atomcloud;

namespace {

const device_number dev{"18846494908532689575"};
const nbiot_id nb{"b6d85634-9d34-4052-80cd-b840b75cb910"};

// One received message: its bytes are read into the region (in reads of at most
// `chunk` bytes, as a socket delivers them), then decoded into the batch and released.
detail::message_outcome receive(detail::event_arena& a, event_batch& b, bytes_view msg,
                                bool text = false, const detail::receive_filter& filter = {},
                                std::size_t chunk = 1536) {
    std::size_t done = 0;
    while (done < msg.size()) {
        auto room = a.prepare(msg.size());
        const std::size_t n = std::min({chunk, room.size(), msg.size() - done});
        std::memcpy(static_cast<std::uint8_t*>(room.data()), msg.data() + done, n);
        a.commit(n);
        done += n;
    }
    REQUIRE(a.region_size() == msg.size());
    REQUIRE((msg.empty() || std::memcmp(a.region(), msg.data(), msg.size()) == 0));
    auto outcome = a.append(b, bytes_view(a.region(), msg.size()), text, filter);
    a.release(msg.size());
    return outcome;
}

bytes hex(std::string_view h) {
    return parse_hex_packet(h);
}

} // namespace

TEST_CASE("events: the spec's device message vector", "[session][events]") {
    detail::event_arena a;
    event_batch b;
    a.reset_batch(b);
    receive(a, b,
            hex("06 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35 "
                "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54"));
    REQUIRE(b.size() == 1);
    auto* m = std::get_if<device_message>(&b[0]);
    REQUIRE(m);
    CHECK(m->device == dev);
    CHECK(as_chars(m->payload) == "ALIENTEK-HRTDT");
    CHECK(is_heartbeat(m->payload));
    CHECK(b.message_bytes() == 35);
    // Zero-copy: the payload views the arena's block.
    REQUIRE(a.current_block());
    CHECK(m->payload.data() >= a.current_block()->data.get());
    CHECK(m->payload.data() < a.current_block()->data.get() + a.current_block()->capacity);
    CHECK(to_string(b[0]) == "device_message 18846494908532689575 (14 bytes)");
}

TEST_CASE("events: every cloud frame type", "[session][events]") {
    detail::event_arena a;
    event_batch b;
    receive(a, b, encode_frame(device_connected_frame{dev}));
    receive(a, b, encode_frame(device_data_frame{dev, as_bytes("hello")}));
    receive(a, b, encode_frame(device_data_frame{dev, {}})); // empty payload is valid
    receive(a, b, encode_frame(nbiot_data_frame{nb, bytes{0x01, 0x02, 0x00}}));
    receive(a, b, encode_frame(device_disconnected_frame{dev}));
    REQUIRE(b.size() == 5);
    CHECK(std::get<device_connected>(b[0]).device == dev);
    CHECK(as_chars(std::get<device_message>(b[1]).payload) == "hello");
    CHECK(std::get<device_message>(b[2]).payload.empty());
    const auto& n = std::get<nbiot_message>(b[3]);
    CHECK(n.device == nb); // trailing NUL padding stripped
    CHECK(equal_bytes(n.payload, bytes{0x01, 0x02, 0x00}));
    CHECK(std::get<device_disconnected>(b[4]).device == dev);
    // 0x04/0x05 need no bytes kept; the three message frames do.
    CHECK(b.message_bytes() == (21 + 5) + 21 + (38 + 3));
    CHECK(detail::event_batch_access::blocks(b) == 1);
}

TEST_CASE("events: malformed and text messages become protocol_error events", "[session][events]") {
    detail::event_arena a;
    event_batch b;
    struct bad_case {
        bytes msg;
        client_errc expected;
    };
    const std::vector<bad_case> cases = {
        {bytes{}, client_errc::empty_frame},
        {hex("09 31 32"), client_errc::unknown_frame_type},
        {hex("00"), client_errc::unknown_frame_type},
        {encode_frame(subscribe_frame{dev}), client_errc::wrong_direction},
        {encode_frame(send_frame{dev, as_bytes("x")}), client_errc::wrong_direction},
        {hex("06 31 38 38"), client_errc::truncated_device_id},
        {hex("08 62 36"), client_errc::truncated_device_id},
        {[] {
             bytes f = encode_frame(device_connected_frame{dev});
             f.push_back(0x41);
             return f;
         }(),
         client_errc::unexpected_payload},
        {[] {
             bytes f = encode_frame(device_data_frame{dev, as_bytes("x")});
             f[5] = 0x00; // not printable
             return f;
         }(),
         client_errc::invalid_device_number},
        {[] {
             bytes f(1 + 37, 0x00); // all-NUL id
             f[0] = 0x08;
             return f;
         }(),
         client_errc::invalid_nbiot_id},
    };
    for (const auto& c : cases)
        receive(a, b, c.msg);
    receive(a, b, as_bytes("{\"hello\":1}"), true);
    REQUIRE(b.size() == cases.size() + 1);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        INFO("case " << i);
        auto* pe = std::get_if<protocol_error>(&b[i]);
        REQUIRE(pe);
        CHECK(pe->ec == cases[i].expected);
        CHECK(equal_bytes(pe->message, cases[i].msg)); // the offending bytes, for diagnosis
    }
    auto& text = std::get<protocol_error>(b.back());
    CHECK(text.ec == client_errc::unexpected_text_frame);
    CHECK(as_chars(text.message) == "{\"hello\":1}");
    // A good frame after all that still decodes.
    receive(a, b, encode_frame(device_data_frame{dev, as_bytes("ok")}));
    CHECK(as_chars(std::get<device_message>(b.back()).payload) == "ok");
}

TEST_CASE("events: views stay valid across blocks, large messages, and moves",
          "[session][events]") {
    detail::event_arena a(4096); // small blocks to force many
    event_batch b;
    std::vector<bytes> sent;
    for (int i = 0; i < 300; ++i) {
        bytes payload(static_cast<std::size_t>(i * 7 % 900), static_cast<std::uint8_t>(i));
        if (i == 150)
            payload.assign(20000, 0x5A); // larger than a block: a block of its own
        sent.push_back(payload);
        receive(a, b, encode_frame(device_data_frame{dev, payload}));
    }
    CHECK(detail::event_batch_access::blocks(b) > 10);
    event_batch moved = std::move(b);
    event_batch copy = moved; // shares the storage
    moved.clear();
    REQUIRE(copy.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
        INFO("message " << i);
        CHECK(equal_bytes(std::get<device_message>(copy[i]).payload, sent[i]));
    }
}

TEST_CASE("events: a batch handed over while a message is half read keeps its bytes, the "
          "message completes in the next batch",
          "[session][events]") {
    detail::event_arena a(8192);
    event_batch pending;
    a.reset_batch(pending);
    receive(a, pending, encode_frame(device_data_frame{dev, as_bytes("first")}));

    // A read brought part of the next message.
    const bytes next = encode_frame(device_data_frame{dev, bytes(3000, 0x33)});
    auto buf = a.prepare(next.size());
    std::memcpy(buf.data(), next.data(), 1536);
    a.commit(1536);

    // The application takes the batch now, then drops it.
    auto handed = std::make_unique<event_batch>(std::move(pending));
    a.reset_batch(pending);
    CHECK(as_chars(std::get<device_message>((*handed)[0]).payload) == "first");
    handed.reset(); // the block is still the arena's: the read goes on safely

    buf = a.prepare(next.size());
    std::memcpy(buf.data(), next.data() + 1536, next.size() - 1536);
    a.commit(next.size() - 1536);
    REQUIRE(a.region_size() == next.size());
    a.append(pending, bytes_view(a.region(), next.size()), false, {});
    a.release(next.size());
    REQUIRE(pending.size() == 1);
    CHECK(equal_bytes(std::get<device_message>(pending[0]).payload, bytes(3000, 0x33)));
}

TEST_CASE("events: the region moves to a new block when a batch shares the old one, and to "
          "the front of its block when none does",
          "[session][events]") {
    detail::event_arena a(8192);
    event_batch b;
    a.reset_batch(b);
    receive(a, b, encode_frame(device_data_frame{dev, bytes(6000, 1)}));
    const auto* first = a.current_block();
    const std::uint8_t* payload = std::get<device_message>(b[0]).payload.data();
    // 3 bytes of a next message, then a read that needs more room than is left.
    auto room = a.prepare(3);
    std::memcpy(room.data(), "abc", 3);
    a.commit(3);
    room = a.prepare(5000);
    CHECK(a.current_block() != first); // the batch still views the old block
    CHECK(std::memcmp(a.region(), "abc", 3) == 0);
    CHECK(room.size() >= 4997);
    CHECK(std::get<device_message>(b[0]).payload.data() == payload); // never moved
    CHECK(payload[5999] == 1);
    // Nothing shares the block now: the region goes back to its front.
    b.clear();
    a.commit(4000);
    a.release(4003);
    room = a.prepare(6000);
    CHECK(a.region_size() == 0);
    CHECK(room.size() >= 6000);
}

TEST_CASE("events: device frames of devices not subscribed are dropped", "[session][events]") {
    detail::event_arena a;
    event_batch b;
    detail::subscription_tracker subs;
    const device_number other{"00000000000000000002"};
    subs.subscribe(std::vector<device_number>{dev});
    detail::receive_filter filter{&subs, 37};
    using detail::message_outcome;
    CHECK(receive(a, b, encode_frame(device_data_frame{dev, as_bytes("x")}), false, filter) ==
          message_outcome::device);
    for (const frame& f :
         {frame(device_data_frame{other, as_bytes("y")}), frame(device_connected_frame{other}),
          frame(device_disconnected_frame{other})}) {
        std::optional<device_number> who;
        const bytes wire = encode_frame(f);
        auto room = a.prepare(wire.size());
        std::memcpy(room.data(), wire.data(), wire.size());
        a.commit(wire.size());
        CHECK(a.append(b, bytes_view(a.region(), wire.size()), false, filter, &who) ==
              message_outcome::unsubscribed);
        a.release(wire.size());
        REQUIRE(who);
        CHECK(*who == other);
    }
    // NB-IoT messages cannot be subscribed to: always delivered.
    CHECK(receive(a, b, encode_frame(nbiot_data_frame{nb, as_bytes("z")}), false, filter) ==
          message_outcome::device);
    CHECK(receive(a, b, as_bytes("\x09junk"), false, filter) == message_outcome::error);
    REQUIRE(b.size() == 3);
    CHECK(std::holds_alternative<device_message>(b[0]));
    CHECK(std::holds_alternative<nbiot_message>(b[1]));
    CHECK(std::holds_alternative<protocol_error>(b[2]));
}

TEST_CASE("events: NB-IoT ids of a configured width", "[session][events]") {
    detail::event_arena a;
    event_batch b;
    const nbiot_id id{"b6d85634-9d34-4052-80cd-b840b75cb910"};
    // A 36-byte id field: the id fills it exactly.
    bytes wire = encode_frame(nbiot_data_frame{id, as_bytes("p")}, 36);
    CHECK(wire.size() == 1 + 36 + 1);
    receive(a, b, wire, false, detail::receive_filter{nullptr, 36});
    REQUIRE(std::holds_alternative<nbiot_message>(b.back()));
    CHECK(std::get<nbiot_message>(b.back()).device == id);
    CHECK(as_chars(std::get<nbiot_message>(b.back()).payload) == "p");
    // The same bytes read with the default width of 37 take the payload for the id.
    receive(a, b, wire);
    REQUIRE(std::holds_alternative<nbiot_message>(b.back()));
    CHECK(std::get<nbiot_message>(b.back()).payload.empty());
    // An id longer than the configured width cannot be encoded.
    error_code ec;
    std::array<std::uint8_t, 64> out{};
    CHECK(encode_frame(nbiot_send_frame{id, {}}, boost::span<std::uint8_t>(out), ec, 30) == 0);
    CHECK(ec == client_errc::invalid_nbiot_id);
}

TEST_CASE("events: trim gives an idle arena's memory back", "[session][events]") {
    detail::event_arena a(8192);
    event_batch b;
    receive(a, b, encode_frame(device_data_frame{dev, as_bytes("x")}));
    CHECK(a.current_block() != nullptr);
    b.clear();
    a.trim();
    CHECK(a.current_block() == nullptr);
    CHECK(a.free_blocks() == 0);
    // ... and works again afterwards.
    receive(a, b, encode_frame(device_data_frame{dev, as_bytes("y")}));
    CHECK(as_chars(std::get<device_message>(b.back()).payload) == "y");
    // A region that is not empty keeps its block.
    auto room = a.prepare(10);
    std::memcpy(room.data(), "partial", 7);
    a.commit(7);
    a.trim();
    CHECK(a.current_block() != nullptr);
    CHECK(std::memcmp(a.region(), "partial", 7) == 0);
}

TEST_CASE("events: recycled batches give their blocks and event list back", "[session][events]") {
    detail::event_arena a(4096);
    event_batch pending;
    a.reset_batch(pending);
    const bytes msg = encode_frame(device_data_frame{dev, bytes(500, 1)});

    // Fill a few blocks, hand the batch over, recycle it.
    for (int i = 0; i < 40; ++i)
        receive(a, pending, msg);
    event_batch got = std::move(pending);
    a.reset_batch(pending);
    const event* recycled_events = &got[0];
    REQUIRE(detail::event_batch_access::blocks(got) >= 4);
    a.recycle(std::move(got));
    CHECK(got.empty());
    const std::size_t free_before = a.free_blocks();
    CHECK(free_before >= 3); // all but the block the arena still writes to
    CHECK(free_before <= detail::event_arena::max_free_blocks);

    // New messages fill the recycled blocks instead of new ones.
    for (int i = 0; i < 20; ++i)
        receive(a, pending, msg);
    CHECK(a.free_blocks() < free_before);

    // The next pending batch gets the recycled event list.
    event_batch second = std::move(pending);
    a.reset_batch(pending);
    receive(a, pending, msg);
    CHECK(&pending[0] == recycled_events);
}

TEST_CASE("events: payload-less events do not consume the block", "[session][events]") {
    detail::event_arena a(4096);
    event_batch b;
    for (int i = 0; i < 10000; ++i) {
        receive(a, b,
                encode_frame(i % 2 ? frame(device_connected_frame{dev})
                                   : frame(device_disconnected_frame{dev})));
    }
    CHECK(b.size() == 10000);
    CHECK(b.message_bytes() == 0);
    CHECK(detail::event_batch_access::blocks(b) == 0);
}

TEST_CASE("events: to_string of each event", "[session][events]") {
    CHECK(to_string(event(device_connected{dev})) == "device_connected 18846494908532689575");
    CHECK(to_string(event(device_disconnected{dev})) == "device_disconnected 18846494908532689575");
    CHECK(to_string(event(nbiot_message{nb, as_bytes("ab")})) ==
          "nbiot_message b6d85634-9d34-4052-80cd-b840b75cb910 (2 bytes)");
    CHECK(to_string(event(session_connected{})) == "session_connected");
    CHECK(to_string(event(session_disconnected{make_error_code(client_errc::session_stopped)}))
              .rfind("session_disconnected: ", 0) == 0);
    CHECK(to_string(event(protocol_error{make_error_code(client_errc::unexpected_text_frame),
                                         as_bytes("x")}))
              .rfind("protocol_error: ", 0) == 0);
}
