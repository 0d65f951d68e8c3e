// Errors: the API's `code` field (api_errc), what the client itself detects (client_errc),
// the server's message (diagnostics) and the exception thrown by the throwing overloads.
//
// Both enums are error-code enums for boost::system::error_code (what Asio completion
// handlers receive) and for std::error_code; a boost::system::error_code converts to
// std::error_code implicitly, and comparisons such as `ec == api_errc::not_found` work
// with either.
#ifndef ATOMCLOUD_ERROR_HPP
#define ATOMCLOUD_ERROR_HPP

#include <atomcloud/detail/config.hpp>

#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace atomcloud {

/// The error code type of every atomcloud operation (the one Asio handlers receive).
using error_code = boost::system::error_code;

/// The documented values of the `code` field of an HTTPS response (200 is success and
/// never an error). A `code` the documentation does not list is still reported, as an
/// error_code of api_category() whose value is that number.
enum class api_errc : int {
    business_error = 201,          ///< business error; the server's message says which
    not_logged_in = 300,           ///< not logged in / no permission (bad or missing token)
    insufficient_permission = 301, ///< the account may not perform this operation
    account_locked = 302,          ///< the account is locked
    invalid_parameter = 400,       ///< a parameter was rejected
    not_found = 401,               ///< the organisation, group or device does not exist
    server_error = 500,            ///< system error on the server side
};

/// What the client detects itself: bad input, malformed responses and frames, the
/// state of a session. Values start at 1; 0 is never an error.
enum class client_errc : int {
    // device ids
    invalid_device_number = 1, ///< not exactly 20 printable ASCII characters
    invalid_nbiot_id,          ///< empty, longer than 37 bytes, or containing a NUL byte
    // WebSocket frames
    empty_frame,         ///< a frame of zero bytes
    unknown_frame_type,  ///< type byte outside 0x01..0x08
    truncated_device_id, ///< fewer bytes than the type's fixed-width device id
    unexpected_payload,  ///< payload bytes on a type that carries none
    wrong_direction,     ///< an app->cloud type from the cloud, or cloud->app from an app
    buffer_too_small,    ///< the caller's buffer cannot hold the encoded frame
    // payload helpers
    invalid_hex,      ///< a character that is neither a hex digit nor white space
    odd_hex_digits,   ///< a group of hex digits of odd length
    invalid_encoding, ///< bytes that are not valid in the text encoding requested
    // configuration
    invalid_base_url, ///< the base URL is not https://host[:port][/prefix]
    invalid_config,   ///< an option has a value that cannot work (e.g. an empty token)
    // HTTPS responses
    http_status,        ///< the HTTP status was not 200; diagnostics().http_status() has it
    invalid_json,       ///< the body is not JSON
    missing_envelope,   ///< the body lacks `code`, or it is not an integer
    invalid_field,      ///< a field the SDK needs is missing or of the wrong type
    response_too_large, ///< the response exceeds config's max_response_size
    // WebSocket session
    handshake_rejected,    ///< the server refused the WebSocket upgrade (token or org)
    unexpected_text_frame, ///< a text WebSocket message (the API only uses binary ones)
    message_too_large,     ///< a message exceeds the configured size limit
    send_queue_full,       ///< the bounded send queue is full
    not_connected,         ///< no link and the send policy is to fail at once
    session_stopped,       ///< the session was stopped
    // (25 is not used: nothing reported it)
    link_lost = 26, ///< the link went down before the operation completed
    too_many_pages, ///< a history walk exceeded its page limit
    // added later (values keep their order)
    websocket_protocol_error, ///< the server broke RFC 6455 (bad frame header, bad close ...)
    certificate_rejected,     ///< the server's TLS certificate failed verification (expired,
                              ///< wrong host name, unknown issuer ...): diagnostics say why
    reply_timeout,            ///< a device did not answer a request in time (request.hpp)
    proxy_rejected,       ///< the HTTP proxy refused CONNECT: diagnostics().http_status() has its
                          ///< status (407: authentication required), the message its reason
    proxy_protocol_error, ///< the HTTP proxy's answer to CONNECT was not HTTP, or too large
};

/// The category of api_errc (name "atomcloud.api").
ATOMCLOUD_DECL const boost::system::error_category& api_category() noexcept;
/// The category of client_errc (name "atomcloud.client").
ATOMCLOUD_DECL const boost::system::error_category& client_category() noexcept;

inline error_code make_error_code(api_errc e) noexcept {
    return error_code(static_cast<int>(e), api_category());
}
inline error_code make_error_code(client_errc e) noexcept {
    return error_code(static_cast<int>(e), client_category());
}

/// The error for a `code` value of a response: any value, documented or not.
/// Returns an empty error_code for 200.
inline error_code make_api_error(int code) noexcept {
    return code == 200 ? error_code() : error_code(code, api_category());
}

/// What went wrong beyond the error code: the server's own `message` (often Chinese,
/// kept verbatim), the HTTP status and API code seen, and a client-side explanation
/// such as which field had the wrong type. Never contains the API token.
class diagnostics {
public:
    /// The `message` field of the response, or empty.
    const std::string& server_message() const noexcept { return server_message_; }
    /// HTTP status of the response; 0 when no HTTP response was received.
    int http_status() const noexcept { return http_status_; }
    /// The `code` field of the response; 0 when none was read.
    int api_code() const noexcept { return api_code_; }
    /// A client-side explanation (e.g. "field data[0].id: expected an integer").
    const std::string& client_message() const noexcept { return client_message_; }

    bool empty() const noexcept {
        return server_message_.empty() && client_message_.empty() && http_status_ == 0 &&
               api_code_ == 0;
    }
    void clear() noexcept {
        server_message_.clear();
        client_message_.clear();
        http_status_ = 0;
        api_code_ = 0;
    }

    void set_server_message(std::string m) { server_message_ = std::move(m); }
    void set_client_message(std::string m) { client_message_ = std::move(m); }
    void set_http_status(int s) noexcept { http_status_ = s; }
    void set_api_code(int c) noexcept { api_code_ = c; }

    /// "HTTP 503; server: <message>; <client message>" (parts that are empty are left out).
    ATOMCLOUD_DECL std::string to_string() const;

    friend bool operator==(const diagnostics& a, const diagnostics& b) noexcept {
        return a.server_message_ == b.server_message_ && a.client_message_ == b.client_message_ &&
               a.http_status_ == b.http_status_ && a.api_code_ == b.api_code_;
    }
    friend bool operator!=(const diagnostics& a, const diagnostics& b) noexcept {
        return !(a == b);
    }

private:
    std::string server_message_;
    std::string client_message_;
    int http_status_ = 0;
    int api_code_ = 0;
};

/// Thrown by the throwing overloads: the error code plus the diagnostics.
/// what() reads e.g. "atomcloud: object does not exist (API code 401): server: 设备不存在".
class error : public std::system_error {
public:
    ATOMCLOUD_DECL explicit error(const error_code& ec, diagnostics diag = {});

    const diagnostics& get_diagnostics() const noexcept { return diag_; }
    /// The error as the boost::system::error_code the rest of the API uses.
    const error_code& boost_code() const noexcept { return ec_; }
    const char* what() const noexcept override { return what_.c_str(); }

private:
    error_code ec_;
    diagnostics diag_;
    std::string what_;
};

/// Throws atomcloud::error if ec is an error.
inline void throw_on_error(const error_code& ec, const diagnostics& diag = {}) {
    if (ec)
        throw error(ec, diag);
}

} // namespace atomcloud

namespace boost::system {
template <>
struct is_error_code_enum<atomcloud::api_errc> : std::true_type {};
template <>
struct is_error_code_enum<atomcloud::client_errc> : std::true_type {};
} // namespace boost::system

namespace std {
template <>
struct is_error_code_enum<atomcloud::api_errc> : true_type {};
template <>
struct is_error_code_enum<atomcloud::client_errc> : true_type {};
} // namespace std

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/error.ipp>
#endif

#endif
