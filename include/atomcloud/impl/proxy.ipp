#ifndef ATOMCLOUD_IMPL_PROXY_IPP
#define ATOMCLOUD_IMPL_PROXY_IPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/proxy.hpp>
#include <atomcloud/detail/ws_handshake.hpp>

#include <algorithm>

namespace atomcloud::detail {

namespace proxy_impl {

inline std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

// Percent-decoding; false on a bad escape.
inline bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size())
            return false;
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0)
            return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return true;
}

inline bool host_char(char c) noexcept {
    return ascii_alnum(c) || c == '-' || c == '.' || c == '_';
}

// Splits host[:port] or [v6][:port] (split_authority) and checks the host's characters;
// false when malformed. `port` is empty when absent.
inline bool split_host_port(std::string_view s, std::string& host, std::string_view& port) {
    if (!split_authority(s, host, port))
        return false;
    if (!s.empty() && s.front() == '[')
        return std::all_of(host.begin(), host.end(),
                           [](char c) { return hex_value(c) >= 0 || c == ':' || c == '.'; });
    return !host.empty() && std::all_of(host.begin(), host.end(), host_char);
}

} // namespace proxy_impl

ATOMCLOUD_DECL std::string proxy_endpoint::address() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

ATOMCLOUD_DECL std::optional<proxy_endpoint> parse_proxy_url(std::string_view url, error_code& ec,
                                                             std::string& what) {
    using namespace proxy_impl;
    ec = {};
    auto fail = [&](std::string why) -> std::optional<proxy_endpoint> {
        ec = make_error_code(client_errc::invalid_config);
        what = "config.proxy: " + std::move(why);
        return std::nullopt;
    };
    if (url.empty())
        return std::nullopt;
    std::string_view rest = url;
    if (const std::size_t sep = rest.find("://"); sep != std::string_view::npos) {
        const std::string_view scheme = rest.substr(0, sep);
        if (iequals(scheme, "https"))
            return fail("https:// proxies (TLS to the proxy) are not supported; use http://");
        if (!iequals(scheme, "http"))
            return fail("only http:// proxies are supported (HTTP CONNECT)");
        rest.remove_prefix(sep + 3);
    }
    // The credentials may hold any of the delimiters below but '@' (percent-encoded).
    std::string_view userinfo;
    const std::size_t at = rest.rfind('@');
    if (at != std::string_view::npos) {
        userinfo = rest.substr(0, at);
        rest.remove_prefix(at + 1);
    }
    const std::size_t end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    if (end != std::string_view::npos && rest.substr(end) != "/")
        return fail("expected http://[user:password@]host[:port], without a path, query or "
                    "fragment");
    if (authority.find('@') != std::string_view::npos)
        return fail("malformed credentials");
    proxy_endpoint out;
    std::string_view port;
    if (!split_host_port(authority, out.host, port))
        return fail("expected http://[user:password@]host[:port]");
    if (port.empty()) {
        out.port = "80";
    } else {
        out.port = canonical_port(port);
        if (out.port.empty())
            return fail("the port must be a number from 1 to 65535");
    }
    if (at != std::string_view::npos) {
        const std::size_t colon = userinfo.find(':');
        std::string user, password;
        if (!percent_decode(userinfo.substr(0, colon), user) ||
            (colon != std::string_view::npos &&
             !percent_decode(userinfo.substr(colon + 1), password)))
            return fail("bad percent-encoding in the credentials");
        if (user.empty())
            return fail("the credentials have no user name");
        if (user.find(':') != std::string::npos)
            return fail("the user name may not contain ':'");
        const std::string pair = user + ":" + password;
        out.authorization =
            "Basic " + ws_base64(reinterpret_cast<const unsigned char*>(pair.data()), pair.size());
    }
    return out;
}

ATOMCLOUD_DECL std::vector<no_proxy_entry> parse_no_proxy(std::string_view list) {
    using namespace proxy_impl;
    std::vector<no_proxy_entry> out;
    std::size_t pos = 0;
    while (pos < list.size()) {
        const std::size_t end = list.find_first_of(", \t\r\n", pos);
        std::string_view item =
            list.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        pos = end == std::string_view::npos ? list.size() : end + 1;
        if (item.empty())
            continue;
        no_proxy_entry e;
        if (item == "*") {
            e.host = "*";
            out.push_back(std::move(e));
            continue;
        }
        if (item.substr(0, 2) == "*.")
            item.remove_prefix(2);
        else if (item.front() == '.')
            item.remove_prefix(1);
        if (item.empty())
            continue;
        const std::size_t colons =
            static_cast<std::size_t>(std::count(item.begin(), item.end(), ':'));
        if (item.front() == '[') {
            const std::size_t close = item.find(']');
            if (close == std::string_view::npos)
                continue;
            e.host = lower(item.substr(1, close - 1));
            const std::string_view after = item.substr(close + 1);
            if (after.size() > 1 && after.front() == ':')
                e.port = canonical_port(after.substr(1));
            if (!after.empty() && e.port.empty())
                continue; // a bad port: matches nothing
        } else if (colons == 1) {
            const std::size_t colon = item.find(':');
            e.host = lower(item.substr(0, colon));
            e.port = canonical_port(item.substr(colon + 1));
            if (e.port.empty())
                continue;
        } else {
            e.host = lower(item); // a name, an IPv4 address or a bare IPv6 literal
        }
        while (!e.host.empty() && e.host.back() == '.')
            e.host.pop_back();
        if (!e.host.empty())
            out.push_back(std::move(e));
    }
    return out;
}

ATOMCLOUD_DECL bool bypasses_proxy(const std::vector<no_proxy_entry>& list, std::string_view host,
                                   std::string_view port) {
    std::string h = proxy_impl::lower(host);
    while (!h.empty() && h.back() == '.')
        h.pop_back();
    for (const auto& e : list) {
        if (e.host == "*")
            return true;
        if (!e.port.empty() && e.port != port)
            continue;
        if (h == e.host)
            return true;
        // A subdomain of a name (IP literals only match exactly: they hold no letters
        // that a suffix could line up with, and "1.2.3.4" is no domain of "2.3.4").
        const bool ip =
            h.find(':') != std::string::npos ||
            std::all_of(h.begin(), h.end(), [](char c) { return ascii_digit(c) || c == '.'; });
        if (!ip && h.size() > e.host.size() &&
            h.compare(h.size() - e.host.size(), e.host.size(), e.host) == 0 &&
            h[h.size() - e.host.size() - 1] == '.')
            return true;
    }
    return false;
}

ATOMCLOUD_DECL std::optional<proxy_endpoint> proxy_for(const config& cfg, const base_url& target,
                                                       error_code& ec, std::string& what) {
    auto proxy = parse_proxy_url(cfg.proxy, ec, what);
    if (!proxy)
        return std::nullopt;
    if (bypasses_proxy(parse_no_proxy(cfg.no_proxy), target.host, target.port))
        return std::nullopt;
    return proxy;
}

ATOMCLOUD_DECL std::string proxy_connect_request(const base_url& target,
                                                 const proxy_endpoint& proxy,
                                                 std::string_view user_agent) {
    const std::string authority =
        (target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host) + ":" +
        target.port;
    std::string out = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (!proxy.authorization.empty())
        out += "Proxy-Authorization: " + proxy.authorization + "\r\n";
    if (!user_agent.empty())
        out += "User-Agent: " + std::string(user_agent) + "\r\n";
    out += "\r\n";
    return out;
}

ATOMCLOUD_DECL std::size_t proxy_response_reader::feed(std::string_view bytes) {
    if (state_ != state::reading)
        return 0;
    // The end is "\r\n\r\n" (or, leniently, "\n\n"), possibly split across calls: look
    // from a few bytes before the new ones.
    const std::size_t before = header_.size();
    const std::size_t take = std::min(bytes.size(), limit_ + 1 - std::min(before, limit_ + 1));
    header_.append(bytes.data(), take);
    const std::size_t from = before >= 3 ? before - 3 : 0;
    std::size_t end = std::string::npos;
    for (std::size_t i = from; i < header_.size(); ++i) {
        if (header_[i] != '\n')
            continue;
        if (i >= 1 && header_[i - 1] == '\n') {
            end = i + 1;
            break;
        }
        if (i >= 2 && header_[i - 1] == '\r' && header_[i - 2] == '\n') {
            end = i + 1;
            break;
        }
    }
    if (end == std::string::npos) {
        if (header_.size() > limit_) {
            state_ = state::too_large;
            return take;
        }
        return take;
    }
    if (end > limit_) {
        state_ = state::too_large;
        return take;
    }
    header_.resize(end);
    state_ = state::complete;
    parse_status_line();
    return end - before;
}

ATOMCLOUD_DECL void proxy_response_reader::parse_status_line() {
    // HTTP/1.x SP 3DIGIT SP reason CRLF
    const std::string_view h = header_;
    const std::size_t eol = h.find('\n');
    std::string_view line = h.substr(0, eol);
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !ascii_digit(line[7]) ||
        line[8] != ' ' || !ascii_digit(line[9]) || !ascii_digit(line[10]) ||
        !ascii_digit(line[11]) || (line.size() > 12 && line[12] != ' ')) {
        state_ = state::malformed;
        return;
    }
    status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (status_ < 100) {
        state_ = state::malformed;
        return;
    }
    for (char c : line.substr(std::min<std::size_t>(13, line.size()))) {
        if (reason_.size() >= 100)
            break;
        reason_ += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
}

ATOMCLOUD_DECL error_code proxy_response_reader::result(const proxy_endpoint& proxy,
                                                        const base_url& target,
                                                        diagnostics& diag) const {
    const std::string who = "the proxy " + proxy.address();
    const std::string to = target.host_header();
    switch (state_) {
    case state::reading:
        diag.set_client_message(who + " closed the connection before answering CONNECT to " + to);
        return make_error_code(client_errc::proxy_protocol_error);
    case state::too_large:
        diag.set_client_message(who + " answered CONNECT to " + to + " with a header over " +
                                std::to_string(limit_) + " bytes");
        return make_error_code(client_errc::proxy_protocol_error);
    case state::malformed:
        diag.set_client_message(who + " answered CONNECT to " + to + " with something not HTTP");
        return make_error_code(client_errc::proxy_protocol_error);
    case state::complete:
        break;
    }
    if (status_ >= 200 && status_ <= 299)
        return {};
    diag.set_http_status(status_);
    std::string msg = who + " refused CONNECT to " + to + " with HTTP " + std::to_string(status_);
    if (!reason_.empty())
        msg += " " + reason_;
    if (status_ == 407 || status_ == 401) // some proxies (tinyproxy) answer 401 to bad ones
        msg += proxy.authorization.empty()
                   ? ": authentication required (give the credentials in the proxy URL)"
                   : ": authentication required (the credentials were not accepted)";
    else if (proxy_status_is_transient(status_))
        msg += ": the proxy could not reach the server";
    diag.set_client_message(std::move(msg));
    return make_error_code(client_errc::proxy_rejected);
}

} // namespace atomcloud::detail

#endif
