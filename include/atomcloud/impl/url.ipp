#ifndef ATOMCLOUD_IMPL_URL_IPP
#define ATOMCLOUD_IMPL_URL_IPP

#include <atomcloud/detail/ascii.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/logger.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>
#include <cstdint>

namespace atomcloud::detail {

ATOMCLOUD_DECL std::string canonical_port(std::string_view text) {
    std::uint16_t value = 0;
    const char* const last = text.data() + text.size();
    // Digits only: from_chars alone would take a leading '-'.
    if (text.empty() || text.size() > 5 || !ascii_digit(text.front()))
        return {};
    const auto [end, err] = std::from_chars(text.data(), last, value);
    if (err != std::errc() || end != last || value == 0)
        return {};
    return std::to_string(value);
}

ATOMCLOUD_DECL std::string base_url::host_header() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != "443")
        out += ":" + port;
    return out;
}

ATOMCLOUD_DECL std::string base_url::authority() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
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
    namespace urls = boost::urls;
    auto fail = [&ec]() -> std::optional<base_url> {
        ec = make_error_code(client_errc::invalid_base_url);
        return std::nullopt;
    };
    const auto parsed = urls::parse_uri(urls::string_view(url.data(), url.size()));
    if (!parsed)
        return fail();
    const urls::url_view& u = *parsed;
    if (u.scheme_id() != urls::scheme::https && u.scheme_id() != urls::scheme::wss)
        return fail();
    if (u.has_userinfo() || u.has_query() || u.has_fragment())
        return fail();
    base_url out;
    switch (u.host_type()) {
    case urls::host_type::name:
        // A percent-encoded name would be decoded differently by DNS, SNI and the Host
        // header: refused.
        if (u.encoded_host().find('%') != urls::string_view::npos)
            return fail();
        out.host = std::string(u.encoded_host());
        break;
    case urls::host_type::ipv4:
    case urls::host_type::ipv6:
        out.host = std::string(u.encoded_host_address());
        break;
    default: // none, IPvFuture
        return fail();
    }
    if (out.host.empty())
        return fail();
    if (u.has_port()) {
        const auto port = u.port();
        out.port = canonical_port(std::string_view(port.data(), port.size()));
        if (out.port.empty())
            return fail();
    } else {
        out.port = "443";
    }
    std::string_view path(u.encoded_path().data(), u.encoded_path().size());
    // After an authority the path is empty or starts with '/'; Boost.URL 1.81 lets a port
    // end at its first non-digit ("host:12a"), the rest becoming such a path.
    if (!path.empty() && path.front() != '/')
        return fail();
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    out.path_prefix = std::string(path);
    ec = {};
    return out;
}

ATOMCLOUD_DECL std::string url_for_display(std::string_view url, std::string_view token) {
    std::string shown(url);
    const auto scheme = shown.find("://");
    const auto host_start = scheme == std::string::npos ? 0 : scheme + 3;
    const auto host_end = shown.find_first_of("/?#", host_start);
    const auto at = shown.rfind('@', host_end == std::string::npos ? shown.size() : host_end);
    if (at != std::string::npos && at >= host_start)
        shown.replace(host_start, at - host_start, "***");
    return redact(std::move(shown), token);
}

ATOMCLOUD_DECL std::string percent_encode(std::string_view text) {
    return boost::urls::encode(boost::urls::string_view(text.data(), text.size()),
                               boost::urls::unreserved_chars);
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
