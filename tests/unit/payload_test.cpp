#include <atomcloud/payload.hpp>

#include <catch2/catch.hpp>

using namespace atomcloud;

TEST_CASE("spec vector: the heartbeat hex packet", "[payload]") {
    const std::string_view text = "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54";
    bytes b = parse_hex_packet(text);
    CHECK(as_chars(b) == "ALIENTEK-HRTDT");
    CHECK(to_hex_packet(b) == text);
    CHECK(is_heartbeat(b));
}

TEST_CASE("spec vector: GBK text 正点原子数据测试", "[payload]") {
    bytes gbk = parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4");
    CHECK(gbk_to_utf8(gbk) == "正点原子数据测试");
    error_code ec;
    CHECK(gbk_to_utf8(gbk, ec) == "正点原子数据测试");
    CHECK_FALSE(ec);
    CHECK(utf8_to_gbk("正点原子数据测试") == gbk);
}

TEST_CASE("to_hex_packet formats upper-case pairs with single spaces", "[payload]") {
    CHECK(to_hex_packet({}) == "");
    const std::uint8_t one[] = {0x0a};
    CHECK(to_hex_packet(one) == "0A");
    const std::uint8_t all[] = {0x00, 0x7f, 0x80, 0xff, 0xab};
    CHECK(to_hex_packet(all) == "00 7F 80 FF AB");

    std::string out = "41";
    append_hex_packet(one, out);
    CHECK(out == "41 0A");
}

TEST_CASE("parse_hex_packet is tolerant of case and white space", "[payload]") {
    const bytes expected = {0x41, 0x4c, 0xab};
    CHECK(parse_hex_packet("41 4c AB") == expected);
    CHECK(parse_hex_packet("  41\t4C\r\nab \n") == expected);
    CHECK(parse_hex_packet("414CAB") == expected);
    CHECK(parse_hex_packet("414c\nab") == expected);
    CHECK(parse_hex_packet("").empty());
    CHECK(parse_hex_packet(" \n\t ").empty());
}

TEST_CASE("parse_hex_packet is strict about odd digits and non-hex", "[payload]") {
    struct bad_case {
        std::string_view text;
        client_errc expected;
    };
    for (auto [text, expected] :
         {bad_case{"4", client_errc::odd_hex_digits}, bad_case{"41 4", client_errc::odd_hex_digits},
          bad_case{"4 1", client_errc::odd_hex_digits},
          bad_case{"414", client_errc::odd_hex_digits}, bad_case{"41 G1", client_errc::invalid_hex},
          bad_case{"0x41", client_errc::invalid_hex}, bad_case{"41,4C", client_errc::invalid_hex},
          bad_case{"41-4C", client_errc::invalid_hex},
          bad_case{"\xe4\xb8\xad", client_errc::invalid_hex}}) {
        INFO(text);
        error_code ec;
        CHECK(parse_hex_packet(text, ec).empty());
        CHECK(ec == expected);
        CHECK_THROWS_AS(parse_hex_packet(text), atomcloud::error);
    }
}

TEST_CASE("hex round trip of every byte value", "[payload]") {
    bytes all(256);
    for (int i = 0; i < 256; ++i)
        all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    const std::string text = to_hex_packet(all);
    CHECK(text.size() == 256 * 3 - 1);
    CHECK(parse_hex_packet(text) == all);
}

TEST_CASE("gbk_to_utf8 replaces invalid bytes, the strict form reports them", "[payload]") {
    // 0xFF is never valid in GBK; 0xD5 alone at the end is a truncated sequence.
    const bytes bad = {'o', 'k', 0xff, 'x', 0xd5};
    const std::string lenient = gbk_to_utf8(bad);
    CHECK(lenient == "ok\xEF\xBF\xBDx\xEF\xBF\xBD");
    CHECK(is_valid_utf8(lenient));

    error_code ec;
    CHECK(gbk_to_utf8(bad, ec).empty());
    CHECK(ec == client_errc::invalid_encoding);

    CHECK(gbk_to_utf8(as_bytes("plain ASCII")) == "plain ASCII");
    CHECK(gbk_to_utf8(bytes{}) == "");
}

TEST_CASE("utf8_to_gbk rejects invalid UTF-8 and unmappable characters", "[payload]") {
    error_code ec;
    CHECK(utf8_to_gbk("\xff\xfe", ec).empty());
    CHECK(ec == client_errc::invalid_encoding);
    CHECK(utf8_to_gbk("\xF0\x9F\x98\x80", ec).empty()); // an emoji: not in GBK
    CHECK(ec == client_errc::invalid_encoding);
    CHECK_THROWS_AS(utf8_to_gbk("\xc3"), atomcloud::error);
    CHECK(utf8_to_gbk("abc", ec) == to_bytes("abc"));
    CHECK_FALSE(ec);
}

TEST_CASE("is_valid_utf8", "[payload]") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("abc 正点 \xF0\x9F\x98\x80"));
    CHECK_FALSE(is_valid_utf8("\xc3"));             // truncated
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));     // surrogate
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // beyond U+10FFFF
    CHECK_FALSE(is_valid_utf8("\x80"));
}

TEST_CASE("heartbeat detection is exact", "[payload]") {
    CHECK(is_heartbeat(as_bytes("ALIENTEK-HRTDT")));
    CHECK_FALSE(is_heartbeat(as_bytes("ALIENTEK-HRTDT\r\n")));
    CHECK_FALSE(is_heartbeat(as_bytes("alientek-hrtdt")));
    CHECK_FALSE(is_heartbeat({}));
    CHECK(is_heartbeat(as_bytes("PING"), "PING"));
}
