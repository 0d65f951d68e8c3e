#ifndef ATOMCLOUD_IMPL_PAYLOAD_IPP
#define ATOMCLOUD_IMPL_PAYLOAD_IPP

#include <atomcloud/detail/ascii.hpp>
#include <atomcloud/payload.hpp>

#include <cerrno>
#include <cstdint>
#include <iconv.h>

namespace atomcloud {
namespace detail {

inline bool is_hex_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// An iconv descriptor for one direction, closed on scope exit.
class iconv_handle {
public:
    iconv_handle(const char* to, const char* from) noexcept : cd_(::iconv_open(to, from)) {}
    ~iconv_handle() {
        if (ok())
            ::iconv_close(cd_);
    }
    iconv_handle(const iconv_handle&) = delete;
    iconv_handle& operator=(const iconv_handle&) = delete;
    bool ok() const noexcept { return cd_ != reinterpret_cast<iconv_t>(-1); }
    iconv_t get() const noexcept { return cd_; }

private:
    iconv_t cd_;
};

enum class on_invalid { fail, replace };

// Converts `in` with iconv. On invalid input either fails (returns false) or, when
// replacing, appends `replacement` and skips one input byte.
inline bool convert(const char* to, const char* from, std::string_view in, std::string& out,
                    on_invalid policy, std::string_view replacement) {
    iconv_handle cd(to, from);
    if (!cd.ok())
        return false;
    out.clear();
    out.resize(in.size() * 2 + 16);
    char* src = const_cast<char*>(in.data());
    std::size_t src_left = in.size();
    std::size_t used = 0;
    while (src_left > 0) {
        char* dst = out.data() + used;
        std::size_t dst_left = out.size() - used;
        const std::size_t r = ::iconv(cd.get(), &src, &src_left, &dst, &dst_left);
        used = out.size() - dst_left;
        if (r != static_cast<std::size_t>(-1))
            break;
        if (errno == E2BIG) {
            out.resize(out.size() * 2);
            continue;
        }
        // EILSEQ (invalid sequence) or EINVAL (truncated sequence at the end).
        if (policy == on_invalid::fail)
            return false;
        out.resize(used);
        out += replacement;
        used = out.size();
        out.resize(used + src_left * 2 + 16);
        ++src;
        --src_left;
        ::iconv(cd.get(), nullptr, nullptr, nullptr, nullptr); // reset the shift state
    }
    // Flush any shift state (none for these encodings, but iconv asks for it).
    for (;;) {
        char* dst = out.data() + used;
        std::size_t dst_left = out.size() - used;
        if (::iconv(cd.get(), nullptr, nullptr, &dst, &dst_left) != static_cast<std::size_t>(-1)) {
            used = out.size() - dst_left;
            break;
        }
        if (errno != E2BIG)
            return false;
        out.resize(out.size() * 2 + 16);
    }
    out.resize(used);
    return true;
}

} // namespace detail

ATOMCLOUD_DECL void append_hex_packet(bytes_view data, std::string& out) {
    if (data.empty())
        return;
    const bool separate = !out.empty();
    out.reserve(out.size() + data.size() * 3 + (separate ? 1 : 0));
    bool first = !separate;
    for (std::uint8_t b : data) {
        if (!first)
            out += ' ';
        first = false;
        out += detail::hex_digit(b >> 4, true);
        out += detail::hex_digit(b, true);
    }
}

ATOMCLOUD_DECL std::string to_hex_packet(bytes_view data) {
    std::string out;
    append_hex_packet(data, out);
    return out;
}

ATOMCLOUD_DECL bytes parse_hex_packet(std::string_view text, error_code& ec) {
    bytes out;
    out.reserve(text.size() / 2);
    std::size_t group = 0; // digits in the current group
    int high = 0;
    for (char c : text) {
        if (detail::is_hex_space(c)) {
            if (group % 2 != 0) {
                ec = make_error_code(client_errc::odd_hex_digits);
                return {};
            }
            group = 0;
            continue;
        }
        const int v = detail::hex_value(c);
        if (v < 0) {
            ec = make_error_code(client_errc::invalid_hex);
            return {};
        }
        if (group % 2 == 0)
            high = v;
        else
            out.push_back(static_cast<std::uint8_t>(high << 4 | v));
        ++group;
    }
    if (group % 2 != 0) {
        ec = make_error_code(client_errc::odd_hex_digits);
        return {};
    }
    ec = {};
    return out;
}

ATOMCLOUD_DECL bytes parse_hex_packet(std::string_view text) {
    error_code ec;
    bytes out = parse_hex_packet(text, ec);
    throw_on_error(ec);
    return out;
}

ATOMCLOUD_DECL std::string gbk_to_utf8(bytes_view gbk) {
    std::string out;
    if (!detail::convert("UTF-8", "GBK", as_chars(gbk), out, detail::on_invalid::replace,
                         "\xEF\xBF\xBD"))
        out.clear();
    return out;
}

ATOMCLOUD_DECL std::string gbk_to_utf8(bytes_view gbk, error_code& ec) {
    std::string out;
    if (!detail::convert("UTF-8", "GBK", as_chars(gbk), out, detail::on_invalid::fail, {})) {
        ec = make_error_code(client_errc::invalid_encoding);
        return {};
    }
    ec = {};
    return out;
}

ATOMCLOUD_DECL bytes utf8_to_gbk(std::string_view utf8, error_code& ec) {
    std::string out;
    if (!is_valid_utf8(utf8) ||
        !detail::convert("GBK", "UTF-8", utf8, out, detail::on_invalid::fail, {})) {
        ec = make_error_code(client_errc::invalid_encoding);
        return {};
    }
    ec = {};
    return to_bytes(out);
}

ATOMCLOUD_DECL bytes utf8_to_gbk(std::string_view utf8) {
    error_code ec;
    bytes out = utf8_to_gbk(utf8, ec);
    throw_on_error(ec);
    return out;
}

ATOMCLOUD_DECL bool is_valid_utf8(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const unsigned char c = *p;
        std::size_t n;
        std::uint32_t cp;
        if (c < 0x80) {
            ++p;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (static_cast<std::size_t>(end - p) <= n)
            return false;
        for (std::size_t i = 1; i <= n; ++i) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        // Overlong forms, surrogates and values beyond U+10FFFF are invalid.
        static constexpr std::uint32_t min_for_length[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_for_length[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

} // namespace atomcloud

#endif
