// Receiving without sockets: messages go into the arena the way Beast's async_read fills a
// DynamicBuffer (prepare / commit in pieces), and come out as decoded events in a batch
// whose payloads view the arena's blocks.
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

// Feeds one message as Beast does: a first prepare of up to 1536 bytes, then the rest.
void feed(detail::event_arena& a, bytes_view msg, std::size_t first_chunk = 1536) {
    std::size_t done = 0;
    std::size_t chunk = std::min<std::size_t>(first_chunk, a.max_size() - a.size());
    do {
        auto buf = a.prepare(chunk);
        const std::size_t n = std::min(chunk, msg.size() - done);
        if (n)
            std::memcpy(buf.data(), msg.data() + done, n);
        a.commit(n);
        done += n;
        chunk = std::max<std::size_t>(msg.size() - done, 1);
    } while (done < msg.size());
}

void receive(detail::event_arena& a, event_batch& b, bytes_view msg, bool text = false) {
    feed(a, msg);
    REQUIRE(equal_bytes(a.message(), msg));
    a.finish_message(b, text);
}

bytes hex(std::string_view h) {
    return parse_hex_packet(h);
}

} // namespace

TEST_CASE("events: the spec's device message vector", "[session][events]") {
    detail::event_arena a(1 << 20);
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
    detail::event_arena a(1 << 20);
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
    CHECK(n.id == nb); // trailing NUL padding stripped
    CHECK(equal_bytes(n.payload, bytes{0x01, 0x02, 0x00}));
    CHECK(std::get<device_disconnected>(b[4]).device == dev);
    // 0x04/0x05 need no bytes kept; the three message frames do.
    CHECK(b.message_bytes() == (21 + 5) + 21 + (38 + 3));
    CHECK(detail::event_batch_access::blocks(b) == 1);
}

TEST_CASE("events: malformed and text messages become protocol_error events", "[session][events]") {
    detail::event_arena a(1 << 20);
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
    detail::event_arena a(1 << 20, 4096); // small blocks to force many
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

TEST_CASE("events: a batch handed over mid-message keeps its bytes; the message completes "
          "in the next batch",
          "[session][events]") {
    detail::event_arena a(1 << 20, 4096);
    event_batch pending;
    a.reset_batch(pending);
    receive(a, pending, encode_frame(device_data_frame{dev, as_bytes("first")}));

    // A read is under way: part of the next message is in the arena.
    const bytes next = encode_frame(device_data_frame{dev, bytes(3000, 0x33)});
    auto buf = a.prepare(1536);
    std::memcpy(buf.data(), next.data(), 1536);
    a.commit(1536);

    // The application takes the batch now, then drops it.
    auto handed = std::make_unique<event_batch>(std::move(pending));
    a.reset_batch(pending);
    CHECK(as_chars(std::get<device_message>((*handed)[0]).payload) == "first");
    handed.reset(); // the block is still the arena's: the read goes on safely

    buf = a.prepare(next.size() - 1536);
    std::memcpy(buf.data(), next.data() + 1536, next.size() - 1536);
    a.commit(next.size() - 1536);
    a.finish_message(pending, false);
    REQUIRE(pending.size() == 1);
    CHECK(equal_bytes(std::get<device_message>(pending[0]).payload, bytes(3000, 0x33)));
}

TEST_CASE("events: the size limit, and a failed read forgets its bytes", "[session][events]") {
    detail::event_arena a(100);
    event_batch b;
    CHECK(a.max_size() == 100);
    a.prepare(60);
    a.commit(60);
    CHECK_THROWS_AS(a.prepare(41), std::length_error); // Beast turns this into an error
    a.discard_message();
    CHECK(a.size() == 0);
    receive(a, b, encode_frame(device_data_frame{dev, as_bytes("fine")}));
    CHECK(b.size() == 1);
}

TEST_CASE("events: recycled batches give their blocks and event list back", "[session][events]") {
    detail::event_arena a(1 << 20, 4096);
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
    detail::event_arena a(1 << 20, 4096);
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
