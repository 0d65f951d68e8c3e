// Payload helpers: the history API's hex text, GBK text, heartbeat detection.
//
// Device payloads are raw bytes. Chinese text from devices is usually GBK-encoded
// ("D5 FD B5 E3 ..." is 正点...), so nothing here assumes UTF-8 unless asked to.
#ifndef ATOMCLOUD_PAYLOAD_HPP
#define ATOMCLOUD_PAYLOAD_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/detail/ascii.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/error.hpp>

#include <string>
#include <string_view>

namespace atomcloud {

/// The value of the hex digit `c` (0-9, a-f, A-F), or -1 for any other character.
constexpr int hex_digit_value(char c) noexcept {
    return detail::hex_value(c);
}

/// The hex digit (lower case unless `upper_case`) of the low four bits of `v`.
constexpr char hex_digit(unsigned v, bool upper_case = false) noexcept {
    return detail::hex_digit(v, upper_case);
}

/// Formats bytes as the history API does: upper-case hex pairs separated by single spaces,
/// e.g. "41 4C 49". Empty input gives an empty string.
ATOMCLOUD_DECL std::string to_hex_packet(bytes_view data);

/// Appends the to_hex_packet() form of `data` to `out` (reusing its capacity).
ATOMCLOUD_DECL void append_hex_packet(bytes_view data, std::string& out);

/// Parses hex text such as "41 4C 49" into bytes.
///
/// Tolerant of lower case and of any amount of white space (spaces, tabs, line breaks)
/// between byte groups; a group may hold several pairs ("414C 49" is three bytes).
/// Strict otherwise: on a character that is neither a hex digit nor white space sets
/// ec to client_errc::invalid_hex, on a group of odd length to client_errc::odd_hex_digits,
/// and returns an empty vector.
ATOMCLOUD_DECL bytes parse_hex_packet(std::string_view text, error_code& ec);

/// As above; throws atomcloud::error instead.
ATOMCLOUD_DECL bytes parse_hex_packet(std::string_view text);

/// Decodes GBK text as UTF-8. Bytes that are not valid GBK become U+FFFD (the
/// replacement character), so the result is always valid UTF-8 and nothing throws.
ATOMCLOUD_DECL std::string gbk_to_utf8(bytes_view gbk);

/// Strict GBK -> UTF-8: invalid or truncated GBK sets ec to client_errc::invalid_encoding
/// and returns an empty string.
ATOMCLOUD_DECL std::string gbk_to_utf8(bytes_view gbk, error_code& ec);

/// Encodes UTF-8 text as GBK. Invalid UTF-8, or a character GBK cannot represent, sets
/// ec to client_errc::invalid_encoding and returns an empty vector.
ATOMCLOUD_DECL bytes utf8_to_gbk(std::string_view utf8, error_code& ec);

/// As above; throws atomcloud::error instead.
ATOMCLOUD_DECL bytes utf8_to_gbk(std::string_view utf8);

/// True if `text` is valid UTF-8.
ATOMCLOUD_DECL bool is_valid_utf8(std::string_view text) noexcept;

/// The modules' default heartbeat payload, sent about once a minute.
inline constexpr std::string_view default_heartbeat = "ALIENTEK-HRTDT";

/// True if `payload` is exactly the heartbeat (the default one unless the devices were
/// configured with another).
inline bool is_heartbeat(bytes_view payload,
                         std::string_view heartbeat = default_heartbeat) noexcept {
    return as_chars(payload) == heartbeat;
}

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/payload.ipp>
#endif

#endif
