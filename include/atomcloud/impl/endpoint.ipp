#ifndef ATOMCLOUD_IMPL_ENDPOINT_IPP
#define ATOMCLOUD_IMPL_ENDPOINT_IPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/endpoint.hpp>
#include <atomcloud/frame.hpp>

namespace atomcloud::detail {

ATOMCLOUD_DECL error_code check_session_settings(const config& cfg, std::string& what) {
    if (cfg.token.empty()) {
        what = "config.token is empty";
        return client_errc::invalid_config;
    }
    if (!is_valid_nbiot_width(cfg.session.nbiot_id_width)) {
        what = "config.session.nbiot_id_width must be 1 to 37";
        return client_errc::invalid_config;
    }
    return {};
}

ATOMCLOUD_DECL std::optional<endpoint> make_endpoint(const config& cfg, error_code& ec,
                                                     std::string& what) {
    ec = check_header_values(cfg.token, cfg.user_agent, what);
    if (ec)
        return std::nullopt;
    auto url = parse_base_url(cfg.base_url, ec);
    if (!url) {
        what = "config.base_url '" + url_for_display(cfg.base_url, cfg.token) +
               "': expected https://host[:port][/path-prefix]";
        return std::nullopt;
    }
    endpoint out{std::move(*url), {}};
    out.proxy = proxy_for(cfg, out.url, ec, what);
    if (ec)
        return std::nullopt;
    return out;
}

} // namespace atomcloud::detail

#endif
