#ifndef ATOMCLOUD_IMPL_MODELS_IPP
#define ATOMCLOUD_IMPL_MODELS_IPP

#include <atomcloud/models.hpp>

namespace atomcloud {

ATOMCLOUD_DECL const char* to_string(device_type t) noexcept {
    switch (t) {
    case device_type::dtu:
        return "dtu";
    case device_type::wifi:
        return "wifi";
    case device_type::nbiot:
        return "nbiot";
    case device_type::dtu_4g:
        return "dtu_4g";
    case device_type::unknown:
        break;
    }
    return "unknown";
}

ATOMCLOUD_DECL device_type parse_device_type(std::string_view text) noexcept {
    if (text == "01" || text == "1")
        return device_type::dtu;
    if (text == "02" || text == "2")
        return device_type::wifi;
    if (text == "03" || text == "3")
        return device_type::nbiot;
    if (text == "04" || text == "4")
        return device_type::dtu_4g;
    return device_type::unknown;
}

ATOMCLOUD_DECL const char* to_string(connection_state s) noexcept {
    switch (s) {
    case connection_state::connected:
        return "connected";
    case connection_state::disconnected:
        return "disconnected";
    case connection_state::binded:
        return "binded";
    case connection_state::notbind:
        return "notbind";
    case connection_state::unknown:
        break;
    }
    return "unknown";
}

ATOMCLOUD_DECL connection_state parse_connection_state(std::string_view text) noexcept {
    if (text == "connected")
        return connection_state::connected;
    if (text == "disconnected")
        return connection_state::disconnected;
    if (text == "binded")
        return connection_state::binded;
    if (text == "notbind")
        return connection_state::notbind;
    return connection_state::unknown;
}

} // namespace atomcloud

#endif
