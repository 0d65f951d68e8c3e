// Where a client connects, derived once from the config: the platform's base URL and the
// proxy to reach it through. The REST client, the session and validate_config all take it
// from here, so they accept and refuse the same configs with the same texts. Internal.
#ifndef ATOMCLOUD_DETAIL_ENDPOINT_HPP
#define ATOMCLOUD_DETAIL_ENDPOINT_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/proxy.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/error.hpp>

#include <optional>
#include <string>

namespace atomcloud {
struct config;
} // namespace atomcloud

namespace atomcloud::detail {

struct endpoint {
    base_url url;
    /// The proxy to go through (config.proxy, unless config.no_proxy lists the platform).
    std::optional<proxy_endpoint> proxy;
};

/// Checks config.token and config.user_agent (no control characters), parses
/// config.base_url and config.proxy. On failure returns nullopt and sets ec
/// (client_errc::invalid_base_url or invalid_config) and `what`, which names the option
/// and never holds the token nor the proxy's credentials.
ATOMCLOUD_DECL std::optional<endpoint> make_endpoint(const config& cfg, error_code& ec,
                                                     std::string& what);

/// What a session needs beyond that: a token, and an NB-IoT id width of 1 to 37.
/// client_errc::invalid_config and `what` when not.
ATOMCLOUD_DECL error_code check_session_settings(const config& cfg, std::string& what);

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/endpoint.ipp>
#endif

#endif
