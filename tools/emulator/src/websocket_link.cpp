// A connection's WebSocket side: the upgrade, the link's reader (application frames,
// pings, the close handshake), its writer (frames to the application, with the
// WebSocket faults applied) and the keep-alive that pings a quiet client and drops a
// silent one. The framing is ws_codec's; this file moves the bytes.
#include "connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>

namespace atomcloud::emulator::detail {

namespace http = beast::http;

/// The cloud's view of a WebSocket session: frames go to the connection's queue.
struct ws_link final : app_link {
    ws_link(std::size_t org, connection& c) noexcept : app_link(org), conn(c) {}
    void deliver(const std::shared_ptr<const bytes>& frame) override { conn.enqueue(frame); }
    connection& conn;
};

asio::awaitable<void> connection::serve_websocket(http_request req, beast::flat_buffer& buffer) {
    if (core.refusing_websockets()) {
        // An injected outage: refused before anything else, and never a session.
        core.log(log_level::info, "WebSocket upgrade " +
                                      core.admit_websocket(req.target()).log_target + " from " +
                                      peer + " refused: 503 (injected outage)");
        co_await write_reply(websocket_outage_reply(), req.version(), false);
        co_await graceful_close();
        co_return;
    }
    auto admission = core.admit_websocket(req.target());
    if (!admission.accepted) {
        core.log(log_level::info,
                 "WebSocket upgrade " + admission.log_target + " from " + peer + " rejected: " +
                     std::to_string(static_cast<unsigned>(admission.rejection.status)));
        co_await write_reply(std::move(admission.rejection), req.version(), false);
        co_await graceful_close();
        co_return;
    }
    // From here on drop_connections() takes it, also while in the WebSocket handshake.
    is_websocket = true;
    if (!co_await accept_upgrade(req))
        co_return;

    ws_link link(admission.org, *this);
    core.attach(link);
    struct detach_guard {
        cloud& c;
        ws_link& l;
        ~detach_guard() { c.detach(l); }
    } guard{core, link};
    core.log(log_level::info, "WebSocket session from " + peer + " on " + admission.log_target);

    last_received = std::chrono::steady_clock::now();
    writer_running = true;
    auto self = shared_from_this();
    asio::co_spawn(
        stream.get_executor(), [self]() { return self->writer(); }, asio::detached);
    asio::co_spawn(
        stream.get_executor(), [self]() { return self->keepalive(); }, asio::detached);

    ws::reader reader(srv.opts.max_inbound_message_size);
    const auto* leftover = static_cast<const std::uint8_t*>(buffer.data().data());
    reader.feed(bytes_view(leftover, buffer.size())); // frames sent right after the upgrade
    buffer.consume(buffer.size());
    co_await read_link(reader, link);
    co_await finish_close();
}

asio::awaitable<bool> connection::accept_upgrade(const http_request& req) {
    const auto key = std::string_view(req[http::field::sec_websocket_key]);
    const bool version_13 = req[http::field::sec_websocket_version] == "13";
    if (!version_13 || !ws::valid_client_key(key)) {
        core.log(log_level::info,
                 "WebSocket handshake with " + peer + " failed: " +
                     (version_13 ? "bad Sec-WebSocket-Key" : "Sec-WebSocket-Version is not 13"));
        co_await write_reply(bad_parameter_reply("a WebSocket upgrade needs version 13 and a key",
                                                 http::status::bad_request),
                             req.version(), false);
        co_await graceful_close();
        co_return false;
    }
    const std::string response = "HTTP/1.1 101 Switching Protocols\r\n"
                                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: " +
                                 ws::accept_key(key) + "\r\nServer: atomcloud-emulator\r\n\r\n";
    beast::get_lowest_layer(stream).expires_after(srv.opts.tls_handshake_timeout);
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(response), use_nothrow);
    beast::get_lowest_layer(stream).expires_never();
    if (ec || closed) {
        if (!closed)
            core.log(log_level::info,
                     "WebSocket handshake with " + peer + " failed: " + ec.message());
        abort();
        co_return false;
    }
    co_return true;
}

asio::awaitable<void> connection::read_link(ws::reader& reader, ws_link& link) {
    std::array<std::uint8_t, 16 * 1024> buf{};
    for (;;) {
        auto e = reader.next();
        switch (e.what) {
        case ws::event::kind::need_more: {
            auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_nothrow);
            if (ec || closed) {
                if (!closed && !closing)
                    core.log(log_level::info,
                             "WebSocket session from " + peer + " ended: " + ec.message());
                abort();
                co_return;
            }
            last_received = std::chrono::steady_clock::now();
            reader.feed(bytes_view(buf.data(), n));
            break;
        }
        case ws::event::kind::message: {
            auto ec = core.on_app_message(link, e.payload);
            if (!ec)
                break;
            std::string violation = ec.message();
            if (violation.rfind("malformed frame", 0) != 0)
                violation = "malformed frame: " + violation;
            core.log(log_level::warning,
                     "closing WebSocket session from " + peer + " (1008): " + violation);
            start_close(ws::close_policy_violation, violation);
            co_return;
        }
        case ws::event::kind::ping:
            if (core.take_fault(fault_trigger::websocket_ping))
                core.log(log_level::info,
                         "fault websocket_no_pong: ping from " + peer + " ignored");
            else
                queue_control(ws::opcode::pong, e.payload);
            break;
        case ws::event::kind::pong:
            break;
        case ws::event::kind::close:
            start_close(e.code, {}); // the answer echoes the code
            co_return;
        case ws::event::kind::error:
            core.log(log_level::warning, "closing WebSocket session from " + peer + " (" +
                                             std::to_string(e.code) + "): " + e.reason);
            start_close(e.code, e.reason);
            co_return;
        }
    }
}

void connection::enqueue(const std::shared_ptr<const bytes>& frame) {
    if (closed || closing)
        return;
    if (outbound_bytes + frame->size() > srv.opts.max_outbound_bytes_per_connection) {
        core.log(log_level::warning, "WebSocket client " + peer + " does not read fast enough (" +
                                         std::to_string(outbound_bytes) +
                                         " bytes queued): disconnecting it");
        abort();
        return;
    }
    outbound.push_back(frame);
    outbound_bytes += frame->size();
    if (outbound.size() == 1)
        wake.cancel();
}

void connection::queue_control(ws::opcode op, bytes_view payload) {
    if (closed || closing)
        return;
    bytes frame;
    ws::append_frame(op, payload, frame);
    control.push_back(std::move(frame));
    wake.cancel();
}

void connection::start_close(std::uint16_t code, std::string_view reason) {
    if (closed || closing)
        return;
    closing = true;
    outbound.clear();
    outbound_bytes = 0;
    bytes frame;
    // 1005 (no code) and 1006 are never sent: such a close is answered without a code.
    const bool with_code = code != 1005 && code != 1006;
    ws::append_frame(ws::opcode::close, with_code ? ws::close_payload(code, reason) : bytes(),
                     frame);
    control.push_back(std::move(frame));
    wake.cancel();
    // The client has this long to answer before the connection is closed anyway.
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
}

asio::awaitable<void> connection::finish_close() {
    if (writer_running && !closed) { // the close frame goes out first
        writer_stopped.expires_after(std::chrono::seconds(2));
        co_await writer_stopped.async_wait(use_nothrow);
    }
    // Whatever the client still sends (its close frame, the rest of a message too large) is
    // read and dropped until it ends TLS, within the time start_close() gave it; then ours
    // ends too, so that the client sees a clean close.
    std::array<std::uint8_t, 16 * 1024> buf{};
    while (!closed) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_nothrow);
        if (ec)
            break;
    }
    co_await graceful_close();
}

// ---- writing --------------------------------------------------------------------------

asio::awaitable<void> connection::writer() {
    while (!closed) {
        if (!control.empty()) {
            bytes frame = std::move(control.front());
            control.pop_front();
            const bool is_close = (frame[0] & 0x0F) == static_cast<std::uint8_t>(ws::opcode::close);
            if (!co_await write_bytes(frame) || is_close)
                break;
            continue;
        }
        if (outbound.empty()) {
            wake.expires_at(asio::steady_timer::time_point::max());
            co_await wake.async_wait(use_nothrow);
            continue;
        }
        auto payload = outbound.front();
        if (!co_await write_data(*payload))
            break;
        if (!outbound.empty() && outbound.front() == payload) { // not cleared meanwhile
            outbound.pop_front();
            outbound_bytes -= payload->size();
        }
    }
    writer_running = false;
    writer_stopped.cancel();
}

asio::awaitable<bool> connection::write_bytes(bytes_view data) {
    auto [ec, n] =
        co_await asio::async_write(stream, asio::buffer(data.data(), data.size()), use_nothrow);
    if (closed)
        co_return false;
    if (ec) {
        abort();
        co_return false;
    }
    co_return true;
}

asio::awaitable<bool> connection::write_data(const bytes& payload) {
    bytes frame;
    ws::append_frame(ws::opcode::binary, payload, frame);
    auto f = core.take_fault(fault_trigger::websocket_frame);
    if (!f)
        co_return co_await write_bytes(frame);
    core.log(log_level::info, std::string("fault ") + to_string(f->what) + " on a " +
                                  std::to_string(frame.size()) + "-byte frame to " + peer);
    switch (f->what) {
    case fault::kind::websocket_stall:
        timer.expires_after(f->delay);
        co_await timer.async_wait(use_nothrow);
        co_return !closed && co_await write_bytes(frame);
    case fault::kind::websocket_drop_mid_frame: {
        const std::size_t cut = f->cut_after_bytes > 0 ? f->cut_after_bytes : frame.size() / 2;
        co_await write_bytes(
            bytes_view(frame.data(), std::clamp<std::size_t>(cut, 1, frame.size() - 1)));
        abort();
        co_return false;
    }
    case fault::kind::websocket_slow_writes:
        for (std::size_t at = 0; at < frame.size(); at += f->chunk_bytes) {
            if (at > 0 && f->delay.count() > 0) {
                timer.expires_after(f->delay);
                co_await timer.async_wait(use_nothrow);
            }
            const std::size_t n = std::min(f->chunk_bytes, frame.size() - at);
            if (closed || !co_await write_bytes(bytes_view(frame.data() + at, n)))
                co_return false;
        }
        co_return true;
    default:
        co_return co_await write_bytes(frame);
    }
}

asio::awaitable<void> connection::keepalive() {
    // As Beast's keep-alive pings: a ping after half the idle time in silence, the link
    // closed after all of it.
    const auto idle = srv.opts.websocket_idle_timeout;
    if (idle.count() <= 0)
        co_return;
    const auto half =
        std::max<std::chrono::steady_clock::duration>(idle / 2, std::chrono::milliseconds(1));
    bool pinged = false;
    while (!closed) {
        keepalive_timer.expires_at(last_received +
                                   (pinged ? std::chrono::steady_clock::duration(idle) : half));
        co_await keepalive_timer.async_wait(use_nothrow);
        if (closed)
            co_return;
        const auto silent = std::chrono::steady_clock::now() - last_received;
        if (silent >= idle) {
            core.log(log_level::info, "WebSocket session from " + peer + " silent for " +
                                          std::to_string(idle.count()) + " ms: closing it");
            abort();
            co_return;
        }
        if (silent >= half && !pinged) {
            queue_control(ws::opcode::ping, {});
            pinged = true;
        } else if (silent < half) {
            pinged = false;
        }
    }
}

} // namespace atomcloud::emulator::detail
