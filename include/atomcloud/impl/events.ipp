#ifndef ATOMCLOUD_IMPL_EVENTS_IPP
#define ATOMCLOUD_IMPL_EVENTS_IPP

#include <atomcloud/events.hpp>

#include <type_traits>

namespace atomcloud {

ATOMCLOUD_DECL std::string to_string(const event& ev) {
    return std::visit(
        [](const auto& e) -> std::string {
            using T = std::decay_t<decltype(e)>;
            auto size = [](bytes_view b) { return " (" + std::to_string(b.size()) + " bytes)"; };
            if constexpr (std::is_same_v<T, device_connected>)
                return "device_connected " + e.device.str();
            else if constexpr (std::is_same_v<T, device_disconnected>)
                return "device_disconnected " + e.device.str();
            else if constexpr (std::is_same_v<T, device_message>)
                return "device_message " + e.device.str() + size(e.payload);
            else if constexpr (std::is_same_v<T, nbiot_message>)
                return "nbiot_message " + e.device.str() + size(e.payload);
            else if constexpr (std::is_same_v<T, session_connected>)
                return "session_connected";
            else if constexpr (std::is_same_v<T, session_disconnected>)
                return "session_disconnected: " + e.reason.message();
            else
                return "protocol_error: " + e.ec.message() + size(e.message);
        },
        ev);
}

} // namespace atomcloud

#endif
