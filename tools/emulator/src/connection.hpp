// One TLS connection of the server: HTTP requests (http_connection.cpp), possibly upgraded
// to a WebSocket link (websocket_link.cpp). Each connection is a coroutine on the
// server's thread; nothing here is touched from another thread.
#ifndef ATOMCLOUD_EMULATOR_SRC_CONNECTION_HPP
#define ATOMCLOUD_EMULATOR_SRC_CONNECTION_HPP

#include "server_impl.hpp"
#include "ws_codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>

namespace atomcloud::emulator::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;

inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

struct ws_link;

struct connection : std::enable_shared_from_this<connection> {
    connection(server::impl& s, asio::ip::tcp::socket socket);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    server::impl& srv;
    cloud& core;
    tls_stream stream;
    asio::steady_timer timer; // fault delays
    asio::steady_timer wake;  // wakes the WebSocket writer
    bool is_websocket = false;
    bool closed = false;
    std::string peer;
    std::optional<std::list<connection*>::iterator> handshake_entry; // while handshaking

    // ---- the WebSocket link (websocket_link.cpp) ----------------------------------------
    std::deque<std::shared_ptr<const bytes>> outbound; // data frames' payloads
    std::size_t outbound_bytes = 0;
    std::deque<bytes> control; // encoded control frames, written before data
    bool closing = false;      // a close frame is queued: no more data
    bool writer_running = false;
    asio::steady_timer writer_stopped; // cancelled when the writer ends
    asio::steady_timer keepalive_timer;
    std::chrono::steady_clock::time_point last_received;

    /// Leaves the list of handshaking connections (idempotent).
    void end_tls_handshake() noexcept;
    /// Closes the socket at once (no TLS or WebSocket closing handshake).
    void abort() noexcept;

    // ---- HTTP (http_connection.cpp) -----------------------------------------------------
    asio::awaitable<void> run();
    asio::awaitable<bool> tls_handshake();
    /// Reads the next request; std::nullopt when the connection is done with.
    asio::awaitable<std::optional<http_request>> read_request(beast::flat_buffer& buffer);
    /// Answers a request (with its fault, if one is pending); false: the connection ends.
    asio::awaitable<bool> answer(const http_request& req);
    /// The reply to `req` with `f` applied; std::nullopt when the fault took the connection.
    asio::awaitable<std::optional<http_reply>> faulted_reply(const http_request& req, fault f);
    /// Carries out a control reply's action (before the reply is written).
    void carry_out(const http_reply& reply);
    asio::awaitable<void> write_reply(http_reply r, unsigned version, bool keep_alive);
    asio::awaitable<void> write_truncated(const http_request& req);
    asio::awaitable<void> graceful_close();

    // ---- WebSocket (websocket_link.cpp) -------------------------------------------------
    asio::awaitable<void> serve_websocket(http_request req, beast::flat_buffer& buffer);
    /// Queues a data frame towards the application (disconnects a client that lags).
    void enqueue(const std::shared_ptr<const bytes>& frame);
    void queue_control(ws::opcode op, bytes_view payload);
    /// Queues a close frame; no more data goes out.
    void start_close(std::uint16_t code, std::string_view reason);
    asio::awaitable<bool> accept_upgrade(const http_request& req);
    asio::awaitable<void> read_link(ws::reader& reader, ws_link& link);
    asio::awaitable<void> finish_close();
    asio::awaitable<void> writer();
    asio::awaitable<bool> write_data(const bytes& payload);
    asio::awaitable<bool> write_bytes(bytes_view data);
    asio::awaitable<void> keepalive();
};

} // namespace atomcloud::emulator::detail

#endif
