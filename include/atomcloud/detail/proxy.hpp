// HTTP CONNECT proxies, without sockets: the proxy URL and the no_proxy list parsed and
// checked once, the CONNECT request, and the reader of the proxy's answer. The I/O that
// uses them is in detail/proxy_connect.hpp. Internal: used by rest_client and session.
#ifndef ATOMCLOUD_DETAIL_PROXY_HPP
#define ATOMCLOUD_DETAIL_PROXY_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/error.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud {
struct config;
} // namespace atomcloud

namespace atomcloud::detail {

/// Where the proxy is, and what to prove to it.
struct proxy_endpoint {
    std::string host; ///< without brackets for IPv6 literals
    std::string port; ///< "80" when not given
    /// "Basic <base64(user:password)>", or empty without credentials. A secret: never
    /// logged, never in an error text.
    std::string authorization;

    /// host:port for logs and error texts (IPv6 in brackets); never the credentials.
    ATOMCLOUD_DECL std::string address() const;
};

/// Parses `[http://][user[:password]@]host[:port][/]` (user and password percent-decoded).
/// Returns nullopt for an empty string (no proxy). Anything else that does not fit (another
/// scheme such as https:// or socks5://, a bad port, a path, a query ...) sets
/// client_errc::invalid_config and says why in `what`, which never holds the credentials.
ATOMCLOUD_DECL std::optional<proxy_endpoint> parse_proxy_url(std::string_view url, error_code& ec,
                                                             std::string& what);

/// One entry of a no_proxy list.
struct no_proxy_entry {
    std::string host; ///< lower case, no leading dot, no brackets; "*" matches every host
    std::string port; ///< empty: any port
};

/// Parses a no_proxy list: entries separated by commas or white space; each a host name
/// (matching itself and its subdomains; a leading "." or "*." is the same), an IP
/// literal (matched exactly; IPv6 may be bracketed), either with ":port", or "*" for
/// every host. Empty entries are skipped.
ATOMCLOUD_DECL std::vector<no_proxy_entry> parse_no_proxy(std::string_view list);

/// Whether `host`:`port` is to be reached directly according to `list`. Loopback
/// addresses get no special treatment: list them to bypass the proxy for them.
ATOMCLOUD_DECL bool bypasses_proxy(const std::vector<no_proxy_entry>& list, std::string_view host,
                                   std::string_view port);

/// The proxy to use for `target` with config.proxy and config.no_proxy: nullopt when
/// there is none or the target is in no_proxy. An invalid config.proxy sets
/// client_errc::invalid_config with the reason in `what` (never the credentials).
ATOMCLOUD_DECL std::optional<proxy_endpoint> proxy_for(const config& cfg, const base_url& target,
                                                       error_code& ec, std::string& what);

/// The CONNECT request for `target`, through `proxy`.
ATOMCLOUD_DECL std::string proxy_connect_request(const base_url& target,
                                                 const proxy_endpoint& proxy,
                                                 std::string_view user_agent);

/// Reads the proxy's answer to CONNECT, fed with the bytes as they come. It takes only
/// the bytes of the answer's header: whatever follows the header belongs to the tunnel.
class proxy_response_reader {
public:
    /// The largest header accepted.
    static constexpr std::size_t default_header_limit = 16 * 1024;

    explicit proxy_response_reader(std::size_t header_limit = default_header_limit)
        : limit_(header_limit) {}

    /// Takes bytes the proxy sent after those of earlier calls; returns how many of them
    /// belong to the answer's header (fewer than given only once done()).
    ATOMCLOUD_DECL std::size_t feed(std::string_view bytes);

    /// The header is complete, or will never be (failed()).
    bool done() const noexcept { return state_ != state::reading; }
    /// The answer is not HTTP, or its header exceeds the limit.
    bool failed() const noexcept {
        return state_ == state::malformed || state_ == state::too_large;
    }

    /// The status code and reason phrase (printable ASCII only, at most 100 characters),
    /// once done() and not failed().
    int status() const noexcept { return status_; }
    const std::string& reason() const noexcept { return reason_; }

    /// The outcome, once done(): success for a 2xx answer, client_errc::proxy_rejected
    /// for any other (diagnostics: the status, and the reason phrase in the message), or
    /// client_errc::proxy_protocol_error when the answer is not HTTP or too large.
    /// `proxy` and `target` are named in the message.
    ATOMCLOUD_DECL error_code result(const proxy_endpoint& proxy, const base_url& target,
                                     diagnostics& diag) const;

private:
    enum class state { reading, complete, malformed, too_large };
    ATOMCLOUD_DECL void parse_status_line();

    std::size_t limit_;
    std::string header_;
    state state_ = state::reading;
    int status_ = 0;
    std::string reason_;
};

/// Whether a proxy's refusal with `status` may go away by itself (502, 503, 504 ...: 5xx).
/// 407 (authentication required), 403 and the other answers will not.
inline bool proxy_status_is_transient(int status) noexcept {
    return status >= 500 && status <= 599;
}

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/proxy.ipp>
#endif

#endif
