#ifndef ATOMCLOUD_IMPL_PROXY_IPP
#define ATOMCLOUD_IMPL_PROXY_IPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/ascii.hpp>
#include <atomcloud/detail/proxy.hpp>
#include <atomcloud/detail/ws_handshake.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <charconv>

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

inline bool host_char(char c) noexcept {
    return ascii_alnum(c) || c == '-' || c == '.' || c == '_';
}

} // namespace proxy_impl

ATOMCLOUD_DECL std::string proxy_endpoint::address() const {
    return base_url{host, port, {}}.authority();
}

ATOMCLOUD_DECL std::optional<proxy_endpoint> parse_proxy_url(std::string_view url, error_code& ec,
                                                             std::string& what) {
    using namespace proxy_impl;
    namespace urls = boost::urls;
    ec = {};
    auto fail = [&](std::string why) -> std::optional<proxy_endpoint> {
        ec = make_error_code(client_errc::invalid_config);
        what = "config.proxy: " + std::move(why);
        return std::nullopt;
    };
    if (url.empty())
        return std::nullopt;
    std::string text(url);
    if (const std::size_t sep = text.find("://"); sep != std::string::npos) {
        const std::string_view scheme = std::string_view(text).substr(0, sep);
        if (iequals(scheme, "https"))
            return fail("https:// proxies (TLS to the proxy) are not supported; use http://");
        if (!iequals(scheme, "http"))
            return fail("only http:// proxies are supported (HTTP CONNECT)");
    } else {
        text.insert(0, "http://"); // the scheme may be left out
    }
    // A password may hold a bare '@' (as curl allows): only the last one ends the user
    // info, the others are escaped before the URL is parsed.
    const std::size_t authority_start = text.find("://") + 3;
    const std::size_t at = text.rfind('@');
    if (at != std::string::npos && at > authority_start &&
        text.find_first_of("/?#", authority_start) > at) {
        std::size_t last = at;
        for (std::size_t i = text.find('@', authority_start); i < last; i = text.find('@', i + 3)) {
            text.replace(i, 1, "%40");
            last += 2;
        }
    }
    const auto parsed = urls::parse_uri(urls::string_view(text.data(), text.size()));
    if (!parsed) {
        // Tell a bad escape in the credentials from the rest, without showing either.
        const std::size_t last_at = text.rfind('@');
        const std::string_view userinfo =
            last_at != std::string::npos && last_at > authority_start
                ? std::string_view(text).substr(authority_start, last_at - authority_start)
                : std::string_view();
        for (std::size_t i = userinfo.find('%'); i != std::string_view::npos;
             i = userinfo.find('%', i + 1))
            if (i + 2 >= userinfo.size() || hex_value(userinfo[i + 1]) < 0 ||
                hex_value(userinfo[i + 2]) < 0)
                return fail("bad percent-encoding in the credentials");
        return fail("expected http://[user:password@]host[:port]");
    }
    const urls::url_view& u = *parsed;
    if (u.has_query() || u.has_fragment() || !(u.encoded_path().empty() || u.encoded_path() == "/"))
        return fail("expected http://[user:password@]host[:port], without a path, query or "
                    "fragment");
    proxy_endpoint out;
    switch (u.host_type()) {
    case urls::host_type::name:
        out.host = std::string(u.encoded_host());
        if (out.host.empty() || !std::all_of(out.host.begin(), out.host.end(), host_char))
            return fail("expected http://[user:password@]host[:port]");
        break;
    case urls::host_type::ipv4:
    case urls::host_type::ipv6:
        out.host = std::string(u.encoded_host_address());
        break;
    default:
        return fail("expected http://[user:password@]host[:port]");
    }
    if (!u.has_port()) {
        out.port = "80";
    } else {
        const auto port = u.port();
        out.port = canonical_port(std::string_view(port.data(), port.size()));
        if (out.port.empty())
            return fail("the port must be a number from 1 to 65535");
    }
    if (u.has_userinfo()) {
        const std::string user = u.user();
        const std::string password = u.password();
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
    const std::string authority = target.authority();
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
        line[8] != ' ' || !ascii_digit(line[9]) || (line.size() > 12 && line[12] != ' ')) {
        state_ = state::malformed;
        return;
    }
    const char* const code_end = line.data() + 12;
    const auto [end, err] = std::from_chars(line.data() + 9, code_end, status_);
    if (err != std::errc() || end != code_end || status_ < 100) {
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
