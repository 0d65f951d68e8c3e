// A connection's HTTP side: the TLS handshake, reading requests within the limits,
// applying REST faults, writing replies and carrying out the control API's actions.
// Beast's HTTP templates are instantiated here only.
#include "connection.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace atomcloud::emulator::detail {

namespace http = beast::http;

namespace {

bool is_http_protocol_error(const error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_target).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message;
}

http_reply bad_request_reply(const error_code& ec) {
    const auto status = ec == http::error::header_limit
                            ? http::status::request_header_fields_too_large
                        : ec == http::error::body_limit ? http::status::payload_too_large
                                                        : http::status::bad_request;
    return bad_parameter_reply("bad HTTP request: " + ec.message(), status);
}

} // namespace

connection::connection(server::impl& s, asio::ip::tcp::socket socket)
    : srv(s), core(*s.core), stream(std::move(socket), *s.tls), timer(stream.get_executor()),
      wake(stream.get_executor()), writer_stopped(stream.get_executor()),
      keepalive_timer(stream.get_executor()) {
    error_code ec;
    const auto ep = beast::get_lowest_layer(stream).socket().remote_endpoint(ec);
    peer = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
    srv.connections.insert(this);
    handshake_entry = srv.handshaking.insert(srv.handshaking.end(), this);
    ++core.open_connections;
}

connection::~connection() {
    end_tls_handshake();
    srv.connections.erase(this);
    --core.open_connections;
}

void connection::end_tls_handshake() noexcept {
    if (handshake_entry) {
        srv.handshaking.erase(*handshake_entry);
        handshake_entry.reset();
    }
}

void connection::abort() noexcept {
    end_tls_handshake();
    closed = true;
    outbound.clear();
    outbound_bytes = 0;
    control.clear();
    beast::get_lowest_layer(stream).close();
    timer.cancel();
    wake.cancel();
    keepalive_timer.cancel();
    writer_stopped.cancel();
}

asio::awaitable<bool> connection::tls_handshake() {
    beast::get_lowest_layer(stream).expires_after(srv.opts.tls_handshake_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
    end_tls_handshake();
    if (ec || closed) {
        if (!closed)
            core.log(log_level::debug, "TLS handshake with " + peer + " failed: " + ec.message());
        co_return false;
    }
    if (srv.connections.size() - srv.handshaking.size() > srv.opts.max_connections) {
        core.log(log_level::warning, "too many connections (" +
                                         std::to_string(srv.opts.max_connections) +
                                         " established): closing " + peer);
        co_return false;
    }
    co_return true;
}

asio::awaitable<void> connection::run() {
    if (!co_await tls_handshake())
        co_return;
    beast::flat_buffer buffer;
    for (;;) {
        auto req = co_await read_request(buffer);
        if (!req)
            co_return;
        if (beast::websocket::is_upgrade(*req)) {
            co_await serve_websocket(std::move(*req), buffer);
            co_return;
        }
        if (!co_await answer(*req))
            co_return;
    }
}

asio::awaitable<std::optional<http_request>> connection::read_request(beast::flat_buffer& buffer) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(srv.opts.max_request_header_size));
    parser.body_limit(srv.opts.max_request_body_size);
    beast::get_lowest_layer(stream).expires_after(srv.opts.http_idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
    if (!ec && !closed && !parser.is_done()) {
        // A client that waits for "100 Continue" before sending the body (curl does for
        // larger bodies) gets it.
        if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
            static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
            auto [wec, wn] = co_await asio::async_write(
                stream, asio::buffer(go_on.data(), go_on.size()), use_nothrow);
            ec = wec;
        }
        if (!ec)
            std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_nothrow);
    }
    if (closed)
        co_return std::nullopt;
    if (ec) {
        if (ec == http::error::header_limit || ec == http::error::body_limit ||
            is_http_protocol_error(ec)) {
            core.log(log_level::info, "bad HTTP request from " + peer + ": " + ec.message());
            co_await write_reply(bad_request_reply(ec), 11, false);
            co_await graceful_close();
        }
        co_return std::nullopt;
    }
    co_return parser.release();
}

asio::awaitable<bool> connection::answer(const http_request& req) {
    std::optional<fault> f;
    if (cloud::is_api_target(req.target()))
        f = core.take_fault(fault_trigger::api_request);
    std::optional<http_reply> reply;
    if (f)
        reply = co_await faulted_reply(req, *f);
    else
        reply = core.handle_http(req);
    if (!reply || closed)
        co_return false;
    if (core.logs(log_level::info))
        core.log(log_level::info, std::string(req.method_string()) + " " +
                                      std::string(req.target()) + " -> " +
                                      std::to_string(static_cast<unsigned>(reply->status)));
    const auto after = reply->after;
    const bool ends = after == after_reply::restart || after == after_reply::suspend;
    const bool keep = req.keep_alive() && !ends;
    // The action is done before the reply, so that a client reading the reply sees its
    // effect; only this connection itself is closed after it.
    carry_out(*reply);
    co_await write_reply(std::move(*reply), req.version(), keep);
    if (closed)
        co_return false;
    if (ends) {
        abort();
        co_return false;
    }
    if (!keep) {
        co_await graceful_close();
        co_return false;
    }
    co_return true;
}

asio::awaitable<std::optional<http_reply>> connection::faulted_reply(const http_request& req,
                                                                     fault f) {
    core.log(log_level::info, std::string("fault ") + to_string(f.what) + " on " +
                                  std::string(req.method_string()) + " " +
                                  std::string(req.target()));
    switch (f.what) {
    case fault::kind::close_connection:
        abort();
        co_return std::nullopt;
    case fault::kind::truncated_body:
        co_await write_truncated(req);
        abort();
        co_return std::nullopt;
    case fault::kind::delay:
        timer.expires_after(f.delay);
        co_await timer.async_wait(use_nothrow);
        if (closed)
            co_return std::nullopt;
        co_return core.handle_http(req);
    default:
        co_return fault_reply(f);
    }
}

void connection::carry_out(const http_reply& reply) {
    switch (reply.after) {
    case after_reply::drop_connections:
        srv.drop_websockets(reply.refuse_websockets_for);
        break;
    case after_reply::restart:
        srv.restart_now(this);
        break;
    case after_reply::suspend:
        srv.suspend_for(reply.suspend_for, this);
        break;
    case after_reply::none:
        break;
    }
}

asio::awaitable<void> connection::write_reply(http_reply r, unsigned version, bool keep_alive) {
    http::response<http::string_body> res{r.status, version};
    res.set(http::field::server, "atomcloud-emulator");
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::pragma, "no-cache");
    if (!r.allow.empty())
        res.set(http::field::allow, r.allow);
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(srv.opts.http_idle_timeout);
    auto [ec, n] = co_await http::async_write(stream, res, use_nothrow);
    if (ec)
        abort();
}

asio::awaitable<void> connection::write_truncated(const http_request& req) {
    auto full = core.handle_http(req);
    const std::string body = std::move(full.body);
    std::string out =
        "HTTP/1.1 200 OK\r\nServer: atomcloud-emulator\r\nContent-Type: " + full.content_type +
        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
        body.substr(0, body.size() / 2);
    beast::get_lowest_layer(stream).expires_after(srv.opts.http_idle_timeout);
    co_await asio::async_write(stream, asio::buffer(out), use_nothrow);
}

asio::awaitable<void> connection::graceful_close() {
    if (closed)
        co_return;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(use_nothrow);
    abort();
}

} // namespace atomcloud::emulator::detail
