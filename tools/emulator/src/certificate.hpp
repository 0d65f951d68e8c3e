// The emulator's TLS certificate: generated at start-up (self-signed, usable as its own
// CA) or loaded from files.
#ifndef ATOMCLOUD_EMULATOR_SRC_CERTIFICATE_HPP
#define ATOMCLOUD_EMULATOR_SRC_CERTIFICATE_HPP

#include <string>
#include <vector>

namespace atomcloud::emulator::detail {

struct certificate_pem {
    std::string certificate; ///< PEM certificate (chain)
    std::string private_key; ///< PEM private key
};

/// A fresh self-signed certificate with an EC P-256 key, valid from an hour ago for a
/// year, subject "O=atomcloud emulator, CN=atomcloud emulator <8 hex digits>", with
/// subjectAltName DNS entries `dns_names` and
/// IP entries `ip_addresses`, basicConstraints CA:TRUE (so clients can trust it as their
/// CA) and extendedKeyUsage serverAuth. Throws std::runtime_error if OpenSSL fails.
certificate_pem make_self_signed_certificate(const std::vector<std::string>& dns_names,
                                             const std::vector<std::string>& ip_addresses);

} // namespace atomcloud::emulator::detail

#endif
