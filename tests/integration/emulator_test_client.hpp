// Plain Beast clients for the emulator's tests: HTTPS (keep-alive) and WSS, over TLS that
// verifies the emulator's certificate. Deliberately independent of the SDK's own client
// code, so that the two check each other.
//
// Every operation runs on a client thread and has a time limit, so a misbehaving server
// fails a test instead of hanging it. The Beast code lives in emulator_test_client.cpp so
// that the test files themselves compile quickly.
#ifndef ATOMCLOUD_TESTS_EMULATOR_TEST_CLIENT_HPP
#define ATOMCLOUD_TESTS_EMULATOR_TEST_CLIENT_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/payload.hpp>

#include <boost/system/error_code.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace emu_test {

using error_code = boost::system::error_code;
using json = nlohmann::json;
using namespace std::chrono_literals;

/// The clients' io_context, run on its own thread.
class client_io {
public:
    client_io();
    ~client_io();
    client_io(const client_io&) = delete;
    client_io& operator=(const client_io&) = delete;
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// What classifies an error_code, without the test files including Beast.
bool is_timeout(const error_code& ec);          ///< beast::error::timeout
bool is_closed(const error_code& ec);           ///< websocket::error::closed (a close frame)
bool is_upgrade_declined(const error_code& ec); ///< websocket::error::upgrade_declined
bool is_connection_refused(const error_code& ec);
bool is_truncated(const error_code& ec); ///< EOF, TLS truncation or partial message
bool is_tls_error(const error_code& ec); ///< an error of the TLS layer

struct http_response {
    unsigned status = 0;
    std::map<std::string, std::string> headers; ///< names in lower case
    std::string body;
    bool keep_alive = false;
    std::string header(const std::string& lower_case_name) const {
        auto it = headers.find(lower_case_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

/// One HTTPS connection, reused for every request (keep-alive); reconnects when the
/// server closed it.
class https_client {
public:
    https_client(client_io& io, const atomcloud::emulator::server& s,
                 std::string host = "127.0.0.1");
    /// `ca_pem` empty: the system's trust store.
    https_client(client_io& io, std::string ca_pem, std::uint16_t port, std::string token,
                 std::string host = "127.0.0.1");
    ~https_client();

    struct result {
        error_code ec;
        http_response res;
    };

    /// Sends a request; `token` nullopt sends no token header.
    result try_request(std::string method, std::string target, std::string body,
                       std::optional<std::string> token, std::chrono::milliseconds limit = 10s);

    /// As try_request with the token; throws on a transport error.
    http_response request(std::string method, std::string target, std::string body = {});
    http_response get(std::string target) { return request("GET", std::move(target)); }
    http_response post(std::string target, std::string body = {}) {
        return request("POST", std::move(target), std::move(body));
    }
    http_response del(std::string target) { return request("DELETE", std::move(target)); }
    /// GET and parse the body as JSON (throws if it is not).
    json get_json(std::string target) { return json::parse(get(std::move(target)).body); }

    /// TLS connections opened so far.
    int connects() const noexcept;

    /// Sends raw bytes over a fresh TLS connection and returns everything that comes back
    /// until the server closes it or `limit` passes.
    std::string raw_exchange(std::string bytes, std::chrono::milliseconds limit = 5s);

    const std::string& token() const noexcept { return token_; }

    struct impl;

private:
    std::unique_ptr<impl> impl_;
    std::string token_;
};

/// A random token for the WebSocket query string.
std::string random_id();

/// A WebSocket client of the emulator.
class wss_client {
public:
    wss_client(client_io& io, const atomcloud::emulator::server& s);
    wss_client(client_io& io, std::string ca_pem, std::uint16_t port, std::string token);
    ~wss_client();

    /// The default path: /connection/<token>/org/<org>?token=<random>.
    std::string path(std::int64_t org = 1) const;

    /// Opens the session; returns the error (is_upgrade_declined() when the server
    /// refused: see handshake_status()).
    error_code try_connect(std::string target);
    /// Opens a session on path(org); throws on failure.
    void connect(std::int64_t org = 1);
    /// The HTTP status of the last handshake's response.
    unsigned handshake_status() const;

    error_code send(atomcloud::bytes_view data, bool text = false);
    error_code send_text(std::string_view text) { return send(atomcloud::as_bytes(text), true); }

    struct message {
        error_code ec; ///< set when the session ended (see close_reason())
        atomcloud::bytes data;
    };
    /// The next message, or the error that ended the session (is_timeout() if nothing
    /// arrived within `limit`: the connection is closed then).
    message receive(std::chrono::milliseconds limit = 10s);

    struct close_info {
        unsigned code = 0;
        std::string reason;
    };
    /// The close frame the server sent (after receive() returned is_closed()).
    close_info close_reason() const;

    /// Sends a WebSocket ping and returns whether the matching pong arrived; sending a
    /// text frame afterwards makes the server close the session, which ends the read.
    bool ping_then_text(std::string payload);

    /// Sends a close frame and waits for the server's.
    void close();
    /// Closes the TCP connection without any closing handshake.
    void close_now();
    /// Shrinks the socket's receive buffer so that a server's queue for a client that does
    /// not read fills fast.
    void set_small_receive_buffer();

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// A plain TCP connection (no TLS) to the emulator's port.
class plain_tcp {
public:
    explicit plain_tcp(std::uint16_t port);
    ~plain_tcp();
    /// Writes `bytes`, then reads once; returns the read's error (the server hangs up on
    /// anything that is not TLS).
    error_code write_then_read(std::string bytes);
    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// Hex "01 31 38" -> bytes (the library's parser; throws on anything but hex pairs).
inline atomcloud::bytes hex(std::string_view text) {
    return atomcloud::parse_hex_packet(text);
}

/// A frame: type byte, id (padded with NULs to `width`), payload.
inline atomcloud::bytes frame(std::uint8_t type, std::string_view id, std::string_view payload = {},
                              std::size_t width = 20) {
    atomcloud::bytes out;
    out.push_back(type);
    out.insert(out.end(), id.begin(), id.end());
    while (out.size() < 1 + width)
        out.push_back(0);
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

/// Polls `pred` until it holds or `limit` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

} // namespace emu_test

#endif
