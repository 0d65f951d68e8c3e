#ifndef ATOMCLOUD_IMPL_TLS_IPP
#define ATOMCLOUD_IMPL_TLS_IPP

#include <atomcloud/detail/tls.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <cstdio>

namespace atomcloud::detail {

ATOMCLOUD_DECL std::shared_ptr<boost::asio::ssl::context>
make_tls_context(const tls_options& opts, error_code& ec, std::string& what) {
    namespace ssl = boost::asio::ssl;
    ec = {};
    if (opts.context)
        return opts.context;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
    if (opts.ca_file.empty() && opts.ca_pem.empty()) {
        ctx->set_default_verify_paths(ec);
        if (ec) {
            what = "cannot load the system's trusted CA certificates";
            return nullptr;
        }
    }
    if (!opts.ca_file.empty()) {
        ctx->load_verify_file(opts.ca_file, ec);
        if (ec) {
            what = "cannot load CA file '" + opts.ca_file + "'";
            return nullptr;
        }
    }
    if (!opts.ca_pem.empty()) {
        ctx->add_certificate_authority(boost::asio::buffer(opts.ca_pem), ec);
        if (ec) {
            what = "cannot parse the CA PEM text";
            return nullptr;
        }
    }
    ctx->set_verify_mode(opts.verify ? ssl::verify_peer : ssl::verify_none, ec);
    return ctx;
}

ATOMCLOUD_DECL void warn_tls_verification_off(const logger& log) {
    static constexpr const char* text =
        "TLS certificate verification is DISABLED: the connection can be intercepted";
    if (log.sink) {
        log.log(log_level::warning, text);
        return;
    }
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
        std::fprintf(stderr, "atomcloud [warning] %s\n", text);
}

ATOMCLOUD_DECL void prepare_tls(SSL* ssl, const base_url& url, bool verify, error_code& ec) {
    ec = {};
    const auto ssl_error = [] {
        const auto e = ::ERR_get_error();
        return e ? error_code(static_cast<int>(e), boost::asio::error::get_ssl_category())
                 : error_code(boost::asio::error::invalid_argument);
    };
    ::ERR_clear_error();
    if (!ssl) {
        ec = boost::asio::error::bad_descriptor;
        return;
    }
    const bool ip = url.host_is_ip();
    if (!ip && !SSL_set_tlsext_host_name(ssl, const_cast<char*>(url.host.c_str()))) {
        ec = ssl_error();
        return;
    }
    if (!verify) {
        ::SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
        return;
    }
    ::SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr); // null keeps the context's callback
    if (ip) {
        if (!::X509_VERIFY_PARAM_set1_ip_asc(::SSL_get0_param(ssl), url.host.c_str()))
            ec = ssl_error();
        return;
    }
    ::SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!::SSL_set1_host(ssl, url.host.c_str()))
        ec = ssl_error();
}

ATOMCLOUD_DECL std::string tls_verify_failure(const SSL* ssl) {
    if (!ssl || !(::SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER))
        return {};
    const long result = ::SSL_get_verify_result(ssl);
    if (result == X509_V_OK)
        return {};
    const char* text = ::X509_verify_cert_error_string(result);
    return text ? text : "certificate verification error " + std::to_string(result);
}

ATOMCLOUD_DECL error_code classify_tls_error(const error_code& ec, const SSL* ssl) {
    if (ec && ssl && (::SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) &&
        ::SSL_get_verify_result(ssl) != X509_V_OK)
        return client_errc::certificate_rejected;
    return ec;
}

} // namespace atomcloud::detail

#endif
