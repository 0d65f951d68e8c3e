#ifndef ATOMCLOUD_IMPL_SESSION_URL_IPP
#define ATOMCLOUD_IMPL_SESSION_URL_IPP

#include <atomcloud/detail/session_url.hpp>

#include <openssl/rand.h>

#include <random>

namespace atomcloud::detail {

ATOMCLOUD_DECL std::string websocket_target(const base_url& url, std::string_view api_token,
                                            std::int64_t org_id, std::string_view random_token) {
    std::string t = url.path_prefix;
    t += "/connection/";
    t += percent_encode(api_token);
    t += "/org/";
    t += std::to_string(org_id);
    t += "?token=";
    t += percent_encode(random_token);
    return t;
}

ATOMCLOUD_DECL std::string websocket_url_for_log(const base_url& url, std::int64_t org_id) {
    std::string u = "wss://";
    u += url.host_header();
    u += url.path_prefix;
    u += "/connection/***/org/";
    u += std::to_string(org_id);
    return u;
}

ATOMCLOUD_DECL std::string format_guid(std::array<std::uint8_t, 16> b) {
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40); // version 4
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80); // RFC 4122 variant
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out += '-';
        out += digits[b[i] >> 4];
        out += digits[b[i] & 0x0f];
    }
    return out;
}

ATOMCLOUD_DECL std::string random_guid() {
    std::array<std::uint8_t, 16> b{};
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
        std::random_device rd;
        for (auto& x : b)
            x = static_cast<std::uint8_t>(rd());
    }
    return format_guid(b);
}

} // namespace atomcloud::detail

#endif
