#ifndef ATOMCLOUD_IMPL_CONFIG_IPP
#define ATOMCLOUD_IMPL_CONFIG_IPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/endpoint.hpp>

#include <cstdlib>

namespace atomcloud {

ATOMCLOUD_DECL config config::from_env() {
    config cfg;
    auto read = [](const char* name, std::string& into) {
        if (const char* v = std::getenv(name); v && *v)
            into = v;
    };
    read("ATOMCLOUD_TOKEN", cfg.token);
    read("ATOMCLOUD_BASE_URL", cfg.base_url);
    read("ATOMCLOUD_CA_FILE", cfg.tls.ca_file);
    // The upper-case name wins when both are set (as in Go's net/http).
    read("https_proxy", cfg.proxy);
    read("HTTPS_PROXY", cfg.proxy);
    read("no_proxy", cfg.no_proxy);
    read("NO_PROXY", cfg.no_proxy);
    return cfg;
}

ATOMCLOUD_DECL error_code validate_config(const config& cfg, std::string& what) {
    error_code ec = detail::check_session_settings(cfg, what);
    if (!ec)
        detail::make_endpoint(cfg, ec, what);
    return ec;
}

} // namespace atomcloud

#endif
