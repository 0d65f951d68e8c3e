// Byte buffers: device payloads are raw bytes (often GBK text), never assumed UTF-8.
#ifndef ATOMCLOUD_BYTES_HPP
#define ATOMCLOUD_BYTES_HPP

#include <boost/core/span.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud {

/// An owned byte sequence.
using bytes = std::vector<std::uint8_t>;

/// A non-owning view of bytes.
using bytes_view = boost::span<const std::uint8_t>;

/// Views the characters of a string as bytes (no copy).
inline bytes_view as_bytes(std::string_view text) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

/// Views bytes as characters (no copy, no validation).
inline std::string_view as_chars(bytes_view data) noexcept {
    return {reinterpret_cast<const char*>(data.data()), data.size()};
}

/// Copies the characters of a string into an owned byte sequence.
inline bytes to_bytes(std::string_view text) {
    auto v = as_bytes(text);
    return bytes(v.begin(), v.end());
}

/// Compares two byte sequences.
inline bool equal_bytes(bytes_view a, bytes_view b) noexcept {
    return as_chars(a) == as_chars(b);
}

} // namespace atomcloud

#endif
