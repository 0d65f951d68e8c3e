// Locale-free character tests of the URL, hex and HTTP parsers, and the one table of hex
// digits (payload.hpp's hex_digit and hex_digit_value are their public face). Internal.
#ifndef ATOMCLOUD_DETAIL_ASCII_HPP
#define ATOMCLOUD_DETAIL_ASCII_HPP

namespace atomcloud::detail {

constexpr bool ascii_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
constexpr bool ascii_alnum(char c) noexcept {
    return ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}
/// The value of a hex digit (either case), or -1.
constexpr int hex_value(char c) noexcept {
    if (ascii_digit(c))
        return c - '0';
    c = ascii_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
/// The hex digit of the low four bits of `v`.
constexpr char hex_digit(unsigned v, bool upper_case = false) noexcept {
    return (upper_case ? "0123456789ABCDEF" : "0123456789abcdef")[v & 0x0f];
}

} // namespace atomcloud::detail

#endif
