#ifndef ATOMCLOUD_IMPL_URL_IPP
#define ATOMCLOUD_IMPL_URL_IPP

#include <atomcloud/detail/url.hpp>

namespace atomcloud::detail {

ATOMCLOUD_DECL bool split_authority(std::string_view authority, std::string& host,
                                    std::string_view& port) {
    port = {};
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos || close == 1)
            return false;
        host = std::string(authority.substr(1, close - 1));
        const std::string_view after = authority.substr(close + 1);
        if (after.empty())
            return true;
        if (after.front() != ':')
            return false;
        port = after.substr(1);
        return !port.empty();
    }
    const std::size_t colon = authority.find(':');
    host = std::string(authority.substr(0, colon));
    if (colon == std::string_view::npos)
        return true;
    port = authority.substr(colon + 1);
    return !port.empty();
}

ATOMCLOUD_DECL std::string canonical_port(std::string_view text) {
    if (text.empty() || text.size() > 5)
        return {};
    unsigned value = 0;
    for (char c : text) {
        if (!ascii_digit(c))
            return {};
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value == 0 || value > 65535 ? std::string() : std::to_string(value);
}

ATOMCLOUD_DECL std::string base_url::host_header() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != "443")
        out += ":" + port;
    return out;
}

ATOMCLOUD_DECL bool base_url::host_is_ip() const noexcept {
    if (host.find(':') != std::string::npos)
        return true; // IPv6 literal
    if (host.empty())
        return false;
    for (char c : host)
        if (!(ascii_digit(c) || c == '.'))
            return false;
    return true;
}

ATOMCLOUD_DECL std::optional<base_url> parse_base_url(std::string_view url, error_code& ec) {
    auto fail = [&ec]() -> std::optional<base_url> {
        ec = make_error_code(client_errc::invalid_base_url);
        return std::nullopt;
    };
    std::string_view rest;
    for (std::string_view scheme : {"https://", "wss://"}) {
        if (url.size() >= scheme.size()) {
            bool same = true;
            for (std::size_t i = 0; i < scheme.size(); ++i)
                if (ascii_lower(url[i]) != scheme[i])
                    same = false;
            if (same) {
                rest = url.substr(scheme.size());
                break;
            }
        }
    }
    if (rest.empty())
        return fail();
    if (rest.find_first_of("?#@ \t\r\n") != std::string_view::npos)
        return fail();

    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash);

    base_url out;
    std::string_view port;
    if (!split_authority(authority, out.host, port) || out.host.empty())
        return fail();
    out.port = port.empty() ? std::string("443") : canonical_port(port);
    if (out.port.empty())
        return fail();
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    out.path_prefix = std::string(path);
    ec = {};
    return out;
}

ATOMCLOUD_DECL std::string percent_encode(std::string_view text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (ascii_alnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out += ch;
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 0x0f];
        }
    }
    return out;
}

ATOMCLOUD_DECL bool is_valid_header_value(std::string_view value) noexcept {
    for (unsigned char c : value)
        if (c < 0x20 || c == 0x7F)
            return false;
    return true;
}

ATOMCLOUD_DECL error_code check_header_values(std::string_view token, std::string_view user_agent,
                                              std::string& what) {
    if (!is_valid_header_value(token)) {
        what = "config.token contains control characters";
        return client_errc::invalid_config;
    }
    if (!is_valid_header_value(user_agent)) {
        what = "config.user_agent contains control characters";
        return client_errc::invalid_config;
    }
    return {};
}

} // namespace atomcloud::detail

#endif
