// Fuzzes the WebSocket frame reader the way the session drives it: the input is a byte
// stream arriving in pieces, the region moving between buffers now and then. Input layout:
// [limit selector][2 bytes seeding piece sizes and moves][the stream].
//
// Properties checked:
//   - next() never touches bytes outside the region (AddressSanitizer: the bytes before
//     and after the region are poisoned during each call), and always terminates;
//   - every view lies in the region, releasable() <= size, a message is at most the limit,
//     control payloads at most 125 bytes, close codes are allowed ones, failures carry a
//     close code and an error;
//   - after need_more, wanted() is beyond the region but within the limit plus overhead;
//   - messages stay intact while later events are parsed (until the caller releases);
//   - the events are the same whatever the pieces and moves: fed whole, in one region,
//     the stream gives exactly the same sequence, and so does a plain model of the rules
//     written here (copying, no in-place work);
//   - ws_mask matches a byte-wise XOR at any key offset.
#include <atomcloud/detail/ws_frame.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATOMCLOUD_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ATOMCLOUD_FUZZ_ASAN 1
#endif
#ifdef ATOMCLOUD_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace {

using atomcloud::detail::ws_event;
using atomcloud::detail::ws_event_kind;
using atomcloud::detail::ws_reader;

void check(bool ok) {
    if (!ok)
        std::abort();
}

void poison(const std::uint8_t* p, std::size_t n) {
#ifdef ATOMCLOUD_FUZZ_ASAN
    if (n != 0)
        ASAN_POISON_MEMORY_REGION(p, n);
#else
    (void)p;
    (void)n;
#endif
}

void unpoison(const std::uint8_t* p, std::size_t n) {
#ifdef ATOMCLOUD_FUZZ_ASAN
    if (n != 0)
        ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
    (void)p;
    (void)n;
#endif
}

// An event with its payload copied.
struct seen {
    ws_event_kind kind;
    bool text;
    std::vector<std::uint8_t> payload;
    std::uint16_t close_code;
    int ec;

    bool operator==(const seen& o) const {
        return kind == o.kind && text == o.text && payload == o.payload &&
               close_code == o.close_code && ec == o.ec;
    }
};

// The checks that hold for every event of a reader whose region is [region, +size).
void check_event(const ws_event& ev, const ws_reader& r, std::size_t size, std::size_t limit) {
    check(ev.offset <= size && ev.size <= size - ev.offset);
    check(r.releasable() <= size);
    switch (ev.kind) {
    case ws_event_kind::message:
        check(ev.size <= limit);
        break;
    case ws_event_kind::ping:
    case ws_event_kind::pong:
        check(ev.size <= 125);
        break;
    case ws_event_kind::close:
        check(ev.size <= 123);
        check(ev.close_code == 1005 ? ev.size == 0
                                    : atomcloud::detail::ws_close_code_allowed(ev.close_code));
        break;
    case ws_event_kind::fail:
        check(ev.close_code == 1002 || ev.close_code == 1007 || ev.close_code == 1009);
        check(static_cast<bool>(ev.ec));
        break;
    case ws_event_kind::need_more:
        break;
    }
}

seen copy_event(const ws_event& ev, const std::uint8_t* region) {
    return seen{ev.kind, ev.text,
                std::vector<std::uint8_t>(region + ev.offset, region + ev.offset + ev.size),
                ev.close_code, ev.ec.value()};
}

// An independent model of the rules, written for clarity: copies every payload, keeps a
// separate message buffer, no in-place tricks. The reader must agree with it exactly.
std::vector<seen> reference(const std::uint8_t* p, std::size_t n, std::size_t limit) {
    using atomcloud::client_errc;
    std::vector<seen> out;
    const auto fail = [&](std::uint16_t code, client_errc e) {
        out.push_back(seen{ws_event_kind::fail, false, {}, code, static_cast<int>(e)});
        return out;
    };
    const auto protocol_error = [&] { return fail(1002, client_errc::websocket_protocol_error); };
    const auto valid_utf8 = [](const std::uint8_t* b, std::size_t len) {
        return atomcloud::is_valid_utf8(std::string_view(reinterpret_cast<const char*>(b), len));
    };
    std::size_t pos = 0;
    bool in_message = false;
    bool message_text = false;
    std::vector<std::uint8_t> message;
    std::size_t first_payload = 0; // where the fragmented message's first payload began
    for (;;) {
        if (n - pos < 2)
            return out;
        const std::uint8_t b0 = p[pos];
        const std::uint8_t b1 = p[pos + 1];
        const bool fin = (b0 & 0x80) != 0;
        const unsigned op = b0 & 0x0F;
        const bool control = op >= 8;
        if ((b0 & 0x70) != 0 || (b1 & 0x80) != 0)
            return protocol_error();
        if (control && (op > 10 || !fin || (b1 & 0x7F) > 125))
            return protocol_error();
        if (!control && (op > 2 || (op == 0) != in_message))
            return protocol_error();
        std::uint64_t len = b1 & 0x7F;
        std::size_t header = 2;
        if (len == 126) {
            header = 4;
            if (n - pos < header)
                return out;
            len = p[pos + 2] * 256u + p[pos + 3];
            if (len < 126)
                return protocol_error();
        } else if (len == 127) {
            header = 10;
            if (n - pos < header)
                return out;
            len = 0;
            for (std::size_t i = 0; i < 8; ++i)
                len = len * 256 + p[pos + 2 + i];
            if (len >= (std::uint64_t(1) << 63) || len < 65536)
                return protocol_error();
        }
        if (!control && message.size() + len > limit)
            return fail(1009, client_errc::message_too_large);
        if (in_message &&
            pos + header + len - first_payload > limit + ws_reader::max_fragment_overhead)
            return fail(1009, client_errc::message_too_large);
        if (n - pos - header < len)
            return out;
        const std::uint8_t* payload = p + pos + header;
        const std::size_t size = static_cast<std::size_t>(len);
        if (op == 8) {
            if (size == 1)
                return protocol_error();
            if (size == 0) {
                out.push_back(seen{ws_event_kind::close, false, {}, 1005, 0});
                return out;
            }
            const auto code = static_cast<std::uint16_t>(payload[0] * 256 + payload[1]);
            if (!((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                  (code >= 3000 && code <= 4999)))
                return protocol_error();
            if (!valid_utf8(payload + 2, size - 2))
                return fail(1007, client_errc::invalid_encoding);
            out.push_back(seen{ws_event_kind::close, false,
                               std::vector<std::uint8_t>(payload + 2, payload + size), code, 0});
            return out;
        }
        if (control) {
            out.push_back(seen{op == 9 ? ws_event_kind::ping : ws_event_kind::pong, false,
                               std::vector<std::uint8_t>(payload, payload + size), 0, 0});
        } else {
            if (op != 0) {
                in_message = true;
                message_text = op == 1;
                message.clear();
                first_payload = pos + header;
            }
            message.insert(message.end(), payload, payload + size);
            if (fin) {
                in_message = false;
                if (message_text && !valid_utf8(message.data(), message.size()))
                    return fail(1007, client_errc::invalid_encoding);
                out.push_back(seen{ws_event_kind::message, message_text, message, 0, 0});
                message.clear();
            }
        }
        pos += header + size;
    }
}

// A small deterministic generator for piece sizes and moves.
struct xorshift {
    std::uint32_t s;
    std::uint32_t next() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return s;
    }
};

// The stream in one exactly-sized region.
std::vector<seen> parse_whole(const std::uint8_t* data, std::size_t size, std::size_t limit) {
    std::unique_ptr<std::uint8_t[]> region(new std::uint8_t[size == 0 ? 1 : size]);
    if (size != 0)
        std::memcpy(region.get(), data, size);
    ws_reader r(limit);
    std::vector<seen> out;
    for (;;) {
        const ws_event ev = r.next(region.get(), size);
        check_event(ev, r, size, limit);
        if (ev.kind == ws_event_kind::need_more)
            break;
        out.push_back(copy_event(ev, region.get()));
        if (ev.kind == ws_event_kind::fail)
            break;
        check(out.size() <= size); // every event consumes at least two bytes
    }
    return out;
}

// The stream in pieces, the caller's loop of the session: append, next() until need_more,
// release what is releasable; sometimes compact the region to the front of its buffer or
// copy it to a new one.
std::vector<seen> parse_in_pieces(const std::uint8_t* data, std::size_t size, std::size_t limit,
                                  xorshift& rng) {
    ws_reader r(limit);
    std::vector<seen> out;
    std::size_t cap = 64;
    std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[cap]);
    std::size_t start = 0; // the region is buf[start, end)
    std::size_t end = 0;
    std::size_t fed = 0;
    bool stopped = false; // closed or failed
    struct kept_message {
        std::size_t offset;
        std::vector<std::uint8_t> bytes;
    };
    std::vector<kept_message> kept;
    while (fed < size) {
        const std::uint32_t roll = rng.next();
        const std::size_t piece =
            std::min<std::size_t>(size - fed, 1 + (roll >> 8) % (std::size_t(1) << (roll % 12)));
        // Make room, or move the region anyway.
        const std::size_t live = end - start;
        const unsigned move = (roll >> 4) % 8;
        if (end + piece > cap || move == 0) {
            // A new buffer, exactly as large as needed (heap redzones follow it).
            const std::size_t new_cap = live + piece;
            std::unique_ptr<std::uint8_t[]> fresh(new std::uint8_t[new_cap]);
            std::memcpy(fresh.get(), buf.get() + start, live);
            buf = std::move(fresh);
            cap = new_cap;
            start = 0;
            end = live;
        } else if (move == 1 && start != 0) {
            std::memmove(buf.get(), buf.get() + start, live);
            start = 0;
            end = live;
        }
        std::memcpy(buf.get() + end, data + fed, piece);
        end += piece;
        fed += piece;

        std::uint8_t* region = buf.get() + start;
        const std::size_t region_size = end - start;
        kept.clear();
        poison(buf.get(), start);
        poison(buf.get() + end, cap - end);
        for (std::size_t calls = 0;; ++calls) {
            check(calls <= region_size + 1);
            const ws_event ev = r.next(region, region_size);
            check_event(ev, r, region_size, limit);
            if (ev.kind == ws_event_kind::need_more) {
                if (stopped) {
                    check(r.wanted() == 0);
                } else {
                    check(r.wanted() > region_size);
                    check(r.wanted() - r.releasable() <= limit + ws_reader::max_fragment_overhead +
                                                             atomcloud::detail::ws_max_header_size);
                }
                break;
            }
            if (stopped) {
                // After a failure only the same failure; after a close only need_more.
                check(ev.kind == ws_event_kind::fail && !out.empty() &&
                      out.back() == copy_event(ev, region));
                break;
            }
            out.push_back(copy_event(ev, region));
            if (ev.kind == ws_event_kind::message)
                kept.push_back({ev.offset, out.back().payload});
            if (ev.kind == ws_event_kind::close || ev.kind == ws_event_kind::fail)
                stopped = true;
        }
        // Messages parsed earlier in this batch are still there.
        for (const auto& m : kept)
            check(std::equal(m.bytes.begin(), m.bytes.end(), region + m.offset));
        unpoison(buf.get(), start);
        unpoison(buf.get() + end, cap - end);

        const std::size_t n = r.releasable();
        check(n <= region_size);
        r.release(n);
        start += n;
    }
    return out;
}

void check_mask(const std::uint8_t* data, std::size_t size, std::uint32_t seed) {
    const std::array<std::uint8_t, 4> key{
        static_cast<std::uint8_t>(seed), static_cast<std::uint8_t>(seed >> 8),
        static_cast<std::uint8_t>(seed >> 16), static_cast<std::uint8_t>(seed >> 24)};
    const std::size_t key_offset = seed % 7;
    std::vector<std::uint8_t> masked(data, data + size);
    atomcloud::detail::ws_mask(masked.data(), size, key, key_offset);
    for (std::size_t i = 0; i < size; ++i)
        check(masked[i] == (data[i] ^ key[(key_offset + i) % 4]));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3)
        return 0;
    static constexpr std::size_t limits[] = {0, 1, 40, 125, 126, 1000, 65536, 1 << 20};
    const std::size_t limit = limits[data[0] % 8];
    const std::uint32_t seed = (std::uint32_t(data[1]) << 8 | data[2]) * 2654435761u | 1;
    const std::uint8_t* stream = data + 3;
    const std::size_t stream_size = size - 3;

    const std::vector<seen> whole = parse_whole(stream, stream_size, limit);
    xorshift rng{seed};
    const std::vector<seen> pieces = parse_in_pieces(stream, stream_size, limit, rng);
    check(whole == pieces);
    check(whole == reference(stream, stream_size, limit));
    check_mask(stream, stream_size, seed);
    return 0;
}
