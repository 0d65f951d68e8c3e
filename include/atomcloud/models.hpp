// What the HTTPS API returns, as plain values: organisations, groups, devices, device
// state, history packets and pages, the query of a history page and the options of a
// history walk.
//
// Parsing is lenient (see the spec's Decision): unknown fields are ignored, optional
// fields that are missing or null are left empty or zero, and only a field the SDK needs
// (an id, a device number, a packet's time or bytes) is an error when missing or of the
// wrong type.
#ifndef ATOMCLOUD_MODELS_HPP
#define ATOMCLOUD_MODELS_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/device_id.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/time.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace atomcloud {

/// An organisation of the account (`/api/orgs`). `id` is the org id every other call needs.
struct org {
    std::int64_t id = 0;
    std::string name;
    std::int64_t acc_id = 0;
    std::int64_t device_limit = 0;
    std::int64_t device_counter = 0;
    /// As sent, e.g. "2018-04-14T15:30:52+08:00"; empty when absent.
    std::string created_at;
};

/// A device group of an organisation (`/api/orgs/:org_id/grouplist`).
struct group {
    std::int64_t id = 0;
    std::string name;
    std::int64_t org_id = 0;
    std::string org_name;
    std::int64_t acc_id = 0;
    std::string acc_name;
    /// As sent; empty when absent.
    std::string created_at;
};

/// The kind of module, from the `device_type` field ("01".."04").
enum class device_type {
    dtu,     ///< "01"
    wifi,    ///< "02"
    nbiot,   ///< "03"
    dtu_4g,  ///< "04"
    unknown, ///< absent, or a value this SDK does not know (the raw text is kept)
};

/// "dtu", "wifi", "nbiot", "dtu_4g" or "unknown".
ATOMCLOUD_DECL const char* to_string(device_type t) noexcept;

/// The type for the API's text ("01" -> dtu ...; also accepts "1".."4"); unknown otherwise.
ATOMCLOUD_DECL device_type parse_device_type(std::string_view text) noexcept;

/// A device whose history is asked for: a DTU, WIFI or 4G device's 20-character number,
/// or an NB-IoT device's id (both convert implicitly).
using history_device = std::variant<device_number, nbiot_id>;

/// A device of a group (`/api/orgs/:org_id/groups/:group_id/devices`).
struct device {
    /// The device id used by the state endpoint (not the 20-character number).
    std::int64_t id = 0;
    /// Display number; the API sends it as a number or as text, kept here as text.
    std::string show_id;
    std::string name;
    /// The device number exactly as sent (normally 20 ASCII digits; NB-IoT devices may
    /// differ). Use as_device_number() for the typed, validated form.
    std::string number;
    device_type type = device_type::unknown;
    /// The `device_type` field as sent ("01" ...), empty when absent.
    std::string type_raw;

    /// `number` as a device_number if it is a valid one (20 printable ASCII characters).
    std::optional<device_number> as_device_number() const noexcept {
        return device_number::parse(number);
    }
    /// `number` as the history API takes it: a device_number if it is a valid one, else
    /// an NB-IoT device's nbiot_id if it is a valid one, else std::nullopt.
    std::optional<history_device> as_history_device() const noexcept {
        if (auto n = device_number::parse(number))
            return history_device(*n);
        if (auto nbiot = nbiot_id::parse(number))
            return history_device(*nbiot);
        return std::nullopt;
    }
};

/// Connection state values (`/api/orgs/:org_id/devicestate/:device_id`).
enum class connection_state {
    connected,    ///< DTU / WIFI device online
    disconnected, ///< DTU / WIFI device offline
    binded,       ///< NB-IoT device bound (the API's spelling)
    notbind,      ///< NB-IoT device not bound
    unknown,      ///< any other text (kept in device_state::raw)
};

/// "connected", "disconnected", "binded", "notbind" or "unknown".
ATOMCLOUD_DECL const char* to_string(connection_state s) noexcept;

/// The state for the API's text (exact, case-sensitive match); unknown otherwise.
ATOMCLOUD_DECL connection_state parse_connection_state(std::string_view text) noexcept;

/// The connection state of a device, with the text the server sent.
struct device_state {
    connection_state state = connection_state::unknown;
    std::string raw;

    /// True for connected (DTU/WIFI) and binded (NB-IoT).
    bool online() const noexcept {
        return state == connection_state::connected || state == connection_state::binded;
    }
};

/// The state's name; for an unknown state, the raw text the server sent.
inline std::string to_string(const device_state& s) {
    return s.state == connection_state::unknown ? s.raw : std::string(to_string(s.state));
}

/// One message of a device's history.
struct packet {
    /// When the cloud received it (an absolute time: the offset is already applied).
    packet_time time;
    /// The UTC offset the server wrote the time in (normally +08:00 = 480 minutes).
    std::chrono::minutes utc_offset{0};
    /// The time text as sent, e.g. "2018-08-11T17:03:39.300928+08:00".
    std::string raw_time;
    /// The `hex_packet` text as sent, e.g. "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54".
    std::string hex;
    /// The bytes (decoded from `hex`): device payloads are raw bytes, often GBK text.
    bytes payload;
    /// The `length` field as sent; payload.size() when absent. When it disagrees with
    /// the hex text, the bytes of the hex text are kept in `payload`, `length` keeps the
    /// server's value (see length_matches()) and a warning is logged.
    std::uint64_t length = 0;
    /// The device number as sent (may be empty).
    std::string number;

    /// False when the server's `length` disagrees with the number of bytes in `hex`.
    bool length_matches() const noexcept { return length == payload.size(); }
};

/// One page of a device's history, newest first.
struct packet_page {
    std::int64_t current_page = 0;
    std::int64_t total_page = 0;
    std::int64_t total_item = 0;
    std::int64_t page_limit = 0;
    std::vector<packet> items;
};

/// The query of a history page. Unset members are not sent (the server's defaults
/// apply: page 1, 30 items, the whole retained history).
struct packet_query {
    /// Page number, from 1.
    std::optional<std::uint32_t> page;
    /// Items per page (the platform caps it; the emulator at 1000).
    std::optional<std::uint32_t> limit;
    /// Oldest time wanted (inclusive). Sent as "yyyy-MM-dd hh:mm:ss" in the platform's
    /// time zone (config::server_utc_offset), i.e. truncated to the second.
    std::optional<std::chrono::system_clock::time_point> start;
    /// Newest time wanted (inclusive); sent like `start` (truncated to the second).
    std::optional<std::chrono::system_clock::time_point> end;
};

/// What a history walk covers and how.
struct history_walk_options {
    /// Oldest time wanted (inclusive). Unset: as far back as the platform keeps.
    std::optional<std::chrono::system_clock::time_point> start;
    /// Newest time wanted (inclusive). Unset: the newest packet when the walk starts.
    std::optional<std::chrono::system_clock::time_point> end;
    /// Packets per request, 1 to 1000 (values outside are clamped).
    std::uint32_t page_size = 100;
    /// Leave heartbeat packets out of the results.
    bool skip_heartbeats = false;
    /// What a heartbeat looks like (the modules' default unless configured otherwise).
    std::string heartbeat = std::string(default_heartbeat);
    /// Safety net against a server that never stops paging.
    std::size_t max_pages = 10000;
};

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/models.ipp>
#endif

#endif
