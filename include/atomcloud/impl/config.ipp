#ifndef ATOMCLOUD_IMPL_CONFIG_IPP
#define ATOMCLOUD_IMPL_CONFIG_IPP

#include <atomcloud/config.hpp>

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
    return cfg;
}

} // namespace atomcloud

#endif
