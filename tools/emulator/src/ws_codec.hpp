// The server's side of RFC 6455 without I/O: the handshake's accept key, the frames the
// server writes (unmasked), and a reader that turns the client's bytes into messages and
// control frames, enforcing masking, the control-frame rules and a message size limit.
// Written for the emulator so that its WebSocket faults can act on every byte.
#ifndef ATOMCLOUD_EMULATOR_SRC_WS_CODEC_HPP
#define ATOMCLOUD_EMULATOR_SRC_WS_CODEC_HPP

#include <atomcloud/bytes.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace atomcloud::emulator::detail::ws {

enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

/// Close codes the emulator sends.
inline constexpr std::uint16_t close_normal = 1000;
inline constexpr std::uint16_t close_protocol_error = 1002;
inline constexpr std::uint16_t close_policy_violation = 1008;

/// Sec-WebSocket-Accept for the client's Sec-WebSocket-Key. Throws std::runtime_error if
/// OpenSSL fails.
std::string accept_key(std::string_view client_key);

/// Whether `key` is a valid Sec-WebSocket-Key: 16 bytes in base64 (24 characters).
bool valid_client_key(std::string_view key) noexcept;

/// Appends one final, unmasked frame.
void append_frame(opcode op, bytes_view payload, bytes& out);

/// A close frame's payload: the code and `reason`, cut to 123 bytes on a UTF-8 boundary.
bytes close_payload(std::uint16_t code, std::string_view reason);

/// What the reader found next.
struct event {
    enum class kind {
        need_more, ///< feed more bytes
        message,   ///< a complete binary message in `payload`
        ping,      ///< `payload` is the ping's
        pong,
        close, ///< the client's close frame: `code` (1005 when none), `reason`
        error, ///< the client broke the protocol: close with `code` and `reason`
    };
    kind what = kind::need_more;
    bytes payload;
    std::uint16_t code = 0;
    std::string reason;
};

/// Client frames to messages. Text messages and messages over the limit are errors
/// (policy violation), as the platform's protocol is binary and bounded.
class reader {
public:
    explicit reader(std::size_t max_message) noexcept : max_message_(max_message) {}

    /// Appends received bytes.
    void feed(bytes_view data) { in_.insert(in_.end(), data.begin(), data.end()); }

    /// The next event from the bytes fed so far. After an error, every call returns it
    /// again.
    event next();

private:
    event fail(std::uint16_t code, std::string reason);
    event on_frame(opcode op, bool fin, bytes payload);

    std::size_t max_message_;
    bytes in_;
    std::size_t pos_ = 0; // bytes of in_ already consumed
    bytes message_;       // the data frames of the message in progress
    bool in_message_ = false;
    bool failed_ = false;
    event failure_;
};

} // namespace atomcloud::emulator::detail::ws

#endif
