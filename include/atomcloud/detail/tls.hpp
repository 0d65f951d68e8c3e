// TLS set-up shared by rest_client and session. Internal; includes Asio's SSL headers,
// so only implementation files include it.
#ifndef ATOMCLOUD_DETAIL_TLS_HPP
#define ATOMCLOUD_DETAIL_TLS_HPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/error.hpp>

#include <boost/asio/ssl/context.hpp>
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

/// Per-connection TLS settings on one SSL object: SNI (for host names, not IP literals)
/// and, when `verify`, peer verification with the host name checked by OpenSSL itself
/// (IP literals are checked against the certificate's IP addresses), so that a mismatch
/// shows in the verify result ("hostname mismatch") rather than as an unspecified failure.
/// A verify callback already on the SSL object (from the caller's context) is kept.
ATOMCLOUD_DECL void prepare_tls(SSL* ssl, const base_url& url, bool verify, error_code& ec);

/// prepare_tls() for asio::ssl::stream and beast::ssl_stream.
template <class TlsStream>
void prepare_tls_stream(TlsStream& stream, const base_url& url, bool verify, error_code& ec) {
    prepare_tls(stream.native_handle(), url, verify, ec);
}

/// Why the peer's certificate was rejected, in words from OpenSSL's verify result
/// ("certificate has expired", "hostname mismatch", "unable to get local issuer
/// certificate" ...). Empty when verification is off, has not failed, or ssl is null.
ATOMCLOUD_DECL std::string tls_verify_failure(const SSL* ssl);

/// The error to report for a failed TLS handshake on `ssl`: client_errc::certificate_rejected
/// when peer verification was on and the certificate failed it (tls_verify_failure() says
/// why), otherwise `ec` unchanged.
ATOMCLOUD_DECL error_code classify_tls_error(const error_code& ec, const SSL* ssl);

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/tls.ipp>
#endif

#endif
