// Locale-free character tests of the URL, hex and HTTP parsers. Internal.
#ifndef ATOMCLOUD_DETAIL_ASCII_HPP
#define ATOMCLOUD_DETAIL_ASCII_HPP

namespace atomcloud::detail {

inline bool ascii_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
inline bool ascii_alnum(char c) noexcept {
    return ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}
/// The value of a hex digit (either case), or -1.
inline int hex_value(char c) noexcept {
    if (ascii_digit(c))
        return c - '0';
    c = ascii_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

} // namespace atomcloud::detail

#endif
