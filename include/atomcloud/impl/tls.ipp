#ifndef ATOMCLOUD_IMPL_TLS_IPP
#define ATOMCLOUD_IMPL_TLS_IPP

#include <atomcloud/detail/tls.hpp>

#include <boost/asio/buffer.hpp>

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

} // namespace atomcloud::detail

#endif
