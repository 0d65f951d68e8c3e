// Plain Beast clients for the emulator's tests: HTTPS (keep-alive) and WSS, over TLS that
// verifies the emulator's certificate. Deliberately independent of the SDK's own client
// code, so that the two check each other.
//
// Every operation runs as a coroutine on a client thread and has a time limit (the
// tcp_stream's expiry), so a misbehaving server fails a test instead of hanging it.
#ifndef ATOMCLOUD_TESTS_EMULATOR_TEST_CLIENT_HPP
#define ATOMCLOUD_TESTS_EMULATOR_TEST_CLIENT_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

namespace emu_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using json = nlohmann::json;
using namespace std::chrono_literals;

inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

/// The clients' io_context, run on its own thread.
class client_io {
public:
    client_io() : thread_([this] { ioc.run(); }) {}
    ~client_io() {
        work_.reset();
        ioc.stop();
        thread_.join();
    }
    client_io(const client_io&) = delete;
    client_io& operator=(const client_io&) = delete;

    /// Runs the coroutine `f()` on the client thread and returns its result.
    template <class F>
    auto run(F f) {
        auto fut = asio::co_spawn(ioc, std::move(f), asio::use_future);
        if (fut.wait_for(60s) != std::future_status::ready)
            throw std::runtime_error("test client operation did not finish");
        return fut.get();
    }

    asio::io_context ioc{1};

private:
    asio::executor_work_guard<asio::io_context::executor_type> work_{ioc.get_executor()};
    std::thread thread_;
};

/// A TLS client context that trusts only `ca_pem` and verifies the peer.
inline std::shared_ptr<ssl::context> trusting(const std::string& ca_pem) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->add_certificate_authority(asio::buffer(ca_pem));
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using response = http::response<http::string_body>;

/// Connects TCP + TLS (verifying the certificate for `host`) within `limit`.
inline asio::awaitable<error_code> connect_tls(tls_stream& s, const std::string& host,
                                               std::uint16_t port,
                                               std::chrono::milliseconds limit) {
    auto& tcp_layer = beast::get_lowest_layer(s);
    tcp_layer.expires_after(limit);
    tcp::endpoint ep(asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host), port);
    auto [cec] = co_await tcp_layer.async_connect(ep, nothrow);
    if (cec)
        co_return cec;
    s.set_verify_mode(ssl::verify_peer);
    s.set_verify_callback(ssl::host_name_verification(host));
    if (host == "localhost")
        SSL_set_tlsext_host_name(s.native_handle(), host.c_str());
    auto [hec] = co_await s.async_handshake(ssl::stream_base::client, nothrow);
    co_return hec;
}

/// One HTTPS connection, reused for every request (keep-alive); reconnects when the
/// server closed it.
class https_client {
public:
    https_client(client_io& io, const atomcloud::emulator::server& s,
                 std::string host = "127.0.0.1")
        : io_(io), ctx_(trusting(s.ca_pem())), host_(std::move(host)), port_(s.port()),
          token_(s.token()) {}
    ~https_client() { close(); }

    struct result {
        error_code ec;
        response res;
    };

    /// Sends a request; `token` nullopt sends no token header.
    result try_request(http::verb verb, std::string target, std::string body,
                       std::optional<std::string> token, std::chrono::milliseconds limit = 10s) {
        return io_.run([this, verb, target = std::move(target), body = std::move(body),
                        token = std::move(token), limit]() -> asio::awaitable<result> {
            result r;
            if (!stream_ || !beast::get_lowest_layer(*stream_).socket().is_open()) {
                stream_ = std::make_unique<tls_stream>(io_.ioc, *ctx_);
                buffer_.clear();
                r.ec = co_await connect_tls(*stream_, host_, port_, limit);
                if (r.ec) {
                    stream_.reset();
                    co_return r;
                }
                ++connects_;
            }
            http::request<http::string_body> req{verb, target, 11};
            req.set(http::field::host, host_ + ":" + std::to_string(port_));
            req.set(http::field::user_agent, "emulator-test");
            if (token)
                req.set("token", *token);
            if (!body.empty()) {
                req.set(http::field::content_type, "application/json");
                req.body() = body;
            }
            req.prepare_payload();
            beast::get_lowest_layer(*stream_).expires_after(limit);
            auto [wec, wn] = co_await http::async_write(*stream_, req, nothrow);
            if (wec) {
                r.ec = wec;
                stream_.reset();
                co_return r;
            }
            http::response_parser<http::string_body> parser;
            parser.body_limit(64 * 1024 * 1024);
            auto [rec, rn] = co_await http::async_read(*stream_, buffer_, parser, nothrow);
            if (rec) {
                r.ec = rec;
                stream_.reset();
                co_return r;
            }
            r.res = parser.release();
            if (!r.res.keep_alive())
                stream_.reset();
            co_return r;
        });
    }

    /// As try_request; throws on a transport error.
    response request(http::verb verb, std::string target, std::string body = {}) {
        auto r = try_request(verb, std::move(target), std::move(body), token_);
        if (r.ec)
            throw boost::system::system_error(r.ec, "request");
        return std::move(r.res);
    }
    response get(std::string target) { return request(http::verb::get, std::move(target)); }
    response post(std::string target, std::string body = {}) {
        return request(http::verb::post, std::move(target), std::move(body));
    }
    response del(std::string target) { return request(http::verb::delete_, std::move(target)); }

    /// GET and parse the body as JSON (throws if it is not).
    json get_json(std::string target) { return json::parse(get(std::move(target)).body()); }

    /// TLS connections opened so far.
    int connects() const noexcept { return connects_; }

    /// Sends raw bytes on a fresh connection and reads what comes back until the server
    /// closes it or `limit` passes.
    std::string raw_exchange(std::string bytes, std::chrono::milliseconds limit = 5s) {
        return io_.run([this, bytes = std::move(bytes), limit]() -> asio::awaitable<std::string> {
            tls_stream s(io_.ioc, *ctx_);
            if (auto ec = co_await connect_tls(s, host_, port_, limit))
                throw boost::system::system_error(ec, "connect");
            co_await asio::async_write(s, asio::buffer(bytes), nothrow);
            std::string out;
            char buf[4096];
            for (;;) {
                auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), nothrow);
                out.append(buf, n);
                if (ec)
                    break;
            }
            co_return out;
        });
    }

    void close() {
        if (stream_)
            io_.run([this]() -> asio::awaitable<void> {
                stream_.reset();
                co_return;
            });
    }

private:
    client_io& io_;
    std::shared_ptr<ssl::context> ctx_;
    std::string host_;
    std::uint16_t port_;
    std::string token_;
    std::unique_ptr<tls_stream> stream_;
    beast::flat_buffer buffer_;
    int connects_ = 0;
};

inline std::string random_id() {
    static std::mt19937_64 rng{std::random_device{}()};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx-%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    return buf;
}

/// A WebSocket client of the emulator.
class wss_client {
public:
    wss_client(client_io& io, const atomcloud::emulator::server& s)
        : io_(io), ctx_(trusting(s.ca_pem())), port_(s.port()), token_(s.token()) {}
    ~wss_client() { close_now(); }

    /// The default path: /connection/<token>/org/<org>?token=<random>.
    std::string path(std::int64_t org = 1) const {
        return "/connection/" + token_ + "/org/" + std::to_string(org) + "?token=" + random_id();
    }

    /// Opens the session; returns the error (websocket::error::upgrade_declined when the
    /// server refused) and keeps the HTTP response in handshake_response().
    error_code try_connect(std::string target) {
        return io_.run([this, target = std::move(target)]() -> asio::awaitable<error_code> {
            ws_ = std::make_unique<websocket::stream<tls_stream>>(io_.ioc, *ctx_);
            if (auto ec = co_await connect_tls(ws_->next_layer(), "127.0.0.1", port_, 10s))
                co_return ec;
            beast::get_lowest_layer(*ws_).expires_after(10s);
            ws_->binary(true);
            auto [ec] = co_await ws_->async_handshake(
                handshake_response_, "127.0.0.1:" + std::to_string(port_), target, nothrow);
            beast::get_lowest_layer(*ws_).expires_never();
            co_return ec;
        });
    }

    void connect(std::int64_t org = 1) {
        if (auto ec = try_connect(path(org)))
            throw boost::system::system_error(ec, "WebSocket connect");
    }

    const websocket::response_type& handshake_response() const { return handshake_response_; }

    error_code send(atomcloud::bytes_view data, bool text = false) {
        return io_.run([this, msg = atomcloud::bytes(data.begin(), data.end()),
                        text]() -> asio::awaitable<error_code> {
            ws_->text(text);
            beast::get_lowest_layer(*ws_).expires_after(10s);
            auto [ec, n] = co_await ws_->async_write(asio::buffer(msg), nothrow);
            beast::get_lowest_layer(*ws_).expires_never();
            ws_->binary(true);
            co_return ec;
        });
    }
    error_code send_text(std::string_view text) { return send(atomcloud::as_bytes(text), true); }

    struct message {
        error_code ec; ///< set when the connection ended (see close_reason())
        atomcloud::bytes data;
    };

    /// The next message, or the error that ended the session (beast::error::timeout if
    /// nothing arrived within `limit`: the connection is closed then).
    message receive(std::chrono::milliseconds limit = 10s) {
        return io_.run([this, limit]() -> asio::awaitable<message> {
            message m;
            beast::flat_buffer buf;
            beast::get_lowest_layer(*ws_).expires_after(limit);
            auto [ec, n] = co_await ws_->async_read(buf, nothrow);
            beast::get_lowest_layer(*ws_).expires_never();
            m.ec = ec;
            auto* p = static_cast<const std::uint8_t*>(buf.data().data());
            m.data.assign(p, p + buf.size());
            co_return m;
        });
    }

    /// The close frame the server sent (after receive() returned websocket::error::closed).
    websocket::close_reason close_reason() const { return ws_->reason(); }

    /// Sends a close frame and waits for the server's.
    void close() {
        io_.run([this]() -> asio::awaitable<void> {
            if (ws_ && ws_->is_open()) {
                beast::get_lowest_layer(*ws_).expires_after(5s);
                co_await ws_->async_close(websocket::close_code::normal, nothrow);
            }
        });
    }

    /// Closes the TCP connection without any closing handshake.
    void close_now() {
        if (ws_)
            io_.run([this]() -> asio::awaitable<void> {
                ws_.reset();
                co_return;
            });
    }

    /// Stops reading; the socket's receive buffer is shrunk so that the server's queue for
    /// this client fills fast.
    void set_small_receive_buffer() {
        io_.run([this]() -> asio::awaitable<void> {
            beast::get_lowest_layer(*ws_).socket().set_option(
                asio::socket_base::receive_buffer_size(4096));
            co_return;
        });
    }

private:
    client_io& io_;
    std::shared_ptr<ssl::context> ctx_;
    std::uint16_t port_;
    std::string token_;
    std::unique_ptr<websocket::stream<tls_stream>> ws_;
    websocket::response_type handshake_response_;
};

/// Hex "01 31 38" -> bytes.
inline atomcloud::bytes hex(std::string_view text) {
    atomcloud::bytes out;
    int hi = -1;
    for (char c : text) {
        int v = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (v < 0)
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
            hi = -1;
        }
    }
    return out;
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

} // namespace emu_test

#endif
