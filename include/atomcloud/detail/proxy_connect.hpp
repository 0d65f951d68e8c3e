// The CONNECT exchange with an HTTP proxy over a connected TCP socket: what is sent and
// how the answer is judged are in detail/proxy.hpp; this only moves the bytes. Shared by
// rest_client (detail/connect.hpp) and session. Internal; header-only (a template).
#ifndef ATOMCLOUD_DETAIL_PROXY_CONNECT_HPP
#define ATOMCLOUD_DETAIL_PROXY_CONNECT_HPP

#include <atomcloud/detail/proxy.hpp>
#include <atomcloud/error.hpp>

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <string>

namespace atomcloud::detail {

struct proxy_connect_op {
    boost::asio::ip::tcp::socket& socket;
    const proxy_endpoint& proxy;
    const base_url& target;
    std::string_view user_agent;
    std::chrono::milliseconds timeout;
    diagnostics* diag;

    struct state {
        explicit state(const boost::asio::any_io_executor& ex) : timer(ex) {}
        boost::asio::steady_timer timer;
        std::string request;
        proxy_response_reader reader;
        std::array<char, 4096> buffer{};
        bool done = false;
        bool timed_out = false;
    };
    std::shared_ptr<state> st;
    bool writing = true;

    template <class Self>
    void operator()(Self& self) {
        st = std::make_shared<state>(socket.get_executor());
        st->request = proxy_connect_request(target, proxy, user_agent);
        st->timer.expires_after(timeout);
        st->timer.async_wait([s = st, sock = &socket](const error_code& ec) {
            if (!ec && !s->done) {
                s->timed_out = true;
                error_code ignored;
                sock->cancel(ignored);
            }
        });
        boost::asio::async_write(socket, boost::asio::buffer(st->request), std::move(self));
    }

    template <class Self>
    void operator()(Self& self, error_code ec, std::size_t n) {
        if (ec)
            return finish(self, ec);
        if (writing) {
            writing = false;
            return peek(self);
        }
        // Only the header's bytes are taken off the socket: whatever follows them is the
        // server's, for the TLS handshake.
        const std::size_t used = st->reader.feed(std::string_view(st->buffer.data(), n));
        if (used != 0) {
            boost::asio::read(socket, boost::asio::buffer(st->buffer.data(), used), ec);
            if (ec)
                return finish(self, ec);
        }
        if (st->reader.done())
            return finish(self, {});
        peek(self);
    }

    template <class Self>
    void peek(Self& self) {
        socket.async_receive(boost::asio::buffer(st->buffer),
                             boost::asio::socket_base::message_peek, std::move(self));
    }

    template <class Self>
    void finish(Self& self, error_code ec) {
        st->done = true;
        st->timer.cancel();
        if (st->timed_out) {
            ec = boost::beast::error::timeout;
            if (diag)
                diag->set_client_message("the proxy " + proxy.address() +
                                         " did not answer CONNECT within " +
                                         std::to_string(timeout.count()) + " ms");
        } else if (!ec || ec == boost::asio::error::eof) {
            diagnostics d;
            ec = st->reader.result(proxy, target, d);
            if (diag)
                *diag = std::move(d);
        }
        self.complete(ec);
    }
};

/// Asks the proxy, over the connected `socket`, for a tunnel to `target` and reads its
/// answer (at most proxy_response_reader::default_header_limit bytes of header, within
/// `timeout`: beast::error::timeout). Completes with success once the tunnel is open and
/// nothing of the server's bytes has been taken; with client_errc::proxy_rejected (a
/// non-2xx answer) or client_errc::proxy_protocol_error (no HTTP answer), `*diag` then
/// saying why (never the credentials); or with the socket's error.
/// `proxy`, `target` and `user_agent` must outlive the operation.
/// Cancellation: cancel or close the socket. Signature: void(error_code).
template <class CompletionToken>
auto async_proxy_connect(boost::asio::ip::tcp::socket& socket, const proxy_endpoint& proxy,
                         const base_url& target, std::string_view user_agent,
                         std::chrono::milliseconds timeout, diagnostics* diag,
                         CompletionToken&& token) {
    return boost::asio::async_compose<CompletionToken, void(error_code)>(
        proxy_connect_op{socket, proxy, target, user_agent, timeout, diag, {}}, token, socket);
}

} // namespace atomcloud::detail

#endif
