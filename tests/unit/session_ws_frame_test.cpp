// The RFC 6455 frame layer without sockets: the reader fed hand-built byte streams whole,
// byte by byte, in random pieces and moved between buffers; every rule that makes it
// fail; and the write side (header, masking, keys, close payload).
#include <atomcloud/detail/ws_frame.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace atomcloud;
using detail::ws_event;
using detail::ws_event_kind;
using detail::ws_opcode;
using detail::ws_reader;

namespace {

using byte_vec = std::vector<std::uint8_t>;

byte_vec bytes_of(std::string_view s) {
    return byte_vec(s.begin(), s.end());
}

byte_vec pattern(std::size_t n, std::uint8_t seed = 0) {
    byte_vec v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<std::uint8_t>(i * 31 + seed);
    return v;
}

byte_vec operator+(byte_vec a, const byte_vec& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

void append(byte_vec& a, const byte_vec& b) {
    a.insert(a.end(), b.begin(), b.end());
}

// How a test frame spells its length: the shortest form, or a forced one.
enum class length_form { minimal, bits7, bits16, bits64 };

struct frame_options {
    bool fin = true;
    std::uint8_t rsv = 0; // the three RSV bits, in their place (0x70)
    bool masked = false;
    length_form form = length_form::minimal;
    std::uint64_t declared = UINT64_MAX; // a length other than the payload's, when set
};

// A server frame per RFC 6455 5.2, written independently of the code under test:
// FIN | RSV1-3 | opcode, MASK | 7-bit length, extended length in network order, masking
// key, payload.
byte_vec server_frame(std::uint8_t opcode, const byte_vec& payload, frame_options o = {}) {
    byte_vec out;
    out.push_back(static_cast<std::uint8_t>((o.fin ? 0x80 : 0) | o.rsv | opcode));
    const std::uint64_t len = o.declared != UINT64_MAX ? o.declared : payload.size();
    length_form form = o.form;
    if (form == length_form::minimal)
        form = len < 126     ? length_form::bits7
               : len < 65536 ? length_form::bits16
                             : length_form::bits64;
    const std::uint8_t mask_bit = o.masked ? 0x80 : 0;
    if (form == length_form::bits7) {
        out.push_back(static_cast<std::uint8_t>(mask_bit | len));
    } else if (form == length_form::bits16) {
        out.push_back(mask_bit | 126);
        out.push_back(static_cast<std::uint8_t>(len / 256));
        out.push_back(static_cast<std::uint8_t>(len % 256));
    } else {
        out.push_back(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<std::uint8_t>((len >> shift) & 0xFF));
    }
    const std::uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    if (o.masked)
        out.insert(out.end(), key, key + 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        out.push_back(o.masked ? static_cast<std::uint8_t>(payload[i] ^ key[i % 4]) : payload[i]);
    return out;
}

byte_vec binary(const byte_vec& p, frame_options o = {}) {
    return server_frame(2, p, o);
}
byte_vec text(std::string_view s, frame_options o = {}) {
    return server_frame(1, bytes_of(s), o);
}
byte_vec fragment(std::uint8_t opcode, const byte_vec& p, bool fin) {
    frame_options o;
    o.fin = fin;
    return server_frame(opcode, p, o);
}
byte_vec close_frame(std::uint16_t code, std::string_view reason) {
    return server_frame(
        8, byte_vec{static_cast<std::uint8_t>(code >> 8), static_cast<std::uint8_t>(code & 0xFF)} +
               bytes_of(reason));
}

const char* kind_name(ws_event_kind k) {
    switch (k) {
    case ws_event_kind::need_more:
        return "need_more";
    case ws_event_kind::message:
        return "message";
    case ws_event_kind::ping:
        return "ping";
    case ws_event_kind::pong:
        return "pong";
    case ws_event_kind::close:
        return "close";
    case ws_event_kind::fail:
        return "fail";
    }
    return "?";
}

// An event with its payload copied out of the region.
struct seen {
    ws_event_kind kind = ws_event_kind::need_more;
    bool text = false;
    byte_vec payload;
    std::uint16_t close_code = 0;
    error_code ec;

    friend bool operator==(const seen& a, const seen& b) {
        return a.kind == b.kind && a.text == b.text && a.payload == b.payload &&
               a.close_code == b.close_code && a.ec == b.ec;
    }
    friend std::ostream& operator<<(std::ostream& os, const seen& s) {
        os << kind_name(s.kind) << (s.text ? " text" : "") << " size " << s.payload.size();
        if (s.kind == ws_event_kind::close || s.kind == ws_event_kind::fail)
            os << " code " << s.close_code;
        if (s.ec)
            os << " (" << s.ec.message() << ")";
        return os;
    }
};

seen message(const byte_vec& p, bool is_text = false) {
    return seen{ws_event_kind::message, is_text, p, 0, {}};
}
seen message(std::string_view s) {
    return message(bytes_of(s), true);
}
seen ping(const byte_vec& p) {
    return seen{ws_event_kind::ping, false, p, 0, {}};
}
seen pong(const byte_vec& p) {
    return seen{ws_event_kind::pong, false, p, 0, {}};
}
seen closed(std::uint16_t code, std::string_view reason = {}) {
    return seen{ws_event_kind::close, false, bytes_of(reason), code, {}};
}
seen failed(std::uint16_t code, client_errc e) {
    return seen{ws_event_kind::fail, false, {}, code, e};
}

seen copy_event(const ws_event& ev, const std::uint8_t* region, std::size_t size) {
    REQUIRE(ev.offset <= size);
    REQUIRE(ev.size <= size - ev.offset);
    seen s;
    s.kind = ev.kind;
    s.text = ev.text;
    s.payload.assign(region + ev.offset, region + ev.offset + ev.size);
    s.close_code = ev.close_code;
    s.ec = ev.ec;
    return s;
}

// The caller's loop: append the next piece, call next() until need_more or fail, then
// release what the reader lets go of (the region moves to the front of the buffer).
// `piece` says how many bytes arrive next; `relocate` moves the region to a new buffer
// after each piece.
std::vector<seen> feed(const byte_vec& stream, std::size_t max_message,
                       const std::function<std::size_t()>& piece, bool relocate = false) {
    ws_reader r(max_message);
    std::vector<seen> out;
    byte_vec buf;
    std::size_t fed = 0;
    bool ended = false;
    while (!ended && fed < stream.size()) {
        const std::size_t n = std::min(std::max<std::size_t>(piece(), 1), stream.size() - fed);
        buf.insert(buf.end(), stream.begin() + static_cast<std::ptrdiff_t>(fed),
                   stream.begin() + static_cast<std::ptrdiff_t>(fed + n));
        fed += n;
        for (;;) {
            const ws_event ev = r.next(buf.data(), buf.size());
            if (ev.kind == ws_event_kind::need_more) {
                // Open: more bytes are needed than the region has. Ended: nothing.
                if (!ended)
                    CHECK(r.wanted() > buf.size());
                break;
            }
            out.push_back(copy_event(ev, buf.data(), buf.size()));
            if (ev.kind == ws_event_kind::fail)
                return out;
            if (ev.kind == ws_event_kind::close)
                ended = true;
        }
        const std::size_t done = r.releasable();
        REQUIRE(done <= buf.size());
        r.release(done);
        buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(done));
        if (relocate) {
            byte_vec moved(buf); // a different allocation while `buf` is still alive
            buf.swap(moved);
        }
    }
    return out;
}

// Calls next() over the whole of `region` until need_more or fail.
void drain(ws_reader& r, byte_vec& region, std::vector<seen>& got) {
    for (;;) {
        const ws_event ev = r.next(region.data(), region.size());
        if (ev.kind == ws_event_kind::need_more)
            return;
        got.push_back(copy_event(ev, region.data(), region.size()));
        if (ev.kind == ws_event_kind::fail)
            return;
    }
}

std::vector<seen> feed_whole(const byte_vec& stream, std::size_t max_message = 1 << 20) {
    return feed(stream, max_message, [&] { return stream.size(); });
}

// One call of next() over the whole stream.
seen first_event(const byte_vec& stream, std::size_t max_message = 1 << 20) {
    ws_reader r(max_message);
    byte_vec buf(stream);
    const ws_event ev = r.next(buf.data(), buf.size());
    return copy_event(ev, buf.data(), buf.size());
}

// A stream using every kind of frame: messages of each length form, text, fragmented
// messages with control frames between the fragments, and a close at the end.
byte_vec mixed_stream() {
    byte_vec s;
    s = s + binary(pattern(40, 1)) + binary({}) + text("hello") + binary(pattern(125, 2)) +
        binary(pattern(126, 3)) + server_frame(9, bytes_of("ping!")) + binary(pattern(300, 4)) +
        fragment(2, pattern(10, 5), false) + server_frame(9, pattern(3, 6)) +
        fragment(0, pattern(20, 7), false) + server_frame(10, {}) + fragment(0, {}, false) +
        fragment(0, pattern(5, 8), true) + fragment(1, bytes_of("h\xc3"), false) +
        fragment(0, bytes_of("\xa9llo"), true) + binary(pattern(65536, 9)) +
        server_frame(10, pattern(125, 10)) + close_frame(1000, "bye");
    return s;
}

std::vector<seen> mixed_events() {
    byte_vec frag = pattern(10, 5) + pattern(20, 7) + pattern(5, 8);
    return {message(pattern(40, 1)),
            message(byte_vec{}),
            message("hello"),
            message(pattern(125, 2)),
            message(pattern(126, 3)),
            ping(bytes_of("ping!")),
            message(pattern(300, 4)),
            ping(pattern(3, 6)),
            pong({}),
            message(frag),
            message("h\xc3\xa9llo"),
            message(pattern(65536, 9)),
            pong(pattern(125, 10)),
            closed(1000, "bye")};
}

} // namespace

// ------------------------------------------------------------------ single frames

TEST_CASE("ws reader: one binary frame per length form, viewed in place", "[ws]") {
    struct length_case {
        std::size_t size;
        std::size_t header;
    };
    for (auto c : {length_case{0, 2}, length_case{1, 2}, length_case{125, 2}, length_case{126, 4},
                   length_case{127, 4}, length_case{65535, 4}, length_case{65536, 10},
                   length_case{70000, 10}}) {
        INFO("payload " << c.size);
        const byte_vec payload = pattern(c.size);
        byte_vec buf = binary(payload);
        REQUIRE(buf.size() == c.header + c.size);
        ws_reader r(1 << 20);
        const ws_event ev = r.next(buf.data(), buf.size());
        REQUIRE(ev.kind == ws_event_kind::message);
        CHECK_FALSE(ev.text);
        CHECK(ev.offset == c.header);
        CHECK(ev.size == c.size);
        CHECK(std::equal(payload.begin(), payload.end(), buf.begin() + ev.offset));
        CHECK(r.releasable() == buf.size());
        CHECK(r.next(buf.data(), buf.size()).kind == ws_event_kind::need_more);
        CHECK(r.wanted() == buf.size() + 2);
    }
}

TEST_CASE("ws reader: the examples of RFC 6455 5.7, byte for byte", "[ws]") {
    // A single-frame unmasked text message.
    CHECK(feed_whole({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}) ==
          std::vector<seen>{message("Hello")});
    // A fragmented unmasked text message.
    CHECK(feed_whole({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}) ==
          std::vector<seen>{message("Hello")});
    // Unmasked ping and pong.
    CHECK(feed_whole({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c,
                      0x6f}) ==
          std::vector<seen>{ping(bytes_of("Hello")), pong(bytes_of("Hello"))});
    // 256 bytes and 64 KiB binary messages.
    byte_vec b256{0x82, 0x7E, 0x01, 0x00};
    b256.resize(4 + 256, 0xAB);
    CHECK(feed_whole(b256) == std::vector<seen>{message(byte_vec(256, 0xAB))});
    byte_vec b64k{0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
    b64k.resize(10 + 65536, 0xCD);
    CHECK(feed_whole(b64k) == std::vector<seen>{message(byte_vec(65536, 0xCD))});
}

TEST_CASE("ws reader: many messages in one region, each in place", "[ws]") {
    byte_vec stream;
    std::vector<std::size_t> sizes;
    for (std::size_t i = 0; i < 1000; ++i) {
        const std::size_t n = (i * 37) % 300;
        sizes.push_back(n);
        append(stream, binary(pattern(n, static_cast<std::uint8_t>(i))));
    }
    ws_reader r(1 << 20);
    std::size_t expected_offset = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const ws_event ev = r.next(stream.data(), stream.size());
        REQUIRE(ev.kind == ws_event_kind::message);
        const std::size_t header = sizes[i] < 126 ? 2 : 4;
        CHECK(ev.offset == expected_offset + header);
        REQUIRE(ev.size == sizes[i]);
        CHECK(std::equal(stream.begin() + static_cast<std::ptrdiff_t>(ev.offset),
                         stream.begin() + static_cast<std::ptrdiff_t>(ev.offset + ev.size),
                         pattern(sizes[i], static_cast<std::uint8_t>(i)).begin()));
        expected_offset = ev.offset + ev.size;
        CHECK(r.releasable() == expected_offset);
    }
    CHECK(r.next(stream.data(), stream.size()).kind == ws_event_kind::need_more);
    CHECK(r.releasable() == stream.size());
}

// ------------------------------------------------------------------ streaming

TEST_CASE("ws reader: a stream fed whole, byte by byte or in random pieces gives the same "
          "events",
          "[ws]") {
    const byte_vec stream = mixed_stream();
    const std::vector<seen> expected = mixed_events();
    CHECK(feed_whole(stream) == expected);
    CHECK(feed(stream, 1 << 20, [] { return std::size_t(1); }) == expected);
    CHECK(feed(
              stream, 1 << 20, [] { return std::size_t(1); }, true) == expected);
    std::mt19937 rng(12345);
    for (int round = 0; round < 50; ++round) {
        INFO("round " << round);
        std::uniform_int_distribution<std::size_t> small(1, 20), large(1, 5000);
        const bool big = round % 2 == 1;
        CHECK(feed(
                  stream, 1 << 20, [&] { return big ? large(rng) : small(rng); }, round % 3 == 0) ==
              expected);
    }
}

TEST_CASE("ws reader: wanted() asks for the header, then the header and the payload", "[ws]") {
    const byte_vec f7 = binary(pattern(100));
    const byte_vec f16 = binary(pattern(1000));
    const byte_vec f64 = binary(pattern(70000));
    struct step {
        const byte_vec* frame;
        std::size_t have;
        std::size_t wanted;
    };
    for (auto s :
         {step{&f7, 0, 2}, step{&f7, 1, 2}, step{&f7, 2, 102}, step{&f7, 101, 102},
          step{&f16, 1, 2}, step{&f16, 2, 4}, step{&f16, 3, 4}, step{&f16, 4, 1004},
          step{&f64, 2, 10}, step{&f64, 9, 10}, step{&f64, 10, 70010}, step{&f64, 70009, 70010}}) {
        INFO("frame of " << s.frame->size() << " bytes, " << s.have << " in the region");
        ws_reader r(1 << 20);
        byte_vec region(s.frame->begin(), s.frame->begin() + static_cast<std::ptrdiff_t>(s.have));
        CHECK(r.next(region.data(), region.size()).kind == ws_event_kind::need_more);
        CHECK(r.wanted() == s.wanted);
        CHECK(r.releasable() == 0);
    }
}

TEST_CASE("ws reader: the region may move to another buffer in the middle of a message", "[ws]") {
    const byte_vec stream = binary(pattern(10)) + fragment(2, pattern(1000, 1), false) +
                            server_frame(9, bytes_of("p")) + fragment(0, pattern(3000, 2), false) +
                            fragment(0, pattern(500, 3), true) + binary(pattern(7, 4));
    ws_reader r(1 << 20);
    std::vector<seen> got;
    // Phase 1: the first 2000 bytes in one buffer.
    byte_vec first(stream.begin(), stream.begin() + 2000);
    drain(r, first, got);
    CHECK(r.wanted() > first.size());
    const std::size_t done = r.releasable();
    CHECK(done == 12 + 4); // the first message and the header of the first fragment
    r.release(done);
    // Phase 2: what is left moves to a bigger buffer (at another address), followed by the
    // rest of the stream; the first buffer is scribbled over to prove it is not used.
    byte_vec second(first.begin() + static_cast<std::ptrdiff_t>(done), first.end());
    second.reserve(r.wanted() + 100);
    std::fill(first.begin(), first.end(), 0xEE);
    second.insert(second.end(), stream.begin() + 2000, stream.end());
    drain(r, second, got);
    CHECK(got == std::vector<seen>{message(pattern(10)), ping(bytes_of("p")),
                                   message(pattern(1000, 1) + pattern(3000, 2) + pattern(500, 3)),
                                   message(pattern(7, 4))});
    CHECK(r.releasable() == second.size());
}

TEST_CASE("ws reader: released bytes are never written, earlier messages stay intact", "[ws]") {
    // The session keeps views into released bytes: a fixed buffer, the region start moving
    // forward as the reader releases, and every message checked at the end.
    const byte_vec stream = mixed_stream();
    byte_vec buf(stream);
    ws_reader r(1 << 20);
    struct view {
        std::size_t at;
        byte_vec bytes;
    };
    std::vector<view> views;
    std::size_t base = 0;
    std::size_t end = 0;
    std::mt19937 rng(7);
    while (end < buf.size()) {
        end = std::min(buf.size(), end + 1 + rng() % 700);
        for (;;) {
            const ws_event ev = r.next(buf.data() + base, end - base);
            if (ev.kind == ws_event_kind::need_more)
                break;
            if (ev.kind == ws_event_kind::message)
                views.push_back(
                    {base + ev.offset,
                     byte_vec(buf.begin() + static_cast<std::ptrdiff_t>(base + ev.offset),
                              buf.begin() +
                                  static_cast<std::ptrdiff_t>(base + ev.offset + ev.size))});
        }
        const std::size_t n = r.releasable();
        r.release(n);
        base += n;
    }
    REQUIRE(views.size() == 9);
    for (const auto& v : views)
        CHECK(std::equal(v.bytes.begin(), v.bytes.end(),
                         buf.begin() + static_cast<std::ptrdiff_t>(v.at)));
    CHECK(views[6].bytes == pattern(10, 5) + pattern(20, 7) + pattern(5, 8));
}

// ------------------------------------------------------------------ fragmentation

TEST_CASE("ws reader: a fragmented message becomes contiguous, control frames between its "
          "fragments are reported at once",
          "[ws]") {
    const byte_vec stream = fragment(2, pattern(50, 1), false) + server_frame(9, bytes_of("a")) +
                            fragment(0, pattern(60, 2), false) + server_frame(9, bytes_of("bb")) +
                            server_frame(10, bytes_of("c")) + fragment(0, pattern(70, 3), true);
    byte_vec buf(stream);
    ws_reader r(1 << 20);
    ws_event ev = r.next(buf.data(), buf.size());
    REQUIRE(ev.kind == ws_event_kind::ping);
    CHECK(copy_event(ev, buf.data(), buf.size()) == ping(bytes_of("a")));
    CHECK(r.releasable() == 2); // only the header of the first fragment
    ev = r.next(buf.data(), buf.size());
    CHECK(copy_event(ev, buf.data(), buf.size()) == ping(bytes_of("bb")));
    CHECK(r.releasable() == 2);
    ev = r.next(buf.data(), buf.size());
    CHECK(copy_event(ev, buf.data(), buf.size()) == pong(bytes_of("c")));
    ev = r.next(buf.data(), buf.size());
    REQUIRE(ev.kind == ws_event_kind::message);
    CHECK(ev.offset == 2); // where the first fragment's payload was
    CHECK(ev.size == 180);
    CHECK(copy_event(ev, buf.data(), buf.size()) ==
          message(pattern(50, 1) + pattern(60, 2) + pattern(70, 3)));
    CHECK(r.releasable() == buf.size());
}

TEST_CASE("ws reader: a text message split inside a character is checked as a whole", "[ws]") {
    // "é" is C3 A9, "€" is E2 82 AC; each is cut between fragments.
    const byte_vec stream =
        fragment(1, bytes_of("caf\xc3"), false) + fragment(0, bytes_of("\xa9 \xe2"), false) +
        fragment(0, bytes_of("\x82"), false) + fragment(0, bytes_of("\xac"), true);
    CHECK(feed_whole(stream) == std::vector<seen>{message("caf\xc3\xa9 \xe2\x82\xac")});
    CHECK(feed(stream, 1 << 20, [] { return std::size_t(1); }) ==
          std::vector<seen>{message("caf\xc3\xa9 \xe2\x82\xac")});
    // The same bytes with the last fragment missing a byte of the character: invalid.
    const byte_vec bad = fragment(1, bytes_of("caf\xc3"), false) + fragment(0, bytes_of("x"), true);
    CHECK(feed_whole(bad) == std::vector<seen>{failed(1007, client_errc::invalid_encoding)});
}

TEST_CASE("ws reader: text messages must be valid UTF-8", "[ws]") {
    CHECK(first_event(text("")) == message(""));
    CHECK(first_event(text("plain ascii")) == message("plain ascii"));
    CHECK(first_event(text("\xe6\xad\xa3\xe7\x82\xb9 \xf0\x9f\x98\x80")) ==
          message("\xe6\xad\xa3\xe7\x82\xb9 \xf0\x9f\x98\x80"));
    for (std::string_view bad : {std::string_view("\xff"), std::string_view("ab\xc3"),
                                 std::string_view("\xc0\xaf"),         // overlong '/'
                                 std::string_view("\xed\xa0\x80"),     // a surrogate
                                 std::string_view("\xf4\x90\x80\x80"), // beyond U+10FFFF
                                 std::string_view("\x80 continuation")}) {
        INFO("text " << bad.size() << " bytes");
        CHECK(first_event(text(bad)) == failed(1007, client_errc::invalid_encoding));
    }
    // Binary messages are not text: any bytes.
    CHECK(first_event(binary(bytes_of("\xff\xfe"))) == message(bytes_of("\xff\xfe")));
}

// ------------------------------------------------------------------ failures

TEST_CASE("ws reader: every protocol violation fails with the close code to send", "[ws]") {
    const auto protocol = failed(1002, client_errc::websocket_protocol_error);
    frame_options rsv1, rsv2, rsv3, masked, nofin;
    rsv1.rsv = 0x40;
    rsv2.rsv = 0x20;
    rsv3.rsv = 0x10;
    masked.masked = true;
    nofin.fin = false;
    frame_options form16, form64, form64_for_short, top_bit;
    form16.form = length_form::bits16; // 126 with a length < 126
    form64.form = length_form::bits64; // 127 with a length < 65536
    form64_for_short.form = length_form::bits64;
    top_bit.declared = std::uint64_t(1) << 63;
    struct bad_case {
        const char* what;
        byte_vec stream;
    };
    const std::vector<bad_case> cases = {
        {"RSV1", binary(pattern(3), rsv1)},
        {"RSV2", text("x", rsv2)},
        {"RSV3", server_frame(9, {}, rsv3)},
        {"opcode 3", server_frame(3, {})},
        {"opcode 7", server_frame(7, {})},
        {"opcode 11", server_frame(11, {})},
        {"opcode 15", server_frame(15, {})},
        {"masked binary", binary(pattern(5), masked)},
        {"masked ping", server_frame(9, {}, masked)},
        {"ping without FIN", server_frame(9, {}, nofin)},
        {"close without FIN", server_frame(8, {}, nofin)},
        {"ping of 126 bytes", server_frame(9, pattern(126))},
        {"pong of 126 bytes", server_frame(10, pattern(126))},
        {"close of 126 bytes", server_frame(8, byte_vec{0x03, 0xE8} + pattern(124))},
        {"continuation of nothing", fragment(0, pattern(4), true)},
        {"unfinished continuation of nothing", fragment(0, pattern(4), false)},
        {"binary inside a fragmented message", fragment(2, pattern(4), false) + binary(pattern(4))},
        {"text inside a fragmented message",
         fragment(1, bytes_of("a"), false) + fragment(1, bytes_of("b"), false)},
        {"64-bit length with the top bit set", binary({}, top_bit)},
        {"16-bit form for 125 bytes", binary(pattern(125), form16)},
        {"16-bit form for 0 bytes", binary({}, form16)},
        {"64-bit form for 65535 bytes", binary(pattern(65535), form64)},
        {"64-bit form for 10 bytes", binary(pattern(10), form64_for_short)},
        {"close with a 1-byte payload", server_frame(8, {0x03})},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        CHECK(feed_whole(c.stream) == std::vector<seen>{protocol});
        CHECK(feed(c.stream, 1 << 20, [] { return std::size_t(1); }) ==
              std::vector<seen>{protocol});
    }
}

TEST_CASE("ws reader: a failure is final until reset()", "[ws]") {
    byte_vec bad = server_frame(3, {}) + binary(pattern(5));
    ws_reader r(100);
    const ws_event first = r.next(bad.data(), bad.size());
    REQUIRE(first.kind == ws_event_kind::fail);
    CHECK(first.close_code == 1002);
    for (int i = 0; i < 3; ++i) {
        const ws_event again = r.next(bad.data(), bad.size());
        CHECK(again.kind == ws_event_kind::fail);
        CHECK(again.close_code == 1002);
        CHECK(again.ec == client_errc::websocket_protocol_error);
    }
    CHECK(r.wanted() == 0);
    r.reset();
    byte_vec good = binary(pattern(5));
    CHECK(copy_event(r.next(good.data(), good.size()), good.data(), good.size()) ==
          message(pattern(5)));
}

TEST_CASE("ws reader: the fail of a fragment comes after the control frames before it", "[ws]") {
    const byte_vec stream =
        fragment(2, pattern(4), false) + server_frame(9, bytes_of("x")) + binary(pattern(2));
    CHECK(feed_whole(stream) ==
          std::vector<seen>{ping(bytes_of("x")),
                            failed(1002, client_errc::websocket_protocol_error)});
}

// ------------------------------------------------------------------ close

TEST_CASE("ws reader: close frames report the code and the reason", "[ws]") {
    CHECK(first_event(close_frame(1000, "bye")) == closed(1000, "bye"));
    CHECK(first_event(close_frame(1001, "")) == closed(1001));
    CHECK(first_event(close_frame(4000, "\xe6\xad\xa3\xe7\x82\xb9")) ==
          closed(4000, "\xe6\xad\xa3\xe7\x82\xb9"));
    // The longest close: code + 123 bytes of reason.
    const std::string longest(123, 'r');
    CHECK(first_event(close_frame(1011, longest)) == closed(1011, longest));
    // No payload: 1005, "no status received".
    CHECK(first_event(server_frame(8, {})) == closed(1005));
}

TEST_CASE("ws reader: close codes not allowed on the wire fail with 1002", "[ws]") {
    for (std::uint16_t code :
         {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
        INFO("code " << code);
        CHECK(first_event(close_frame(code, "")) ==
              failed(1002, client_errc::websocket_protocol_error));
    }
    for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
                               1014, 3000, 3999, 4000, 4999}) {
        INFO("code " << code);
        CHECK(first_event(close_frame(code, "ok")) == closed(code, "ok"));
    }
}

TEST_CASE("ws reader: a close reason that is not UTF-8 fails with 1007", "[ws]") {
    CHECK(first_event(close_frame(1000, "bad \xc3")) ==
          failed(1007, client_errc::invalid_encoding));
    CHECK(first_event(close_frame(1000, "\xed\xb0\x80")) ==
          failed(1007, client_errc::invalid_encoding));
}

TEST_CASE("ws reader: nothing after a close, not even in a fragmented message", "[ws]") {
    byte_vec stream = fragment(2, pattern(9), false) + close_frame(1000, "") + binary(pattern(3)) +
                      server_frame(3, {});
    ws_reader r(1 << 20);
    const ws_event ev = r.next(stream.data(), stream.size());
    CHECK(copy_event(ev, stream.data(), stream.size()) == closed(1000));
    // The fragments and the close frame are done with; what follows is ignored.
    CHECK(r.releasable() == 2 + 9 + 4);
    for (int i = 0; i < 3; ++i)
        CHECK(r.next(stream.data(), stream.size()).kind == ws_event_kind::need_more);
    CHECK(r.wanted() == 0);
}

// ------------------------------------------------------------------ size limit

TEST_CASE("ws reader: max_message_size is accepted exactly, one more byte is rejected", "[ws]") {
    const auto too_big = failed(1009, client_errc::message_too_large);
    for (std::size_t limit : {0, 40, 125, 126, 65536, 100000}) {
        INFO("limit " << limit);
        CHECK(feed_whole(binary(pattern(limit)), limit) ==
              std::vector<seen>{message(pattern(limit))});
        CHECK(feed_whole(binary(pattern(limit + 1)), limit) == std::vector<seen>{too_big});
        CHECK(feed_whole(text(std::string(limit + 1, 't')), limit) == std::vector<seen>{too_big});
    }
    // Fragments count together.
    const std::size_t limit = 1000;
    const byte_vec exact = fragment(2, pattern(400), false) + fragment(0, pattern(400), false) +
                           fragment(0, pattern(200), true);
    CHECK(feed_whole(exact, limit) ==
          std::vector<seen>{message(pattern(400) + pattern(400) + pattern(200))});
    const byte_vec over = fragment(2, pattern(400), false) + fragment(0, pattern(400), false) +
                          fragment(0, pattern(201), true);
    CHECK(feed_whole(over, limit) == std::vector<seen>{too_big});
    // Control frames do not count.
    CHECK(feed_whole(server_frame(9, pattern(125)), 10) == std::vector<seen>{ping(pattern(125))});
}

TEST_CASE("ws reader: a message too large fails before its payload arrives", "[ws]") {
    // Only the header of a 1 MiB frame, the limit 64 KiB.
    byte_vec header = binary(pattern(1 << 20));
    header.resize(10);
    ws_reader r(65536);
    byte_vec region(header.begin(), header.begin() + 9);
    CHECK(r.next(region.data(), region.size()).kind == ws_event_kind::need_more);
    CHECK(r.wanted() == 10); // the header, never the payload
    region.push_back(header[9]);
    const ws_event ev = r.next(region.data(), region.size());
    CHECK(ev.kind == ws_event_kind::fail);
    CHECK(ev.close_code == 1009);
    CHECK(ev.ec == client_errc::message_too_large);
    // The same with a 7-bit length: 100 bytes announced, the limit 40.
    byte_vec short_header{0x82, 100};
    ws_reader r1(40);
    const ws_event ev1 = r1.next(short_header.data(), short_header.size());
    CHECK(ev1.kind == ws_event_kind::fail);
    CHECK(ev1.close_code == 1009);
    CHECK(r1.wanted() == 0);
    // The same for a fragment that would cross the limit.
    byte_vec frag = fragment(2, pattern(60000), false) + fragment(0, pattern(6000), true);
    frag.resize(60000 + 4 + 4); // the second header, no payload
    ws_reader r2(65536);
    const ws_event ev2 = r2.next(frag.data(), frag.size());
    CHECK(ev2.kind == ws_event_kind::fail);
    CHECK(ev2.close_code == 1009);
}

TEST_CASE("ws reader: endless empty fragments or pings cannot make the region grow without "
          "bound",
          "[ws]") {
    const std::size_t limit = 1000;
    byte_vec stream = fragment(2, pattern(10), false);
    for (int i = 0; i < 40000; ++i)
        append(stream, i % 2 == 0 ? fragment(0, {}, false) : server_frame(9, {}));
    ws_reader r(limit);
    std::size_t pings = 0;
    ws_event ev;
    while ((ev = r.next(stream.data(), stream.size())).kind == ws_event_kind::ping) {
        ++pings;
        CHECK(r.releasable() == 2);
    }
    CHECK(ev.kind == ws_event_kind::fail);
    CHECK(ev.close_code == 1009);
    CHECK(ev.ec == client_errc::message_too_large);
    // It stopped once the frames spanned the limit and the allowance for overhead.
    CHECK(pings * 4 + 10 <= limit + ws_reader::max_fragment_overhead);
    CHECK(pings * 4 + 10 + 8 > limit + ws_reader::max_fragment_overhead);
}

// ------------------------------------------------------------------ writing

TEST_CASE("ws writer: client frame headers round-trip through an independent decoder", "[ws]") {
    const std::array<std::uint8_t, 4> key{0xA1, 0xB2, 0xC3, 0xD4};
    for (std::uint64_t size : {0ull, 1ull, 125ull, 126ull, 127ull, 65535ull, 65536ull, 70001ull}) {
        INFO("payload " << size);
        const byte_vec payload = pattern(static_cast<std::size_t>(size), 9);
        byte_vec frame(detail::ws_max_header_size + payload.size());
        const std::size_t header =
            detail::ws_write_header(frame.data(), ws_opcode::binary, size, key);
        CHECK(header == (size < 126 ? 6u : size < 65536 ? 8u : 14u));
        std::copy(payload.begin(), payload.end(),
                  frame.begin() + static_cast<std::ptrdiff_t>(header));
        detail::ws_mask(frame.data() + header, payload.size(), key);
        frame.resize(header + payload.size());

        // Decode per RFC 6455 5.2.
        CHECK(frame[0] == 0x82); // FIN, binary
        CHECK((frame[1] & 0x80) == 0x80);
        std::uint64_t len = frame[1] & 0x7F;
        std::size_t at = 2;
        if (len == 126) {
            len = std::uint64_t(frame[2]) * 256 + frame[3];
            at = 4;
        } else if (len == 127) {
            len = 0;
            for (std::size_t i = 0; i < 8; ++i)
                len = len * 256 + frame[2 + i];
            at = 10;
        }
        CHECK(len == size);
        const std::uint8_t* k = frame.data() + at;
        CHECK(std::equal(key.begin(), key.end(), k));
        at += 4;
        REQUIRE(at == header);
        byte_vec unmasked;
        for (std::size_t i = 0; i < payload.size(); ++i)
            unmasked.push_back(static_cast<std::uint8_t>(frame[at + i] ^ k[i % 4]));
        CHECK(unmasked == payload);
        if (size >= 4) // masking changed what is on the wire
            CHECK_FALSE(std::equal(payload.begin(), payload.end(),
                                   frame.begin() + static_cast<std::ptrdiff_t>(header)));
    }
}

TEST_CASE("ws writer: the masked text example of RFC 6455 5.7", "[ws]") {
    byte_vec frame(detail::ws_max_header_size + 5);
    const std::size_t header =
        detail::ws_write_header(frame.data(), ws_opcode::text, 5, {0x37, 0xfa, 0x21, 0x3d});
    std::memcpy(frame.data() + header, "Hello", 5);
    detail::ws_mask(frame.data() + header, 5, {0x37, 0xfa, 0x21, 0x3d});
    frame.resize(header + 5);
    CHECK(frame == byte_vec{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    std::uint8_t empty_ping[detail::ws_max_header_size];
    CHECK(detail::ws_write_header(empty_ping, ws_opcode::ping, 0, {1, 2, 3, 4}) == 6);
    CHECK(empty_ping[0] == 0x89);
    CHECK(empty_ping[1] == 0x80);
}

TEST_CASE("ws writer: ws_mask matches a byte-wise reference at every offset and length", "[ws]") {
    const std::array<std::uint8_t, 4> key{0x01, 0x80, 0x7F, 0xFE};
    const byte_vec original = pattern(300, 3);
    for (std::size_t start : {0, 1, 3, 7}) {
        for (std::size_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 293}) {
            for (std::size_t key_offset : {0, 1, 2, 3, 4, 5, 1001}) {
                INFO("start " << start << " n " << n << " key offset " << key_offset);
                byte_vec data = original;
                detail::ws_mask(data.data() + start, n, key, key_offset);
                byte_vec expected = original;
                for (std::size_t i = 0; i < n; ++i)
                    expected[start + i] ^= key[(key_offset + i) % 4];
                REQUIRE(data == expected);
            }
        }
    }
    // Masking in pieces, each with its offset in the payload, equals masking at once.
    byte_vec whole = original, pieces = original;
    detail::ws_mask(whole.data(), whole.size(), key);
    std::size_t done = 0;
    for (std::size_t piece : {5, 1, 13, 64, 2, 100, 115}) {
        detail::ws_mask(pieces.data() + done, piece, key, done);
        done += piece;
    }
    REQUIRE(done == pieces.size());
    CHECK(pieces == whole);
    // Masking twice is the identity.
    detail::ws_mask(whole.data(), whole.size(), key);
    CHECK(whole == original);
}

TEST_CASE("ws writer: masking keys are unpredictable", "[ws]") {
    detail::ws_mask_source source;
    std::set<std::uint32_t> keys;
    for (int i = 0; i < 1000; ++i) { // several refills of the pool
        const auto k = source.next();
        keys.insert(std::uint32_t(k[0]) << 24 | std::uint32_t(k[1]) << 16 |
                    std::uint32_t(k[2]) << 8 | k[3]);
    }
    // 1000 random 32-bit keys: a repeat is rare, many would mean no randomness.
    CHECK(keys.size() > 990);
    detail::ws_mask_source other;
    CHECK(other.next() != source.next());
}

TEST_CASE("ws writer: close payloads, reasons cut at a character boundary", "[ws]") {
    std::uint8_t out[125];
    CHECK(detail::ws_close_payload(out, 1000, "") == 2);
    CHECK(out[0] == 0x03);
    CHECK(out[1] == 0xE8);
    CHECK(detail::ws_close_payload(out, 4001, "going away") == 12);
    CHECK(out[0] == 0x0F);
    CHECK(out[1] == 0xA1);
    CHECK(std::string_view(reinterpret_cast<const char*>(out + 2), 10) == "going away");

    const std::string ascii(200, 'a');
    CHECK(detail::ws_close_payload(out, 1002, ascii) == 125);
    // 41 three-byte characters are 123 bytes: all fit. One ASCII byte in front pushes the
    // 41st character across the cut, so it goes entirely.
    std::string han;
    for (int i = 0; i < 50; ++i)
        han += "\xe6\xad\xa3";
    CHECK(detail::ws_close_payload(out, 1000, han) == 2 + 123);
    const std::string shifted = "x" + han;
    const std::size_t n = detail::ws_close_payload(out, 1000, shifted);
    CHECK(n == 2 + 1 + 40 * 3);
    const std::string_view reason(reinterpret_cast<const char*>(out + 2), n - 2);
    CHECK(is_valid_utf8(reason));
    CHECK(reason == std::string_view(shifted).substr(0, 121));
    // A 4-byte character across the cut.
    const std::string emoji = std::string(121, 'e') + "\xf0\x9f\x98\x80";
    CHECK(detail::ws_close_payload(out, 1000, emoji) == 2 + 121);

    // What the writer builds, the reader accepts.
    const std::size_t m = detail::ws_close_payload(out, 1008, shifted);
    const byte_vec frame = server_frame(8, byte_vec(out, out + m));
    CHECK(first_event(frame) == closed(1008, reason));
}
