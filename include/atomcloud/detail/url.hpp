// URL pieces: the platform's base URL parsed and checked once (with Boost.URL), and
// percent-encoding. Internal: the clients derive their endpoint (detail/endpoint.hpp)
// from it.
#ifndef ATOMCLOUD_DETAIL_URL_HPP
#define ATOMCLOUD_DETAIL_URL_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace atomcloud::detail {

/// https://host[:port][/prefix], split and checked.
struct base_url {
    std::string host;        ///< without brackets for IPv6 literals
    std::string port;        ///< "443" when not given
    std::string path_prefix; ///< "" or "/something" (no trailing slash; percent-encoded)

    /// host[:port] as sent in the Host header (port left out when 443; IPv6 in brackets).
    ATOMCLOUD_DECL std::string host_header() const;
    /// host:port (IPv6 in brackets): the authority of a CONNECT request.
    ATOMCLOUD_DECL std::string authority() const;
    /// True if host is an IP address literal (no SNI is sent for those).
    ATOMCLOUD_DECL bool host_is_ip() const noexcept;
};

/// Parses "https://host[:port][/prefix]" (also "wss://"; the scheme in any case). Any
/// other scheme, a missing host, a bad port, user info, a query or a fragment, or
/// anything that is no URI set client_errc::invalid_base_url.
ATOMCLOUD_DECL std::optional<base_url> parse_base_url(std::string_view url, error_code& ec);

/// `url` as it may be shown in an error text: its user info ("user:password@") as "***@"
/// and `token` redacted.
ATOMCLOUD_DECL std::string url_for_display(std::string_view url, std::string_view token);

/// A port: 1-65535, decimal digits only, in its canonical form; empty when invalid.
ATOMCLOUD_DECL std::string canonical_port(std::string_view text);

/// Percent-encodes everything but RFC 3986 unreserved characters (upper-case hex digits).
ATOMCLOUD_DECL std::string percent_encode(std::string_view text);

/// Whether `value` may go into an HTTP header (and, for the token, a URL path) as it is:
/// no control characters (0x00-0x1F, 0x7F), so no CR LF can start another header line.
ATOMCLOUD_DECL bool is_valid_header_value(std::string_view value) noexcept;

/// Checks what the clients put in headers before any I/O: the token and the user agent
/// must hold no control characters. On failure returns
/// client_errc::invalid_config and says which option in `what` (never the token itself).
ATOMCLOUD_DECL error_code check_header_values(std::string_view token, std::string_view user_agent,
                                              std::string& what);

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/url.ipp>
#endif

#endif
