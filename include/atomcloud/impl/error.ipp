#ifndef ATOMCLOUD_IMPL_ERROR_IPP
#define ATOMCLOUD_IMPL_ERROR_IPP

#include <atomcloud/error.hpp>

namespace atomcloud {
namespace detail {

inline const char* api_code_text(int code) noexcept {
    switch (code) {
    case 201:
        return "business error";
    case 300:
        return "not logged in or no permission (bad or missing token)";
    case 301:
        return "insufficient permission";
    case 302:
        return "account locked";
    case 400:
        return "parameter error";
    case 401:
        return "object does not exist";
    case 500:
        return "system error on the server";
    default:
        return nullptr;
    }
}

class api_category_impl final : public boost::system::error_category {
public:
    // A fixed id makes the category unique even across shared libraries.
    constexpr api_category_impl() noexcept : error_category(0x8c1a5e7d0a1c0001ULL) {}
    const char* name() const noexcept override { return "atomcloud.api"; }
    std::string message(int code) const override {
        const char* text = api_code_text(code);
        std::string out = text ? text : "unknown API result code";
        out += " (API code ";
        out += std::to_string(code);
        out += ')';
        return out;
    }
};

inline const char* client_errc_text(client_errc e) noexcept {
    switch (e) {
    case client_errc::invalid_device_number:
        return "invalid device number: it must be exactly 20 printable ASCII characters";
    case client_errc::invalid_nbiot_id:
        return "invalid NB-IoT device id: it must be 1 to 37 bytes without NUL bytes";
    case client_errc::empty_frame:
        return "malformed frame: empty";
    case client_errc::unknown_frame_type:
        return "malformed frame: unknown type byte";
    case client_errc::truncated_device_id:
        return "malformed frame: shorter than its type's fixed-width device id";
    case client_errc::unexpected_payload:
        return "malformed frame: payload on a frame type that carries none";
    case client_errc::wrong_direction:
        return "malformed frame: frame type not valid in this direction";
    case client_errc::buffer_too_small:
        return "buffer too small for the encoded frame";
    case client_errc::invalid_hex:
        return "invalid hex: a character is not a hex digit";
    case client_errc::odd_hex_digits:
        return "invalid hex: odd number of hex digits";
    case client_errc::invalid_encoding:
        return "text is not valid in the requested encoding";
    case client_errc::invalid_base_url:
        return "invalid base URL: expected https://host[:port][/path-prefix]";
    case client_errc::invalid_config:
        return "invalid configuration";
    case client_errc::http_status:
        return "unexpected HTTP status";
    case client_errc::invalid_json:
        return "response body is not valid JSON";
    case client_errc::missing_envelope:
        return "response lacks the {code, message, data} envelope";
    case client_errc::invalid_field:
        return "response field missing or of the wrong type";
    case client_errc::response_too_large:
        return "response exceeds the configured size limit";
    case client_errc::handshake_rejected:
        return "WebSocket handshake rejected by the server (check the token and org id)";
    case client_errc::unexpected_text_frame:
        return "unexpected text WebSocket message (the API uses binary messages only)";
    case client_errc::message_too_large:
        return "message exceeds the configured size limit";
    case client_errc::send_queue_full:
        return "send queue full";
    case client_errc::not_connected:
        return "not connected";
    case client_errc::session_stopped:
        return "session stopped";
    case client_errc::link_lost:
        return "link lost before the operation completed";
    case client_errc::too_many_pages:
        return "history walk exceeded its page limit";
    case client_errc::websocket_protocol_error:
        return "WebSocket protocol error from the server";
    case client_errc::certificate_rejected:
        return "the server's TLS certificate failed verification";
    case client_errc::reply_timeout:
        return "the device did not answer in time";
    case client_errc::proxy_rejected:
        return "the HTTP proxy refused the connection";
    case client_errc::proxy_protocol_error:
        return "the HTTP proxy's answer is not valid";
    }
    return nullptr;
}

class client_category_impl final : public boost::system::error_category {
public:
    constexpr client_category_impl() noexcept : error_category(0x8c1a5e7d0a1c0002ULL) {}
    const char* name() const noexcept override { return "atomcloud.client"; }
    std::string message(int code) const override {
        const char* text = client_errc_text(static_cast<client_errc>(code));
        return text ? text : "unknown atomcloud client error " + std::to_string(code);
    }
};

} // namespace detail

ATOMCLOUD_DECL const boost::system::error_category& api_category() noexcept {
    static const detail::api_category_impl instance;
    return instance;
}

ATOMCLOUD_DECL const boost::system::error_category& client_category() noexcept {
    static const detail::client_category_impl instance;
    return instance;
}

ATOMCLOUD_DECL std::string diagnostics::to_string() const {
    std::string out;
    auto add = [&out](std::string_view part) {
        if (!out.empty())
            out += "; ";
        out += part;
    };
    if (http_status_ != 0)
        add("HTTP " + std::to_string(http_status_));
    if (!server_message_.empty())
        add("server: " + server_message_);
    if (!client_message_.empty())
        add(client_message_);
    return out;
}

namespace detail {
inline std::string error_what(const error_code& ec, const diagnostics& diag) {
    std::string what = "atomcloud: " + ec.message();
    std::string details = diag.to_string();
    if (!details.empty())
        what += ": " + details;
    return what;
}
} // namespace detail

ATOMCLOUD_DECL error::error(const error_code& ec, diagnostics diag)
    : std::system_error(ec), ec_(ec), diag_(std::move(diag)),
      what_(detail::error_what(ec_, diag_)) {
}

} // namespace atomcloud

#endif
