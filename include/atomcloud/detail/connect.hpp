// Establishing a TLS connection: resolve, TCP connect, TLS handshake, each step with its
// own time limit. Shared by rest_client and session. Internal; header-only (a template).
#ifndef ATOMCLOUD_DETAIL_CONNECT_HPP
#define ATOMCLOUD_DETAIL_CONNECT_HPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/proxy_connect.hpp>
#include <atomcloud/detail/tls.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/error.hpp>

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>
#include <string>
#include <utility>

namespace atomcloud::detail {

/// The TLS stream both clients use.
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// Which step of async_connect_tls failed.
enum class connect_step { none, resolve, connect, tls_handshake, proxy };

inline const char* to_string(connect_step s) noexcept {
    switch (s) {
    case connect_step::none:
        return "none";
    case connect_step::resolve:
        return "resolve";
    case connect_step::connect:
        return "TCP connect";
    case connect_step::tls_handshake:
        return "TLS handshake";
    case connect_step::proxy:
        return "proxy CONNECT";
    }
    return "unknown";
}

template <class Stream>
struct connect_tls_op {
    Stream& stream;
    boost::asio::ip::tcp::resolver& resolver;
    const base_url& url;
    bool verify;
    timeout_options timeouts;
    connect_step* failed;
    std::string* verify_failure; // may be null
    const proxy_endpoint* proxy; // null: direct
    std::string_view user_agent; // for the CONNECT request
    diagnostics* proxy_diag;     // why the proxy refused; may be null

    // Guards the resolve timeout: the resolver has no time limit of its own.
    struct resolve_guard {
        explicit resolve_guard(const boost::asio::any_io_executor& ex) : timer(ex) {}
        boost::asio::steady_timer timer;
        bool done = false;
        bool timed_out = false;
    };
    std::shared_ptr<resolve_guard> guard;

    template <class Self>
    void operator()(Self& self) {
        *failed = connect_step::resolve;
        guard = std::make_shared<resolve_guard>(resolver.get_executor());
        guard->timer.expires_after(timeouts.resolve);
        guard->timer.async_wait([g = guard, r = &resolver](const error_code& ec) {
            if (!ec && !g->done) {
                g->timed_out = true;
                r->cancel();
            }
        });
        // The resolver ignores per-operation cancellation; forward it by hand.
        auto slot = self.get_cancellation_state().slot();
        if (slot.is_connected())
            slot.assign([g = guard, r = &resolver](boost::asio::cancellation_type) {
                if (!g->done)
                    r->cancel();
            });
        if (proxy)
            resolver.async_resolve(proxy->host, proxy->port, std::move(self));
        else
            resolver.async_resolve(url.host, url.port, std::move(self));
    }

    template <class Self>
    void operator()(Self& self, error_code ec,
                    boost::asio::ip::tcp::resolver::results_type results) {
        guard->done = true;
        guard->timer.cancel();
        auto slot = self.get_cancellation_state().slot();
        if (slot.is_connected())
            slot.clear();
        if (guard->timed_out)
            ec = boost::beast::error::timeout;
        if (ec)
            return self.complete(ec);
        *failed = connect_step::connect;
        auto& tcp = boost::beast::get_lowest_layer(stream);
        tcp.expires_after(timeouts.connect);
        tcp.async_connect(results, std::move(self));
    }

    template <class Self>
    void operator()(Self& self, error_code ec, const boost::asio::ip::tcp::endpoint&) {
        if (ec)
            return self.complete(ec);
        if (proxy) {
            *failed = connect_step::proxy;
            auto& tcp = boost::beast::get_lowest_layer(stream);
            tcp.expires_never();
            return async_proxy_connect(tcp.socket(), *proxy, url, user_agent, timeouts.connect,
                                       proxy_diag, std::move(self));
        }
        start_tls(self);
    }

    template <class Self>
    void start_tls(Self& self) {
        error_code ec;
        prepare_tls_stream(stream, url, verify, ec);
        if (ec) {
            *failed = connect_step::tls_handshake;
            return self.complete(ec);
        }
        *failed = connect_step::tls_handshake;
        boost::beast::get_lowest_layer(stream).expires_after(timeouts.tls_handshake);
        stream.async_handshake(boost::asio::ssl::stream_base::client, std::move(self));
    }

    template <class Self>
    void operator()(Self& self, error_code ec) {
        // The proxy's CONNECT and the TLS handshake complete with a bare error_code.
        if (*failed == connect_step::proxy) {
            if (ec)
                return self.complete(ec);
            return start_tls(self);
        }
        if (!ec) {
            *failed = connect_step::none;
            boost::beast::get_lowest_layer(stream).expires_never();
        } else {
            ec = classify_tls_error(ec, stream.native_handle());
            if (verify_failure && ec == client_errc::certificate_rejected)
                *verify_failure = tls_verify_failure(stream.native_handle());
        }
        self.complete(ec);
    }
};

/// Resolves url.host, connects the TCP stream under `stream` and performs the TLS
/// client handshake (SNI, and host-name verification when `verify`). Each step has
/// its own limit from `timeouts`; exceeding one completes with beast::error::timeout.
/// `*failed` tells which step an error came from (connect_step::none on success).
/// A certificate that fails verification completes with client_errc::certificate_rejected
/// and, when `verify_failure` is not null, stores the reason in words there
/// ("certificate has expired", "hostname mismatch" ...).
/// Per-operation cancellation (terminal) is honoured at every step.
/// Signature: void(error_code).
template <class Stream, class CompletionToken>
auto async_connect_tls(Stream& stream, boost::asio::ip::tcp::resolver& resolver,
                       const base_url& url, bool verify, const timeout_options& timeouts,
                       connect_step* failed, std::string* verify_failure, CompletionToken&& token) {
    return async_connect_tls(stream, resolver, url, nullptr, {}, verify, timeouts, failed,
                             verify_failure, nullptr, std::forward<CompletionToken>(token));
}

/// async_connect_tls() through an HTTP proxy (none when `proxy` is null): resolves and
/// connects to the proxy, asks it for a tunnel to `url` (connect_step::proxy, within
/// timeouts.connect; a refusal completes with client_errc::proxy_rejected or
/// proxy_protocol_error, `*proxy_diag` saying why), then the TLS handshake with `url`'s
/// host through the tunnel. `proxy` and `user_agent` must outlive the operation.
template <class Stream, class CompletionToken>
auto async_connect_tls(Stream& stream, boost::asio::ip::tcp::resolver& resolver,
                       const base_url& url, const proxy_endpoint* proxy,
                       std::string_view user_agent, bool verify, const timeout_options& timeouts,
                       connect_step* failed, std::string* verify_failure, diagnostics* proxy_diag,
                       CompletionToken&& token) {
    return boost::asio::async_compose<CompletionToken, void(error_code)>(
        connect_tls_op<Stream>{stream, resolver, url, verify, timeouts, failed, verify_failure,
                               proxy, user_agent, proxy_diag, nullptr},
        token, stream);
}

/// async_connect_tls() without the reason for a rejected certificate.
template <class Stream, class CompletionToken>
auto async_connect_tls(Stream& stream, boost::asio::ip::tcp::resolver& resolver,
                       const base_url& url, bool verify, const timeout_options& timeouts,
                       connect_step* failed, CompletionToken&& token) {
    return async_connect_tls(stream, resolver, url, verify, timeouts, failed, nullptr,
                             std::forward<CompletionToken>(token));
}

} // namespace atomcloud::detail

#endif
