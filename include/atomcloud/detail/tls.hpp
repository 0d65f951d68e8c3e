// TLS set-up shared by rest_client and session. Internal; includes Asio's SSL headers,
// so only implementation files include it.
#ifndef ATOMCLOUD_DETAIL_TLS_HPP
#define ATOMCLOUD_DETAIL_TLS_HPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/error.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <string>

namespace atomcloud::detail {

/// The TLS context for `opts`: the caller's context if given, otherwise a TLS 1.2+
/// client context trusting the system store (when no CA is given), `ca_file` and/or
/// `ca_pem`. On failure returns nullptr, sets ec and explains in `what`.
ATOMCLOUD_DECL std::shared_ptr<boost::asio::ssl::context>
make_tls_context(const tls_options& opts, error_code& ec, std::string& what);

/// Logs that verification is off (a warning through `log`; without a sink, one line on
/// stderr per process).
ATOMCLOUD_DECL void warn_tls_verification_off(const logger& log);

/// Per-connection TLS settings: SNI (for host names, not IP literals) and, when
/// `verify`, peer verification with host-name checking. Works with asio::ssl::stream and
/// beast::ssl_stream.
template <class TlsStream>
void prepare_tls_stream(TlsStream& stream, const base_url& url, bool verify, error_code& ec) {
    ec = {};
    if (!url.host_is_ip() &&
        !SSL_set_tlsext_host_name(stream.native_handle(), const_cast<char*>(url.host.c_str()))) {
        ec =
            error_code(static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category());
        return;
    }
    if (verify) {
        stream.set_verify_mode(boost::asio::ssl::verify_peer, ec);
        if (!ec)
            stream.set_verify_callback(boost::asio::ssl::host_name_verification(url.host), ec);
    } else {
        stream.set_verify_mode(boost::asio::ssl::verify_none, ec);
    }
}

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/tls.ipp>
#endif

#endif
