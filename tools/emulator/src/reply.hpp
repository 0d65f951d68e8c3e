// What the cloud answers to an HTTP request, before it is written: the status, the
// envelope {code, message, data} the platform wraps every answer in, and the action the
// network layer takes afterwards (control API). The replies every route shares are here.
#ifndef ATOMCLOUD_EMULATOR_SRC_REPLY_HPP
#define ATOMCLOUD_EMULATOR_SRC_REPLY_HPP

#include "fixture.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atomcloud::emulator::detail {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;

/// What the network layer does once a reply is written.
enum class after_reply { none, drop_connections, restart, suspend };

struct http_reply {
    http::status status = http::status::ok;
    std::string body;
    std::string content_type = "application/json; charset=utf-8";
    std::string allow; ///< the Allow header of a 405
    after_reply after = after_reply::none;
    std::chrono::milliseconds suspend_for{0};
    std::chrono::milliseconds refuse_websockets_for{0}; ///< with drop_connections
};

inline constexpr std::string_view msg_not_logged_in =
    "未登录，没有操作权限 (not logged in: bad or missing token)";
inline constexpr std::string_view msg_not_found = "指定对象不存在";
inline constexpr std::string_view msg_bad_parameter = "参数错误";

/// A reply with the envelope {code, message, data}.
http_reply envelope_reply(http::status status, int code, std::string_view message,
                          const json& data = nullptr);
/// HTTP 200, code 200, message "".
http_reply ok_reply(const json& data);
/// HTTP `status`, code 401: "指定对象不存在 (<what>)".
http_reply not_found_reply(std::string_view what, http::status status = http::status::ok);
/// HTTP `status`, code 400: "参数错误 (<what>)".
http_reply bad_parameter_reply(std::string_view what, http::status status = http::status::ok);
/// HTTP 405 with Allow: `allow`, code 400.
http_reply method_not_allowed(std::string_view allow);
/// HTTP 404, code 401: no such path.
http_reply unknown_path();
/// HTTP 503, code 500: WebSocket upgrades refused during an injected outage.
http_reply websocket_outage_reply();

/// A JSON integer in [lo, hi]; std::nullopt when it is not such an integer (a number above
/// INT64_MAX never wraps to a negative one).
std::optional<std::int64_t> json_int(const json& v, std::int64_t lo, std::int64_t hi);
/// An integer member of a JSON body in [lo, hi], `fallback` when absent; std::nullopt when
/// it is not such an integer.
std::optional<std::int64_t> int_member(const json& body, const char* key, std::int64_t fallback,
                                       std::int64_t lo, std::int64_t hi);

} // namespace atomcloud::emulator::detail

#endif
