// The WebSocket frame codec: the eight binary frame types 0x01-0x08 as typed values.
// Pure functions over bytes, no I/O.
//
// Layout of every frame: [1 byte type][device id, fixed width][payload: the rest].
//
//   type  direction     id width  payload  meaning
//   0x01  app -> cloud  20        none     subscribe to a device
//   0x02  app -> cloud  20        none     unsubscribe
//   0x03  app -> cloud  20        bytes    send data to a DTU / WIFI device
//   0x04  cloud -> app  20        none     device connected
//   0x05  cloud -> app  20        none     device disconnected
//   0x06  cloud -> app  20        bytes    data from a DTU / WIFI device
//   0x07  app -> cloud  37        bytes    send data to an NB-IoT device
//   0x08  cloud -> app  37        bytes    data from an NB-IoT device
//
// Decoding is zero-copy: payloads are views into the decoded buffer, which must outlive
// the frame; device ids are small inline values. Nothing is allocated.
#ifndef ATOMCLOUD_FRAME_HPP
#define ATOMCLOUD_FRAME_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/device_id.hpp>
#include <atomcloud/error.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

namespace atomcloud {

/// The type byte of a frame.
enum class frame_type : std::uint8_t {
    subscribe = 0x01,
    unsubscribe = 0x02,
    send = 0x03,
    device_connected = 0x04,
    device_disconnected = 0x05,
    device_data = 0x06,
    nbiot_send = 0x07,
    nbiot_data = 0x08,
};

/// Who sends a frame: an application (types 0x01, 0x02, 0x03, 0x07) or the cloud
/// (types 0x04, 0x05, 0x06, 0x08).
enum class frame_origin { app, cloud };

/// 0x01: subscribe to a device's messages and events.
struct subscribe_frame {
    device_number device;
};
/// 0x02: unsubscribe from a device.
struct unsubscribe_frame {
    device_number device;
};
/// 0x03: data for a DTU / WIFI device.
struct send_frame {
    device_number device;
    bytes_view payload;
};
/// 0x04: the device connected to the cloud.
struct device_connected_frame {
    device_number device;
};
/// 0x05: the device disconnected from the cloud.
struct device_disconnected_frame {
    device_number device;
};
/// 0x06: data forwarded from a DTU / WIFI device.
struct device_data_frame {
    device_number device;
    bytes_view payload;
};
/// 0x07: data for an NB-IoT device.
struct nbiot_send_frame {
    nbiot_id device;
    bytes_view payload;
};
/// 0x08: data forwarded from an NB-IoT device.
struct nbiot_data_frame {
    nbiot_id device;
    bytes_view payload;
};

/// Any frame. The alternative's index is the type byte minus one.
using frame =
    std::variant<subscribe_frame, unsubscribe_frame, send_frame, device_connected_frame,
                 device_disconnected_frame, device_data_frame, nbiot_send_frame, nbiot_data_frame>;

/// True for the eight known type bytes.
constexpr bool is_known_frame_type(std::uint8_t type) noexcept {
    return type >= 0x01 && type <= 0x08;
}

/// Who sends frames of this type.
constexpr frame_origin origin_of(frame_type t) noexcept {
    switch (t) {
    case frame_type::subscribe:
    case frame_type::unsubscribe:
    case frame_type::send:
    case frame_type::nbiot_send:
        return frame_origin::app;
    case frame_type::device_connected:
    case frame_type::device_disconnected:
    case frame_type::device_data:
    case frame_type::nbiot_data:
        return frame_origin::cloud;
    }
    return frame_origin::cloud; // no frame type (is_known_frame_type is false for it)
}

/// The fixed width of the device id field: `nbiot_width` (37 unless configured otherwise,
/// see session_options::nbiot_id_width) for the NB-IoT types, 20 otherwise.
constexpr std::size_t id_width(frame_type t,
                               std::size_t nbiot_width = nbiot_id::wire_size) noexcept {
    return (t == frame_type::nbiot_send || t == frame_type::nbiot_data) ? nbiot_width
                                                                        : device_number::wire_size;
}

/// True when `width` can carry NB-IoT ids: 1 to nbiot_id::wire_size bytes.
constexpr bool is_valid_nbiot_width(std::size_t width) noexcept {
    return width >= 1 && width <= nbiot_id::wire_size;
}

/// True for the types that carry a payload (0x03, 0x06, 0x07, 0x08; it may be empty).
constexpr bool has_payload(frame_type t) noexcept {
    return t == frame_type::send || t == frame_type::device_data || t == frame_type::nbiot_send ||
           t == frame_type::nbiot_data;
}

/// The type of a frame value.
inline frame_type type_of(const frame& f) noexcept {
    return static_cast<frame_type>(f.index() + 1);
}

/// A short name for a frame type ("subscribe", "device_data" ...).
ATOMCLOUD_DECL const char* to_string(frame_type t) noexcept;

/// Decodes one frame sent by `from`.
///
/// On success returns the frame, whose payload views `data`. On failure returns
/// std::nullopt and sets `ec` to one of:
///   client_errc::empty_frame          - `data` is empty;
///   client_errc::unknown_frame_type   - the type byte is not 0x01..0x08;
///   client_errc::wrong_direction      - the type is not one `from` sends;
///   client_errc::truncated_device_id  - fewer bytes than the type's id width;
///   client_errc::invalid_device_number, client_errc::invalid_nbiot_id - the id field is
///                                       not a valid id;
///   client_errc::unexpected_payload   - bytes after the id on a type without payload.
/// `nbiot_width` is the width of the NB-IoT id field (is_valid_nbiot_width()).
/// Never allocates, never throws.
ATOMCLOUD_DECL std::optional<frame>
decode_frame(bytes_view data, frame_origin from, error_code& ec,
             std::size_t nbiot_width = nbiot_id::wire_size) noexcept;

/// The number of bytes encode_frame writes for `f`.
ATOMCLOUD_DECL std::size_t encoded_size(const frame& f,
                                        std::size_t nbiot_width = nbiot_id::wire_size) noexcept;

/// Encodes `f` into the caller's buffer. Returns the number of bytes written, or 0 and
/// sets ec to client_errc::buffer_too_small, or to client_errc::invalid_nbiot_id when an
/// NB-IoT id is longer than `nbiot_width` (only possible with a width below 37).
/// Payloads of types that carry none do not exist in the typed frames.
ATOMCLOUD_DECL std::size_t encode_frame(const frame& f, boost::span<std::uint8_t> out,
                                        error_code& ec,
                                        std::size_t nbiot_width = nbiot_id::wire_size) noexcept;

/// Encodes `f` into `out`, replacing its contents and reusing its capacity. Throws
/// atomcloud::error (client_errc::invalid_nbiot_id) when an NB-IoT id does not fit
/// `nbiot_width`.
ATOMCLOUD_DECL void encode_frame(const frame& f, bytes& out,
                                 std::size_t nbiot_width = nbiot_id::wire_size);

/// Encodes `f` into a new buffer (throws as the overload above).
inline bytes encode_frame(const frame& f, std::size_t nbiot_width = nbiot_id::wire_size) {
    bytes out;
    encode_frame(f, out, nbiot_width);
    return out;
}

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/frame.ipp>
#endif

#endif
