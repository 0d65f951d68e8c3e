// The WebSocket half of the emulator's test clients (see emulator_test_client.hpp): Beast's
// websocket client, kept in its own file so that the two halves compile in parallel.
#include "emulator_test_client_impl.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace emu_test {

namespace websocket = beast::websocket;

// ---- wss_client --------------------------------------------------------------------------

struct wss_client::impl {
    client_io::impl& io;
    std::shared_ptr<ssl::context> ctx;
    std::uint16_t port;
    std::string token;
    std::unique_ptr<websocket::stream<tls_stream>> ws;
    websocket::response_type handshake_response;
};

wss_client::wss_client(client_io& io, const atomcloud::emulator::server& s)
    : wss_client(io, s.ca_pem(), s.port(), s.token()) {
}

wss_client::wss_client(client_io& io, std::string ca_pem, std::uint16_t port, std::string token)
    : impl_(new impl{*io.impl_, trusting(ca_pem), port, std::move(token), nullptr, {}}) {
}

wss_client::~wss_client() {
    close_now();
}

std::string wss_client::path(std::int64_t org) const {
    return "/connection/" + impl_->token + "/org/" + std::to_string(org) + "?token=" + random_id();
}

error_code wss_client::try_connect(std::string target) {
    auto& d = *impl_;
    return d.io.run([&d, target = std::move(target)]() -> asio::awaitable<error_code> {
        d.ws = std::make_unique<websocket::stream<tls_stream>>(d.io.ioc, *d.ctx);
        d.handshake_response = {};
        if (auto ec = co_await connect_tls(d.ws->next_layer(), "127.0.0.1", d.port, 10s))
            co_return ec;
        beast::get_lowest_layer(*d.ws).expires_after(10s);
        d.ws->binary(true);
        auto [ec] = co_await d.ws->async_handshake(
            d.handshake_response, "127.0.0.1:" + std::to_string(d.port), target, nothrow);
        beast::get_lowest_layer(*d.ws).expires_never();
        co_return ec;
    });
}

void wss_client::connect(std::int64_t org) {
    if (auto ec = try_connect(path(org)))
        throw boost::system::system_error(ec, "WebSocket connect");
}

unsigned wss_client::handshake_status() const {
    return impl_->handshake_response.result_int();
}

error_code wss_client::send(atomcloud::bytes_view data, bool text) {
    auto& d = *impl_;
    return d.io.run([&d, msg = atomcloud::bytes(data.begin(), data.end()),
                     text]() -> asio::awaitable<error_code> {
        d.ws->text(text);
        beast::get_lowest_layer(*d.ws).expires_after(10s);
        auto [ec, n] = co_await d.ws->async_write(asio::buffer(msg), nothrow);
        beast::get_lowest_layer(*d.ws).expires_never();
        d.ws->binary(true);
        co_return ec;
    });
}

wss_client::message wss_client::receive(std::chrono::milliseconds limit) {
    auto& d = *impl_;
    return d.io.run([&d, limit]() -> asio::awaitable<message> {
        message m;
        beast::flat_buffer buf;
        beast::get_lowest_layer(*d.ws).expires_after(limit);
        auto [ec, n] = co_await d.ws->async_read(buf, nothrow);
        beast::get_lowest_layer(*d.ws).expires_never();
        m.ec = ec;
        auto* p = static_cast<const std::uint8_t*>(buf.data().data());
        m.data.assign(p, p + buf.size());
        co_return m;
    });
}

wss_client::close_info wss_client::close_reason() const {
    const auto& r = impl_->ws->reason();
    return {static_cast<unsigned>(r.code), std::string(r.reason.data(), r.reason.size())};
}

bool wss_client::ping_then_text(std::string payload) {
    auto& d = *impl_;
    return d.io.run([&d, payload]() -> asio::awaitable<bool> {
        bool pong = false;
        d.ws->control_callback([&](websocket::frame_type kind, beast::string_view p) {
            if (kind == websocket::frame_type::pong && p == payload)
                pong = true;
        });
        beast::get_lowest_layer(*d.ws).expires_after(10s);
        co_await d.ws->async_ping(websocket::ping_data(payload), nothrow);
        d.ws->text(true);
        co_await d.ws->async_write(asio::buffer(std::string("bye")), nothrow);
        beast::flat_buffer buf;
        auto [ec, n] = co_await d.ws->async_read(buf, nothrow);
        d.ws->control_callback();
        beast::get_lowest_layer(*d.ws).expires_never();
        co_return pong&& ec == websocket::error::closed;
    });
}

void wss_client::close() {
    auto& d = *impl_;
    d.io.run([&d]() -> asio::awaitable<void> {
        if (d.ws && d.ws->is_open()) {
            beast::get_lowest_layer(*d.ws).expires_after(5s);
            co_await d.ws->async_close(websocket::close_code::normal, nothrow);
        }
    });
}

void wss_client::close_now() {
    auto& d = *impl_;
    if (d.ws)
        d.io.run([&d]() -> asio::awaitable<void> {
            d.ws.reset();
            co_return;
        });
}

void wss_client::set_small_receive_buffer() {
    auto& d = *impl_;
    d.io.run([&d]() -> asio::awaitable<void> {
        beast::get_lowest_layer(*d.ws).socket().set_option(
            asio::socket_base::receive_buffer_size(4096));
        co_return;
    });
}

} // namespace emu_test
