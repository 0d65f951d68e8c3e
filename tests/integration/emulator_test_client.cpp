// The HTTPS and plain-TCP half of the emulator's test clients (see
// emulator_test_client.hpp); the WebSocket half is emulator_test_client_ws.cpp.
#include "emulator_test_client_impl.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/error.hpp>

#include <cctype>
#include <cstdio>
#include <random>

namespace emu_test {

namespace http = beast::http;
namespace websocket = beast::websocket;

std::shared_ptr<ssl::context> trusting(const std::string& ca_pem) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    if (ca_pem.empty())
        ctx->set_default_verify_paths();
    else
        ctx->add_certificate_authority(asio::buffer(ca_pem));
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

/// TCP + TLS (verifying the certificate for `host`) within `limit`.
asio::awaitable<error_code> connect_tls(tls_stream& s, const std::string& host, std::uint16_t port,
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

// ---- client_io ---------------------------------------------------------------------------

client_io::client_io() : impl_(std::make_unique<impl>()) {
}

client_io::~client_io() {
    impl_->work.reset();
    impl_->ioc.stop();
    impl_->thread.join();
}

bool is_timeout(const error_code& ec) {
    return ec == beast::error::timeout;
}
bool is_closed(const error_code& ec) {
    return ec == websocket::error::closed;
}
bool is_upgrade_declined(const error_code& ec) {
    return ec == websocket::error::upgrade_declined;
}
bool is_connection_refused(const error_code& ec) {
    return ec == asio::error::connection_refused;
}
bool is_truncated(const error_code& ec) {
    return ec == http::error::partial_message || ec == ssl::error::stream_truncated ||
           ec == asio::error::eof || ec == http::error::end_of_stream;
}
bool is_tls_error(const error_code& ec) {
    return ec.category() == asio::error::get_ssl_category();
}

// ---- https_client ------------------------------------------------------------------------

struct https_client::impl {
    client_io::impl& io;
    std::shared_ptr<ssl::context> ctx;
    std::string host;
    std::uint16_t port;
    std::unique_ptr<tls_stream> stream;
    beast::flat_buffer buffer;
    int connects = 0;
};

https_client::https_client(client_io& io, const atomcloud::emulator::server& s, std::string host)
    : https_client(io, s.ca_pem(), s.port(), s.token(), std::move(host)) {
}

https_client::https_client(client_io& io, std::string ca_pem, std::uint16_t port, std::string token,
                           std::string host)
    : impl_(new impl{*io.impl_, trusting(ca_pem), std::move(host), port, nullptr, {}, 0}),
      token_(std::move(token)) {
}

https_client::~https_client() {
    if (impl_->stream)
        impl_->io.run([this]() -> asio::awaitable<void> {
            impl_->stream.reset();
            co_return;
        });
}

int https_client::connects() const noexcept {
    return impl_->connects;
}

https_client::result https_client::try_request(std::string method, std::string target,
                                               std::string body, std::optional<std::string> token,
                                               std::chrono::milliseconds limit) {
    auto& d = *impl_;
    return d.io.run([&d, method = std::move(method), target = std::move(target),
                     body = std::move(body), token = std::move(token),
                     limit]() -> asio::awaitable<result> {
        result r;
        if (!d.stream || !beast::get_lowest_layer(*d.stream).socket().is_open()) {
            d.stream = std::make_unique<tls_stream>(d.io.ioc, *d.ctx);
            d.buffer.clear();
            r.ec = co_await connect_tls(*d.stream, d.host, d.port, limit);
            if (r.ec) {
                d.stream.reset();
                co_return r;
            }
            ++d.connects;
        }
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, d.host + ":" + std::to_string(d.port));
        req.set(http::field::user_agent, "emulator-test");
        if (token)
            req.set("token", *token);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = body;
        }
        req.prepare_payload();
        beast::get_lowest_layer(*d.stream).expires_after(limit);
        auto [wec, wn] = co_await http::async_write(*d.stream, req, nothrow);
        if (wec) {
            r.ec = wec;
            d.stream.reset();
            co_return r;
        }
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        auto [rec, rn] = co_await http::async_read(*d.stream, d.buffer, parser, nothrow);
        if (rec) {
            r.ec = rec;
            d.stream.reset();
            co_return r;
        }
        auto res = parser.release();
        r.res.status = res.result_int();
        for (const auto& f : res) {
            std::string name(f.name_string());
            for (auto& c : name)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.res.headers[name] = std::string(f.value());
        }
        r.res.body = std::move(res.body());
        r.res.keep_alive = res.keep_alive();
        if (!res.keep_alive())
            d.stream.reset();
        co_return r;
    });
}

http_response https_client::request(std::string method, std::string target, std::string body) {
    auto r = try_request(std::move(method), std::move(target), std::move(body), token_);
    if (r.ec)
        throw boost::system::system_error(r.ec, "request");
    return std::move(r.res);
}

std::string https_client::raw_exchange(std::string bytes, std::chrono::milliseconds limit) {
    auto& d = *impl_;
    return d.io.run([&d, bytes = std::move(bytes), limit]() -> asio::awaitable<std::string> {
        tls_stream s(d.io.ioc, *d.ctx);
        if (auto ec = co_await connect_tls(s, d.host, d.port, limit))
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

std::string random_id() {
    static std::mt19937_64 rng{std::random_device{}()};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx-%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    return buf;
}

// ---- plain_tcp ---------------------------------------------------------------------------

struct plain_tcp::impl {
    asio::io_context ioc;
    tcp::socket socket{ioc};
};

plain_tcp::plain_tcp(std::uint16_t port) : impl_(std::make_unique<impl>()) {
    impl_->socket.connect({asio::ip::make_address("127.0.0.1"), port});
}

plain_tcp::~plain_tcp() = default;

error_code plain_tcp::write_then_read(std::string bytes) {
    error_code ec;
    asio::write(impl_->socket, asio::buffer(bytes), ec);
    if (ec)
        return ec;
    char buf[256];
    impl_->socket.read_some(asio::buffer(buf), ec);
    return ec;
}

} // namespace emu_test
