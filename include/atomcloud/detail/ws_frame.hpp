// The client side of RFC 6455 framing, without sockets: a reader that parses the server's
// frames in place in the caller's receive buffer, and the pieces of the write side (frame
// header, masking, masking keys, close payload). Internal.
//
// The reader works on a "region": the bytes of the caller's buffer that it has not yet
// released. It keeps only offsets into the region, never pointers, so the caller may move
// the region's bytes to another buffer between calls. Each call of next() parses as far
// as the bytes allow and returns one event:
//
//   message        a whole text or binary message, viewed in place: region[offset, +size)
//   ping, pong     a control frame and its payload (valid until the next call or release)
//   close          the peer's close frame: status code and reason
//   need_more      the region ends inside a frame; wanted() says how many bytes it needs
//   fail           the peer broke the protocol; close_code is what we must answer with
//
// A fragmented message is made contiguous as it arrives: each continuation's payload is
// moved (towards the start of the region) to follow the payload received so far, so the
// final fragment completes the message at the position of the first one. Nothing is
// allocated, and the common case (an unfragmented binary message with a 7-bit length) is
// handled before anything else.
#ifndef ATOMCLOUD_DETAIL_WS_FRAME_HPP
#define ATOMCLOUD_DETAIL_WS_FRAME_HPP

#include <atomcloud/error.hpp>
#include <atomcloud/payload.hpp>

#include <openssl/rand.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace atomcloud::detail {

/// The opcodes of RFC 6455 5.2. Every other value is reserved.
enum class ws_opcode : std::uint8_t {
    continuation = 0,
    text = 1,
    binary = 2,
    close = 8,
    ping = 9,
    pong = 10,
};

/// What ws_reader::next() found.
enum class ws_event_kind : std::uint8_t { need_more, message, ping, pong, close, fail };

/// One result of ws_reader::next(). Offsets are relative to the start of the region.
struct ws_event {
    ws_event_kind kind = ws_event_kind::need_more;
    /// message: the opcode was text (the payload is valid UTF-8).
    bool text = false;
    /// message, ping, pong, close: the payload (for close, the reason text) is
    /// region[offset, offset + size).
    std::size_t offset = 0;
    std::size_t size = 0;
    /// close: the peer's status code (1005 when the close frame had no payload).
    /// fail: the code our close frame must carry (1002, 1007 or 1009).
    std::uint16_t close_code = 0;
    /// fail: client_errc::websocket_protocol_error, message_too_large or invalid_encoding.
    error_code ec;
};

/// Close status codes of RFC 6455 7.4.1 used by the reader.
inline constexpr std::uint16_t ws_close_normal = 1000;
inline constexpr std::uint16_t ws_close_protocol_error = 1002;
inline constexpr std::uint16_t ws_close_no_status = 1005;
inline constexpr std::uint16_t ws_close_invalid_payload = 1007;
inline constexpr std::uint16_t ws_close_too_big = 1009;

/// True for a status code a peer may put in a close frame: 1000-1003, 1007-1014 and
/// 3000-4999 (the rest is reserved, or only for local use such as 1005 and 1006).
constexpr bool ws_close_code_allowed(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/// Parses the frames a server sends, in place. See the file comment.
///
/// Protocol errors end the stream: after a `fail` every call of next() returns the same
/// fail, and after a `close` every call returns need_more, until reset().
class ws_reader {
public:
    /// Bytes that the frame headers of one fragmented message and the control frames
    /// between its fragments may take in the region, beyond max_message_size. A message
    /// whose frames need more fails with 1009; this bounds wanted() against a peer
    /// sending endless empty continuations or pings.
    static constexpr std::size_t max_fragment_overhead = 64 * 1024;

    /// `max_message_size` bounds the payload of one message (the sum of its fragments).
    /// Larger values than SIZE_MAX / 4 mean SIZE_MAX / 4, so offsets never overflow.
    explicit ws_reader(std::size_t max_message_size) noexcept
        : max_message_(max_message_size < SIZE_MAX / 4 ? max_message_size : SIZE_MAX / 4),
          max_span_(max_message_ + max_fragment_overhead) {}

    /// Parses the region's bytes from where the last call stopped and returns the next
    /// event. `region` is the first byte not released, `size` the number of valid bytes
    /// there (those parsed already and not released, then the new ones). Never reads or
    /// writes outside region[0, size); writes only when it moves a fragment's payload.
    ws_event next(std::uint8_t* region, std::size_t size) noexcept {
        if (state_ != state::open)
            return stopped();
        for (;;) {
            const std::size_t avail = size > pos_ ? size - pos_ : 0;
            if (avail < 2)
                return need_more(pos_ + 2);
            const std::uint8_t* h = region + pos_;
            const std::uint8_t b0 = h[0];
            const std::uint8_t b1 = h[1];

            // The common case: FIN + binary, unmasked, 7-bit length, whole, not fragmented.
            if (b0 == 0x82 && b1 < 126 && b1 <= max_message_ && !in_message_) {
                if (avail < 2u + b1)
                    return need_more(pos_ + 2 + b1);
                ws_event ev;
                ev.kind = ws_event_kind::message;
                ev.offset = pos_ + 2;
                ev.size = b1;
                pos_ += 2 + std::size_t(b1);
                need_ = pos_ + 2;
                return ev;
            }

            // Everything that two bytes can tell.
            const bool fin = (b0 & 0x80) != 0;
            const std::uint8_t op = b0 & 0x0F;
            const std::uint8_t len7 = b1 & 0x7F;
            const bool control = (op & 0x08) != 0;
            if ((b0 & 0x70) != 0)
                return fail(ws_close_protocol_error); // RSV1-3: no extension was negotiated
            if ((b1 & 0x80) != 0)
                return fail(ws_close_protocol_error); // a server never masks (5.1)
            if (control) {
                if (op > 10)
                    return fail(ws_close_protocol_error); // reserved control opcode
                if (!fin || len7 > 125)
                    return fail(ws_close_protocol_error); // control frames are small, whole
            } else if (op > 2) {
                return fail(ws_close_protocol_error); // reserved data opcode
            } else if (op == 0 ? !in_message_ : in_message_) {
                // a continuation of nothing, or a new message inside a fragmented one
                return fail(ws_close_protocol_error);
            }

            // The length.
            std::size_t header = 2;
            std::uint64_t len = len7;
            if (len7 == 126) {
                header = 4;
                if (avail < header)
                    return need_more(pos_ + header);
                len = std::uint64_t(h[2]) << 8 | h[3];
                if (len < 126)
                    return fail(ws_close_protocol_error); // not the minimal encoding
            } else if (len7 == 127) {
                header = 10;
                if (avail < header)
                    return need_more(pos_ + header);
                len = load_be64(h + 2);
                if ((len >> 63) != 0 || len < 65536)
                    return fail(ws_close_protocol_error);
            }

            // Size limits, before any payload is buffered.
            const std::size_t done = in_message_ ? msg_size_ : 0;
            if (!control && len > max_message_ - done)
                return fail(ws_close_too_big);
            const std::size_t frame_size = header + std::size_t(len);
            if (in_message_ && pos_ - msg_start_ + frame_size > max_span_)
                return fail(ws_close_too_big);
            if (avail < frame_size)
                return need_more(pos_ + frame_size);

            const std::size_t payload = pos_ + header;
            const std::size_t n = std::size_t(len);
            if (control) {
                pos_ += frame_size;
                need_ = pos_ + 2;
                if (op == 8)
                    return close(region + payload, payload, n);
                ws_event ev;
                ev.kind = op == 9 ? ws_event_kind::ping : ws_event_kind::pong;
                ev.offset = payload;
                ev.size = n;
                return ev;
            }
            if (op != 0) {
                if (fin) {
                    // A whole message in one frame (text, or a form the fast path skips).
                    pos_ += frame_size;
                    need_ = pos_ + 2;
                    return message(region, payload, n, op == 1);
                }
                in_message_ = true;
                msg_text_ = op == 1;
                msg_start_ = payload;
                msg_size_ = n;
                pos_ += frame_size;
                continue;
            }
            // A continuation: append its payload to the message so far.
            if (n != 0 && msg_start_ + msg_size_ != payload)
                std::memmove(region + msg_start_ + msg_size_, region + payload, n);
            msg_size_ += n;
            pos_ += frame_size;
            if (fin) {
                in_message_ = false;
                need_ = pos_ + 2;
                return message(region, msg_start_, msg_size_, msg_text_);
            }
        }
    }

    /// Leading bytes of the region the reader no longer needs: up to the end of the last
    /// frame parsed, or, while a fragmented message is in progress, up to its first
    /// payload byte.
    std::size_t releasable() const noexcept { return in_message_ ? msg_start_ : pos_; }

    /// The caller drops the first `n` bytes of the region (n <= releasable()); every
    /// offset shifts by n. The reader never touches released bytes again.
    void release(std::size_t n) noexcept {
        pos_ -= n;
        need_ -= n;
        if (in_message_)
            msg_start_ -= n;
    }

    /// How many region bytes next() needs before it can make progress: the whole header
    /// while it is incomplete, then the header and the payload. 0 once the stream ended
    /// (a close or a failure).
    std::size_t wanted() const noexcept { return state_ == state::open ? need_ : 0; }

    /// Starts a new stream (after a reconnection), with an empty region.
    void reset() noexcept {
        state_ = state::open;
        in_message_ = false;
        msg_text_ = false;
        pos_ = 0;
        need_ = 2;
        msg_start_ = 0;
        msg_size_ = 0;
        failure_ = ws_event();
    }

private:
    enum class state : std::uint8_t { open, closed, failed };

    static std::uint64_t load_be64(const std::uint8_t* p) noexcept {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) // unrolled by the compiler into a load and a byte swap
            v = v << 8 | p[i];
        return v;
    }

    static bool valid_utf8(const std::uint8_t* p, std::size_t n) noexcept {
        return is_valid_utf8(std::string_view(reinterpret_cast<const char*>(p), n));
    }

    ws_event need_more(std::size_t bytes) noexcept {
        need_ = bytes;
        return ws_event();
    }

    ws_event stopped() const noexcept { return state_ == state::failed ? failure_ : ws_event(); }

    ws_event fail(std::uint16_t code) noexcept {
        state_ = state::failed;
        need_ = pos_; // keeps release() in range; wanted() says 0 from now on
        failure_.kind = ws_event_kind::fail;
        failure_.close_code = code;
        failure_.ec = code == ws_close_too_big           ? client_errc::message_too_large
                      : code == ws_close_invalid_payload ? client_errc::invalid_encoding
                                                         : client_errc::websocket_protocol_error;
        return failure_;
    }

    ws_event message(const std::uint8_t* region, std::size_t offset, std::size_t n,
                     bool text) noexcept {
        if (text && !valid_utf8(region + offset, n))
            return fail(ws_close_invalid_payload);
        ws_event ev;
        ev.kind = ws_event_kind::message;
        ev.text = text;
        ev.offset = offset;
        ev.size = n;
        return ev;
    }

    ws_event close(const std::uint8_t* p, std::size_t offset, std::size_t n) noexcept {
        ws_event ev;
        ev.kind = ws_event_kind::close;
        if (n == 0) {
            ev.close_code = ws_close_no_status;
            ev.offset = offset;
        } else {
            if (n == 1)
                return fail(ws_close_protocol_error);
            const auto code = static_cast<std::uint16_t>(p[0] << 8 | p[1]);
            if (!ws_close_code_allowed(code))
                return fail(ws_close_protocol_error);
            if (!valid_utf8(p + 2, n - 2))
                return fail(ws_close_invalid_payload);
            ev.close_code = code;
            ev.offset = offset + 2;
            ev.size = n - 2;
        }
        // The peer sends nothing after its close; a message in progress is abandoned.
        state_ = state::closed;
        in_message_ = false;
        return ev;
    }

    std::size_t max_message_;
    std::size_t max_span_; // region bytes one message's frames may span
    std::size_t pos_ = 0;  // the next frame header
    std::size_t need_ = 2;
    std::size_t msg_start_ = 0; // fragmented message: its first payload byte
    std::size_t msg_size_ = 0;  // fragmented message: payload bytes so far
    state state_ = state::open;
    bool in_message_ = false;
    bool msg_text_ = false;
    ws_event failure_;
};

// ------------------------------------------------------------------ writing

/// The largest client frame header: 2 bytes, a 64-bit length, the masking key.
inline constexpr std::size_t ws_max_header_size = 14;

/// Writes the header of a client frame (FIN set, masked with `key`, the shortest length
/// encoding) to `out`, which has room for ws_max_header_size bytes. Returns its size.
inline std::size_t ws_write_header(std::uint8_t* out, ws_opcode op, std::uint64_t payload_size,
                                   std::array<std::uint8_t, 4> key) noexcept {
    out[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
    std::size_t n;
    if (payload_size < 126) {
        out[1] = static_cast<std::uint8_t>(0x80 | payload_size);
        n = 2;
    } else if (payload_size <= 0xFFFF) {
        out[1] = 0x80 | 126;
        out[2] = static_cast<std::uint8_t>(payload_size >> 8);
        out[3] = static_cast<std::uint8_t>(payload_size);
        n = 4;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; ++i)
            out[2 + i] = static_cast<std::uint8_t>(payload_size >> (56 - 8 * i));
        n = 10;
    }
    std::memcpy(out + n, key.data(), 4);
    return n + 4;
}

/// XORs `n` bytes with the masking key (RFC 6455 5.3). `key_offset` is the index in the
/// payload of data[0], so a payload can be masked in pieces.
inline void ws_mask(std::uint8_t* data, std::size_t n, std::array<std::uint8_t, 4> key,
                    std::size_t key_offset = 0) noexcept {
    std::uint8_t k[8];
    for (std::size_t i = 0; i < 8; ++i)
        k[i] = key[(key_offset + i) & 3];
    std::size_t i = 0;
    if (n >= 8) {
        std::uint64_t word;
        std::memcpy(&word, k, 8);
        for (; i + 8 <= n; i += 8) {
            std::uint64_t v;
            std::memcpy(&v, data + i, 8);
            v ^= word;
            std::memcpy(data + i, &v, 8);
        }
    }
    for (; i < n; ++i)
        data[i] ^= k[i & 7];
}

/// Masking keys a proxy cannot predict (RFC 6455 10.3): drawn from OpenSSL's random
/// generator a pool at a time, four bytes per frame. Not thread-safe.
class ws_mask_source {
public:
    /// The key for the next frame. Throws std::runtime_error if the random generator
    /// fails (it does not on a working system).
    std::array<std::uint8_t, 4> next() {
        if (used_ == pool_.size()) {
            if (RAND_bytes(pool_.data(), static_cast<int>(pool_.size())) != 1)
                throw std::runtime_error("atomcloud: RAND_bytes failed");
            used_ = 0;
        }
        std::array<std::uint8_t, 4> key;
        std::memcpy(key.data(), pool_.data() + used_, 4);
        used_ += 4;
        return key;
    }

private:
    std::array<std::uint8_t, 256> pool_{};
    std::size_t used_ = 256; // the pool is filled on first use
};

/// Writes the payload of a close frame to `out` (room for 125 bytes): `code` big-endian,
/// then `reason` cut to 123 bytes at a UTF-8 character boundary. Returns its size.
inline std::size_t ws_close_payload(std::uint8_t* out, std::uint16_t code,
                                    std::string_view reason) noexcept {
    out[0] = static_cast<std::uint8_t>(code >> 8);
    out[1] = static_cast<std::uint8_t>(code);
    std::size_t n = reason.size();
    if (n > 123) {
        n = 123;
        // reason[n] is the first byte left out: if it continues a character, so does the
        // cut, and the character goes too.
        while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80)
            --n;
    }
    if (n != 0) // (an empty view's data() may be null)
        std::memcpy(out + 2, reason.data(), n);
    return n + 2;
}

} // namespace atomcloud::detail

#endif
