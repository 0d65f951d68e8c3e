#ifndef ATOMCLOUD_IMPL_FRAME_IPP
#define ATOMCLOUD_IMPL_FRAME_IPP

#include <atomcloud/frame.hpp>

#include <cstring>
#include <type_traits>
#include <variant>

namespace atomcloud {
namespace detail {

// Writes the id of a device_number or nbiot_id into `out`.
inline void write_id(const device_number& n, std::uint8_t* out, std::size_t) noexcept {
    std::memcpy(out, n.data(), device_number::wire_size);
}
inline void write_id(const nbiot_id& id, std::uint8_t* out, std::size_t nbiot_width) noexcept {
    id.to_wire(out, nbiot_width);
}

inline std::size_t id_size(const device_number&, std::size_t) noexcept {
    return device_number::wire_size;
}
inline std::size_t id_size(const nbiot_id&, std::size_t nbiot_width) noexcept {
    return nbiot_width;
}

template <class Frame>
bytes_view payload_of(const Frame& f) noexcept {
    if constexpr (std::is_same_v<Frame, send_frame> || std::is_same_v<Frame, device_data_frame> ||
                  std::is_same_v<Frame, nbiot_send_frame> ||
                  std::is_same_v<Frame, nbiot_data_frame>)
        return f.payload;
    else
        return {};
}

} // namespace detail

ATOMCLOUD_DECL const char* to_string(frame_type t) noexcept {
    switch (t) {
    case frame_type::subscribe:
        return "subscribe";
    case frame_type::unsubscribe:
        return "unsubscribe";
    case frame_type::send:
        return "send";
    case frame_type::device_connected:
        return "device_connected";
    case frame_type::device_disconnected:
        return "device_disconnected";
    case frame_type::device_data:
        return "device_data";
    case frame_type::nbiot_send:
        return "nbiot_send";
    case frame_type::nbiot_data:
        return "nbiot_data";
    }
    return "unknown";
}

ATOMCLOUD_DECL std::optional<frame> decode_frame(bytes_view data, frame_origin from, error_code& ec,
                                                 std::size_t nbiot_width) noexcept {
    auto fail = [&ec](client_errc e) -> std::optional<frame> {
        ec = make_error_code(e);
        return std::nullopt;
    };
    if (data.empty())
        return fail(client_errc::empty_frame);
    if (!is_known_frame_type(data[0]))
        return fail(client_errc::unknown_frame_type);
    const auto type = static_cast<frame_type>(data[0]);
    if (origin_of(type) != from)
        return fail(client_errc::wrong_direction);
    const std::size_t width = id_width(type, nbiot_width);
    if (data.size() < 1 + width)
        return fail(client_errc::truncated_device_id);
    const std::string_view id_field = as_chars(data.subspan(1, width));
    const bytes_view payload = data.subspan(1 + width);
    if (!has_payload(type) && !payload.empty())
        return fail(client_errc::unexpected_payload);

    // Each type builds its own frame, returned where it is made (no copy of the variant on
    // the receive path); a type byte that is none of them was refused above.
    if (type == frame_type::nbiot_send || type == frame_type::nbiot_data) {
        auto id = nbiot_id::from_wire(id_field);
        if (!id)
            return fail(client_errc::invalid_nbiot_id);
        ec = {};
        if (type == frame_type::nbiot_send)
            return frame(nbiot_send_frame{*id, payload});
        return frame(nbiot_data_frame{*id, payload});
    }
    auto number = device_number::parse(id_field);
    if (!number)
        return fail(client_errc::invalid_device_number);
    ec = {};
    switch (type) {
    case frame_type::subscribe:
        return frame(subscribe_frame{*number});
    case frame_type::unsubscribe:
        return frame(unsubscribe_frame{*number});
    case frame_type::send:
        return frame(send_frame{*number, payload});
    case frame_type::device_connected:
        return frame(device_connected_frame{*number});
    case frame_type::device_disconnected:
        return frame(device_disconnected_frame{*number});
    case frame_type::device_data:
        return frame(device_data_frame{*number, payload});
    case frame_type::nbiot_send:
    case frame_type::nbiot_data:
        break; // decoded above
    }
    return fail(client_errc::unknown_frame_type);
}

ATOMCLOUD_DECL std::size_t encoded_size(const frame& f, std::size_t nbiot_width) noexcept {
    return std::visit(
        [nbiot_width](const auto& v) noexcept {
            return 1 + detail::id_size(v.device, nbiot_width) + detail::payload_of(v).size();
        },
        f);
}

ATOMCLOUD_DECL std::size_t encode_frame(const frame& f, boost::span<std::uint8_t> out,
                                        error_code& ec, std::size_t nbiot_width) noexcept {
    const bool fits = std::visit(
        [nbiot_width](const auto& v) noexcept {
            if constexpr (std::is_same_v<std::decay_t<decltype(v.device)>, nbiot_id>)
                return is_valid_nbiot_width(nbiot_width) && v.device.size() <= nbiot_width;
            else
                return true;
        },
        f);
    if (!fits) {
        ec = make_error_code(client_errc::invalid_nbiot_id);
        return 0;
    }
    const std::size_t n = encoded_size(f, nbiot_width);
    if (out.size() < n) {
        ec = make_error_code(client_errc::buffer_too_small);
        return 0;
    }
    ec = {};
    std::visit(
        [&](const auto& v) noexcept {
            std::uint8_t* p = out.data();
            *p++ = static_cast<std::uint8_t>(f.index() + 1);
            detail::write_id(v.device, p, nbiot_width);
            p += detail::id_size(v.device, nbiot_width);
            const bytes_view payload = detail::payload_of(v);
            if (!payload.empty())
                std::memcpy(p, payload.data(), payload.size());
        },
        f);
    return n;
}

ATOMCLOUD_DECL void encode_frame(const frame& f, bytes& out, std::size_t nbiot_width) {
    out.resize(encoded_size(f, nbiot_width));
    error_code ec;
    encode_frame(f, boost::span<std::uint8_t>(out.data(), out.size()), ec, nbiot_width);
    if (ec) {
        out.clear();
        throw error(ec);
    }
}

} // namespace atomcloud

#endif
