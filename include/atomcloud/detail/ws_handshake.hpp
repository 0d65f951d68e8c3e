// The client side of the WebSocket opening handshake (RFC 6455 4.1), without sockets: the
// upgrade request and the checks of the server's answer. Internal.
#ifndef ATOMCLOUD_DETAIL_WS_HANDSHAKE_HPP
#define ATOMCLOUD_DETAIL_WS_HANDSHAKE_HPP

#include <atomcloud/error.hpp>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace atomcloud::detail {

/// Base64 of `data` (standard alphabet, padded).
inline std::string ws_base64(const unsigned char* data, std::size_t n) {
    std::string out(4 * ((n + 2) / 3), '\0');
    const int written =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(written < 0 ? 0 : static_cast<std::size_t>(written));
    return out;
}

/// A fresh Sec-WebSocket-Key: 16 random bytes, base64.
inline std::string ws_make_key() {
    std::array<unsigned char, 16> nonce{};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1)
        throw std::runtime_error("atomcloud: no random bytes for the WebSocket key");
    return ws_base64(nonce.data(), nonce.size());
}

/// The Sec-WebSocket-Accept a server must answer to `key`.
inline std::string ws_expected_accept(std::string_view key) {
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string text(key);
    text += guid;
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int len = 0;
    if (EVP_Digest(text.data(), text.size(), digest.data(), &len, EVP_sha1(), nullptr) != 1)
        throw std::runtime_error("atomcloud: SHA-1 is not available");
    return ws_base64(digest.data(), len);
}

/// The upgrade request for `target` on `host`.
inline boost::beast::http::request<boost::beast::http::empty_body>
ws_upgrade_request(std::string_view host, std::string_view target, std::string_view key,
                   std::string_view user_agent) {
    namespace http = boost::beast::http;
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, host);
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, key);
    req.set(http::field::sec_websocket_version, "13");
    if (!user_agent.empty())
        req.set(http::field::user_agent, user_agent);
    return req;
}

namespace ws_detail {
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Whether the comma-separated list `value` holds `token` (case-insensitive).
inline bool has_token(std::string_view value, std::string_view token) noexcept {
    while (!value.empty()) {
        const auto comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
            item.remove_suffix(1);
        if (iequals(item, token))
            return true;
        if (comma == std::string_view::npos)
            break;
        value.remove_prefix(comma + 1);
    }
    return false;
}
} // namespace ws_detail

/// Checks the server's answer to an upgrade request sent with `key`:
///  - a status other than 101: client_errc::handshake_rejected (the caller decides from
///    the status whether to retry);
///  - a 101 without `Upgrade: websocket`, `Connection: upgrade` and the right
///    `Sec-WebSocket-Accept`, or with an extension or subprotocol that was never offered:
///    client_errc::websocket_protocol_error, and `why` says which.
template <class Fields>
error_code ws_check_upgrade_response(const boost::beast::http::response_header<Fields>& res,
                                     std::string_view key, std::string& why) {
    namespace http = boost::beast::http;
    if (res.result_int() != 101) {
        why = "the server answered the WebSocket upgrade with HTTP " +
              std::to_string(res.result_int());
        return client_errc::handshake_rejected;
    }
    auto fail = [&why](const char* text) {
        why = text;
        return make_error_code(client_errc::websocket_protocol_error);
    };
    if (!ws_detail::iequals(std::string_view(res[http::field::upgrade]), "websocket"))
        return fail("the 101 answer lacks 'Upgrade: websocket'");
    if (!ws_detail::has_token(std::string_view(res[http::field::connection]), "upgrade"))
        return fail("the 101 answer lacks 'Connection: upgrade'");
    if (std::string_view(res[http::field::sec_websocket_accept]) != ws_expected_accept(key))
        return fail("the 101 answer's Sec-WebSocket-Accept does not match the key");
    if (res.count(http::field::sec_websocket_extensions) != 0)
        return fail("the server chose a WebSocket extension that was not offered");
    if (res.count(http::field::sec_websocket_protocol) != 0)
        return fail("the server chose a WebSocket subprotocol that was not offered");
    return {};
}

} // namespace atomcloud::detail

#endif
