#include "ws_codec.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace atomcloud::emulator::detail::ws {

std::string accept_key(std::string_view client_key) {
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    const std::string text = std::string(client_key) + std::string(guid);
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int n = 0;
    if (EVP_Digest(text.data(), text.size(), digest.data(), &n, EVP_sha1(), nullptr) != 1)
        throw std::runtime_error("SHA-1 failed");
    std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> b64{};
    const int len = EVP_EncodeBlock(b64.data(), digest.data(), static_cast<int>(n));
    return std::string(reinterpret_cast<const char*>(b64.data()), static_cast<std::size_t>(len));
}

bool valid_client_key(std::string_view key) noexcept {
    if (key.size() != 24 || key.substr(22) != "==")
        return false;
    for (char c : key.substr(0, 22))
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    return true;
}

void append_frame(opcode op, bytes_view payload, bytes& out) {
    out.push_back(static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op)));
    const std::uint64_t n = payload.size();
    if (n < 126) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else if (n <= 0xFFFF) {
        out.push_back(126);
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n));
    } else {
        out.push_back(127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<std::uint8_t>(n >> shift));
    }
    out.insert(out.end(), payload.begin(), payload.end());
}

bytes close_payload(std::uint16_t code, std::string_view reason) {
    if (reason.size() > 123) {
        std::size_t n = 123; // a close frame's payload is at most 125 bytes
        while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80)
            --n;
        reason = reason.substr(0, n);
    }
    // Sized once and filled: growing a two-byte vector trips GCC 12's -Warray-bounds at -O3.
    bytes out(2 + reason.size());
    out[0] = static_cast<std::uint8_t>(code >> 8);
    out[1] = static_cast<std::uint8_t>(code);
    std::copy(reason.begin(), reason.end(), out.begin() + 2);
    return out;
}

event reader::fail(std::uint16_t code, std::string reason) {
    failed_ = true;
    failure_ = {};
    failure_.what = event::kind::error;
    failure_.code = code;
    failure_.reason = std::move(reason);
    return failure_;
}

event reader::next() {
    for (;;) {
        if (failed_)
            return failure_;
        const std::uint8_t* p = in_.data() + pos_;
        const std::size_t avail = in_.size() - pos_;
        if (avail < 2)
            break;
        const bool fin = (p[0] & 0x80) != 0;
        const auto op = static_cast<opcode>(p[0] & 0x0F);
        const bool masked = (p[1] & 0x80) != 0;
        std::uint64_t len = p[1] & 0x7F;
        std::size_t header = 2;
        if ((p[0] & 0x70) != 0)
            return fail(close_protocol_error, "reserved bits set (no extension was negotiated)");
        if (!masked)
            return fail(close_protocol_error, "a client's frame must be masked");
        const bool control = (p[0] & 0x08) != 0;
        if (control && (!fin || len > 125))
            return fail(close_protocol_error, "a control frame must be final and short");
        if (len == 126 || len == 127) {
            const std::size_t width = len == 126 ? 2 : 8;
            if (avail < header + width)
                break;
            len = 0;
            for (std::size_t i = 0; i < width; ++i)
                len = (len << 8) | p[header + i];
            header += width;
        }
        const std::size_t limit = max_message_ - std::min(max_message_, message_.size());
        if (!control && len > limit)
            return fail(close_policy_violation, "message too large: the limit is " +
                                                    std::to_string(max_message_) + " bytes");
        if (avail < header + 4 + len)
            break;
        const std::uint8_t* mask = p + header;
        const std::uint8_t* data = mask + 4;
        bytes payload(data, data + len);
        for (std::size_t i = 0; i < payload.size(); ++i)
            payload[i] ^= mask[i % 4];
        pos_ += header + 4 + static_cast<std::size_t>(len);
        if (pos_ == in_.size()) {
            in_.clear();
            pos_ = 0;
        }
        auto e = on_frame(op, fin, std::move(payload));
        if (e.what != event::kind::need_more)
            return e;
    }
    if (pos_ > 4096 && pos_ * 2 > in_.size()) { // keep the buffer from growing
        in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(pos_));
        pos_ = 0;
    }
    return {};
}

event reader::on_frame(opcode op, bool fin, bytes payload) {
    event e;
    switch (op) {
    case opcode::ping:
    case opcode::pong:
        e.what = op == opcode::ping ? event::kind::ping : event::kind::pong;
        e.payload = std::move(payload);
        return e;
    case opcode::close:
        if (payload.size() == 1)
            return fail(close_protocol_error, "a close frame's payload cannot be one byte");
        e.what = event::kind::close;
        e.code = payload.empty() ? 1005 : static_cast<std::uint16_t>(payload[0] << 8 | payload[1]);
        if (payload.size() > 2)
            e.reason.assign(payload.begin() + 2, payload.end());
        return e;
    case opcode::text:
        return fail(close_policy_violation,
                    "text frames are not accepted: the protocol uses binary frames");
    case opcode::binary:
        if (in_message_)
            return fail(close_protocol_error, "a new message before the last one ended");
        in_message_ = true;
        message_.clear();
        break;
    case opcode::continuation:
        if (!in_message_)
            return fail(close_protocol_error, "a continuation frame outside a message");
        break;
    default:
        return fail(close_protocol_error, "unknown opcode");
    }
    message_.insert(message_.end(), payload.begin(), payload.end());
    if (!fin)
        return e;
    in_message_ = false;
    e.what = event::kind::message;
    e.payload = std::move(message_);
    message_.clear();
    return e;
}

} // namespace atomcloud::emulator::detail::ws
