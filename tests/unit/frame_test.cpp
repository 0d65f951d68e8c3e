#include <atomcloud/frame.hpp>
#include <atomcloud/payload.hpp>

#include <catch2/catch.hpp>

using namespace atomcloud;

namespace {

bytes hex(std::string_view text) {
    return parse_hex_packet(text);
}

const device_number dev{"18846494908532689575"};
const nbiot_id nb{"b6d85634-9d34-4052-80cd-b840b75cb910"};
constexpr std::string_view dev_hex = "31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35";

frame decode_ok(const bytes& data, frame_origin from) {
    error_code ec;
    auto f = decode_frame(data, from, ec);
    INFO(ec.message());
    REQUIRE_FALSE(ec);
    REQUIRE(f);
    return *f;
}

error_code decode_error(const bytes& data, frame_origin from) {
    error_code ec;
    auto f = decode_frame(data, from, ec);
    CHECK_FALSE(f);
    return ec;
}

} // namespace

TEST_CASE("spec vector: subscribe 18846494908532689575", "[frame]") {
    const bytes expected = hex("01 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35");
    CHECK(encode_frame(subscribe_frame{dev}) == expected);

    frame f = decode_ok(expected, frame_origin::app);
    REQUIRE(std::holds_alternative<subscribe_frame>(f));
    CHECK(std::get<subscribe_frame>(f).device == dev);
    CHECK(type_of(f) == frame_type::subscribe);
}

TEST_CASE("spec vector: device message ALIENTEK-HRTDT", "[frame]") {
    const bytes wire = hex("06 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35 "
                           "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54");
    frame f = decode_ok(wire, frame_origin::cloud);
    REQUIRE(std::holds_alternative<device_data_frame>(f));
    const auto& msg = std::get<device_data_frame>(f);
    CHECK(msg.device == dev);
    CHECK(as_chars(msg.payload) == "ALIENTEK-HRTDT");
    CHECK(is_heartbeat(msg.payload));
    // zero-copy: the payload views the input buffer
    CHECK(msg.payload.data() == wire.data() + 21);
    CHECK(encode_frame(f) == wire);
}

TEST_CASE("spec vector: NB-IoT send of 01 02", "[frame]") {
    const bytes expected =
        hex("07 62 36 64 38 35 36 33 34 2D 39 64 33 34 2D 34 30 35 32 2D 38 30 63 64 2D "
            "62 38 34 30 62 37 35 63 62 39 31 30 00 01 02");
    const std::uint8_t payload[] = {0x01, 0x02};
    CHECK(encode_frame(nbiot_send_frame{nb, payload}) == expected);
    CHECK(expected.size() == 1 + 37 + 2);

    frame f = decode_ok(expected, frame_origin::app);
    REQUIRE(std::holds_alternative<nbiot_send_frame>(f));
    CHECK(std::get<nbiot_send_frame>(f).device == nb);
    CHECK(to_hex_packet(std::get<nbiot_send_frame>(f).payload) == "01 02");
}

TEST_CASE("every frame type round-trips", "[frame]") {
    // From an explicit length: a C string would stop at the leading NUL.
    const std::string_view raw("\x00\xff payload \xd5\xfd", 14);
    const bytes payload(raw.begin(), raw.end());
    REQUIRE(payload.size() == 14);
    REQUIRE(payload.front() == 0x00);
    const std::vector<frame> frames = {
        subscribe_frame{dev},           unsubscribe_frame{dev},
        send_frame{dev, payload},       device_connected_frame{dev},
        device_disconnected_frame{dev}, device_data_frame{dev, payload},
        nbiot_send_frame{nb, payload},  nbiot_data_frame{nb, payload},
    };
    for (const frame& f : frames) {
        const frame_type t = type_of(f);
        INFO(to_string(t));
        const bytes wire = encode_frame(f);
        CHECK(wire.size() == encoded_size(f));
        CHECK(wire.front() == static_cast<std::uint8_t>(t));
        CHECK(wire.size() == 1 + id_width(t) + (has_payload(t) ? payload.size() : 0));
        if (has_payload(t))
            CHECK(equal_bytes(bytes_view(wire).subspan(1 + id_width(t)), payload));

        frame back = decode_ok(wire, origin_of(t));
        CHECK(back.index() == f.index());
        CHECK(encode_frame(back) == wire);
        std::visit(
            [&](const auto& v) {
                using V = std::decay_t<decltype(v)>;
                const auto& orig = std::get<V>(f);
                CHECK(v.device == orig.device);
                if constexpr (std::is_same_v<V, send_frame> ||
                              std::is_same_v<V, device_data_frame> ||
                              std::is_same_v<V, nbiot_send_frame> ||
                              std::is_same_v<V, nbiot_data_frame>)
                    CHECK(equal_bytes(v.payload, orig.payload));
            },
            back);
    }
}

TEST_CASE("payload-carrying frames accept an empty payload", "[frame]") {
    for (const frame& f : {frame(send_frame{dev, {}}), frame(device_data_frame{dev, {}}),
                           frame(nbiot_send_frame{nb, {}}), frame(nbiot_data_frame{nb, {}})}) {
        const bytes wire = encode_frame(f);
        frame back = decode_ok(wire, origin_of(type_of(f)));
        CHECK(back.index() == f.index());
    }
}

TEST_CASE("frame type properties", "[frame]") {
    CHECK(origin_of(frame_type::subscribe) == frame_origin::app);
    CHECK(origin_of(frame_type::unsubscribe) == frame_origin::app);
    CHECK(origin_of(frame_type::send) == frame_origin::app);
    CHECK(origin_of(frame_type::nbiot_send) == frame_origin::app);
    CHECK(origin_of(frame_type::device_connected) == frame_origin::cloud);
    CHECK(origin_of(frame_type::device_disconnected) == frame_origin::cloud);
    CHECK(origin_of(frame_type::device_data) == frame_origin::cloud);
    CHECK(origin_of(frame_type::nbiot_data) == frame_origin::cloud);
    CHECK(id_width(frame_type::nbiot_send) == 37);
    CHECK(id_width(frame_type::nbiot_data) == 37);
    CHECK(id_width(frame_type::device_data) == 20);
    CHECK_FALSE(has_payload(frame_type::subscribe));
    CHECK(has_payload(frame_type::device_data));
    CHECK_FALSE(is_known_frame_type(0x00));
    CHECK_FALSE(is_known_frame_type(0x09));
    CHECK(std::string(to_string(frame_type::nbiot_data)) == "nbiot_data");
}

TEST_CASE("decode rejects an empty frame", "[frame][reject]") {
    CHECK(decode_error({}, frame_origin::cloud) == client_errc::empty_frame);
    CHECK(decode_error({}, frame_origin::app) == client_errc::empty_frame);
}

TEST_CASE("decode rejects unknown type bytes", "[frame][reject]") {
    for (int t : {0x00, 0x09, 0x10, 0x7f, 0xff}) {
        bytes wire = hex(dev_hex);
        wire.insert(wire.begin(), static_cast<std::uint8_t>(t));
        CHECK(decode_error(wire, frame_origin::cloud) == client_errc::unknown_frame_type);
        CHECK(decode_error(wire, frame_origin::app) == client_errc::unknown_frame_type);
    }
}

TEST_CASE("decode rejects frames from the wrong side", "[frame][reject]") {
    // app -> cloud types arriving from the cloud
    for (const frame& f : {frame(subscribe_frame{dev}), frame(unsubscribe_frame{dev}),
                           frame(send_frame{dev, {}}), frame(nbiot_send_frame{nb, {}})})
        CHECK(decode_error(encode_frame(f), frame_origin::cloud) == client_errc::wrong_direction);
    // cloud -> app types arriving from an app
    for (const frame& f :
         {frame(device_connected_frame{dev}), frame(device_disconnected_frame{dev}),
          frame(device_data_frame{dev, {}}), frame(nbiot_data_frame{nb, {}})})
        CHECK(decode_error(encode_frame(f), frame_origin::app) == client_errc::wrong_direction);
}

TEST_CASE("decode rejects truncated device ids", "[frame][reject]") {
    bytes wire = encode_frame(device_data_frame{dev, {}});
    for (std::size_t n = 1; n < 21; ++n) {
        bytes cut(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
        CHECK(decode_error(cut, frame_origin::cloud) == client_errc::truncated_device_id);
    }
    bytes nbwire = encode_frame(nbiot_data_frame{nb, {}});
    REQUIRE(nbwire.size() == 38);
    nbwire.pop_back(); // 36 id bytes: the UUID without its padding byte
    CHECK(decode_error(nbwire, frame_origin::cloud) == client_errc::truncated_device_id);
}

TEST_CASE("decode rejects a payload on types that carry none", "[frame][reject]") {
    for (const frame& f :
         {frame(device_connected_frame{dev}), frame(device_disconnected_frame{dev})}) {
        bytes wire = encode_frame(f);
        wire.push_back(0x41);
        CHECK(decode_error(wire, frame_origin::cloud) == client_errc::unexpected_payload);
    }
    for (const frame& f : {frame(subscribe_frame{dev}), frame(unsubscribe_frame{dev})}) {
        bytes wire = encode_frame(f);
        wire.push_back(0x00);
        CHECK(decode_error(wire, frame_origin::app) == client_errc::unexpected_payload);
    }
}

TEST_CASE("decode rejects invalid ids", "[frame][reject]") {
    bytes wire = encode_frame(device_data_frame{dev, {}});
    wire[5] = 0x00;
    CHECK(decode_error(wire, frame_origin::cloud) == client_errc::invalid_device_number);

    bytes nbwire(38, 0x00);
    nbwire[0] = 0x08;
    CHECK(decode_error(nbwire, frame_origin::cloud) == client_errc::invalid_nbiot_id);
    nbwire[1] = 'a';
    nbwire[3] = 'b'; // "a\0b" then padding: NUL inside the id
    CHECK(decode_error(nbwire, frame_origin::cloud) == client_errc::invalid_nbiot_id);
}

TEST_CASE("NB-IoT ids of any length up to 37 round-trip", "[frame]") {
    for (std::size_t len : {1u, 10u, 36u, 37u}) {
        nbiot_id id(std::string(len, 'n'));
        const std::uint8_t p[] = {0x00, 0x00};
        bytes wire = encode_frame(nbiot_data_frame{id, p});
        CHECK(wire.size() == 1 + 37 + 2);
        frame back = decode_ok(wire, frame_origin::cloud);
        CHECK(std::get<nbiot_data_frame>(back).device.size() == len);
        // payload NULs are payload, not id padding
        CHECK(std::get<nbiot_data_frame>(back).payload.size() == 2);
    }
}

TEST_CASE("encode into a caller buffer", "[frame]") {
    const bytes payload = to_bytes("hello");
    frame f = send_frame{dev, payload};
    std::uint8_t buf[64];
    error_code ec;
    std::size_t n = encode_frame(f, buf, ec);
    REQUIRE_FALSE(ec);
    CHECK(n == 26);
    CHECK(bytes(buf, buf + n) == encode_frame(f));

    std::uint8_t small[25];
    CHECK(encode_frame(f, small, ec) == 0);
    CHECK(ec == client_errc::buffer_too_small);
}

TEST_CASE("encode into a reusable buffer replaces its contents", "[frame]") {
    bytes out = to_bytes("previous contents that are longer than a frame........");
    const auto* before = out.data();
    encode_frame(subscribe_frame{dev}, out);
    CHECK(out == hex("01 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35"));
    CHECK(out.data() == before); // no reallocation
}

TEST_CASE("decode: each of the eight types is its own case, the rest are no frames",
          "[frame][reject]") {
    const bytes body{0x41, 0x42};
    const frame all[] = {subscribe_frame{dev},           unsubscribe_frame{dev},
                         send_frame{dev, body},          device_connected_frame{dev},
                         device_disconnected_frame{dev}, device_data_frame{dev, body},
                         nbiot_send_frame{nb, body},     nbiot_data_frame{nb, body}};
    for (const frame& f : all) {
        const frame_type t = type_of(f);
        INFO(to_string(t));
        const bytes wire = encode_frame(f);
        REQUIRE(wire.front() == static_cast<std::uint8_t>(t));
        const frame back = decode_ok(wire, origin_of(t));
        CHECK(type_of(back) == t);
        CHECK(encode_frame(back) == wire);
        const frame_origin other =
            origin_of(t) == frame_origin::app ? frame_origin::cloud : frame_origin::app;
        CHECK(decode_error(wire, other) == client_errc::wrong_direction);
        // The same bytes under each type byte that is no type: refused, never decoded as
        // some other type.
        for (int b = 0; b < 256; ++b) {
            if (is_known_frame_type(static_cast<std::uint8_t>(b)))
                continue;
            bytes unknown = wire;
            unknown.front() = static_cast<std::uint8_t>(b);
            CHECK(decode_error(unknown, frame_origin::app) == client_errc::unknown_frame_type);
            CHECK(decode_error(unknown, frame_origin::cloud) == client_errc::unknown_frame_type);
        }
    }
    CHECK(origin_of(frame_type::device_connected) == frame_origin::cloud);
    CHECK(origin_of(frame_type::device_disconnected) == frame_origin::cloud);
    CHECK(origin_of(frame_type::send) == frame_origin::app);
    CHECK(origin_of(frame_type::nbiot_send) == frame_origin::app);
}
