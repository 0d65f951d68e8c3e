#include "reply.hpp"

#include <limits>

namespace atomcloud::emulator::detail {

http_reply envelope_reply(http::status status, int code, std::string_view message,
                          const json& data) {
    json j = json::object();
    j["code"] = code;
    j["message"] = message;
    j["data"] = data;
    http_reply r;
    r.status = status;
    r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

http_reply ok_reply(const json& data) {
    return envelope_reply(http::status::ok, 200, "", data);
}

http_reply not_found_reply(std::string_view what, http::status status) {
    return envelope_reply(status, 401, std::string(msg_not_found) + " (" + std::string(what) + ")");
}

http_reply bad_parameter_reply(std::string_view what, http::status status) {
    return envelope_reply(status, 400,
                          std::string(msg_bad_parameter) + " (" + std::string(what) + ")");
}

http_reply method_not_allowed(std::string_view allow) {
    auto r = envelope_reply(http::status::method_not_allowed, 400,
                            "method not allowed (use " + std::string(allow) + ")");
    r.allow = allow;
    return r;
}

http_reply unknown_path() {
    return not_found_reply("no such path", http::status::not_found);
}

http_reply websocket_outage_reply() {
    return envelope_reply(http::status::service_unavailable, 500,
                          "websocket unavailable (injected outage)");
}

std::optional<std::int64_t> json_int(const json& v, std::int64_t lo, std::int64_t hi) {
    if (!v.is_number_integer())
        return std::nullopt;
    // Above INT64_MAX the JSON number is unsigned: it must not wrap to a negative one.
    if (v.is_number_unsigned() &&
        v.get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    const auto i = v.get<std::int64_t>();
    if (i < lo || i > hi)
        return std::nullopt;
    return i;
}

std::optional<std::int64_t> int_member(const json& body, const char* key, std::int64_t fallback,
                                       std::int64_t lo, std::int64_t hi) {
    auto it = body.find(key);
    if (it == body.end())
        return fallback;
    return json_int(*it, lo, hi);
}

} // namespace atomcloud::emulator::detail
