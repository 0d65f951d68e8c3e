// The server's TLS context: a certificate from files or a fresh self-signed one.
#include "certificate.hpp"
#include "server_impl.hpp"

#include <fstream>
#include <sstream>

namespace atomcloud::emulator::detail {

namespace ssl = boost::asio::ssl;

std::string read_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error(std::string("cannot read the ") + what + " file '" + path + "'");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

namespace {

/// The options' certificate chain and key; returns what clients must trust.
std::string use_files(ssl::context& tls, const options& opts) {
    if (opts.cert_file.empty() || opts.key_file.empty())
        throw std::runtime_error("atomcloud::emulator: give both a certificate and a key file");
    const std::string chain = read_file(opts.cert_file, "certificate");
    const std::string key = read_file(opts.key_file, "private key");
    error_code ec;
    tls.use_certificate_chain(boost::asio::buffer(chain), ec);
    if (ec)
        throw std::runtime_error("atomcloud::emulator: cannot use the certificate '" +
                                 opts.cert_file + "': " + ec.message());
    tls.use_private_key(boost::asio::buffer(key), ssl::context::pem, ec);
    if (ec)
        throw std::runtime_error("atomcloud::emulator: cannot use the private key '" +
                                 opts.key_file + "': " + ec.message());
    return opts.ca_file.empty() ? chain : read_file(opts.ca_file, "CA");
}

} // namespace

std::unique_ptr<ssl::context> make_tls_context(const options& opts,
                                               const boost::asio::ip::address& address,
                                               std::string& ca_pem) {
    auto tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                     ssl::context::single_dh_use);
    if (!opts.cert_file.empty() || !opts.key_file.empty()) {
        ca_pem = use_files(*tls, opts);
        return tls;
    }
    std::vector<std::string> ips{"127.0.0.1", "::1"};
    if (!address.is_unspecified() && !address.is_loopback())
        ips.push_back(address.to_string());
    auto pem = make_self_signed_certificate({"localhost"}, ips);
    tls->use_certificate_chain(boost::asio::buffer(pem.certificate));
    tls->use_private_key(boost::asio::buffer(pem.private_key), ssl::context::pem);
    ca_pem = std::move(pem.certificate);
    return tls;
}

} // namespace atomcloud::emulator::detail
