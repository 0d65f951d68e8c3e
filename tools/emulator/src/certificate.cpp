#include "certificate.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace atomcloud::emulator::detail {

namespace {

template <class T, void (*Free)(T*)>
struct deleter {
    void operator()(T* p) const noexcept { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;

void bio_free(BIO* b) {
    BIO_free(b);
}
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, bio_free>>;

[[noreturn]] void fail(const char* step) {
    char buf[256] = "unknown error";
    if (unsigned long e = ERR_get_error())
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    throw std::runtime_error(std::string("cannot generate the TLS certificate (") + step +
                             "): " + buf);
}

void check(int ok, const char* step) {
    if (ok != 1)
        fail(step);
}

void add_extension(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    ext_ptr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext)
        fail("extension");
    check(X509_add_ext(cert, ext.get(), -1), "add extension");
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

} // namespace

certificate_pem make_self_signed_certificate(const std::vector<std::string>& dns_names,
                                             const std::vector<std::string>& ip_addresses) {
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key)
        fail("P-256 key");

    x509_ptr cert(X509_new());
    if (!cert)
        fail("X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3), "version");

    unsigned char serial_bytes[16];
    check(RAND_bytes(serial_bytes, sizeof serial_bytes), "serial");
    serial_bytes[0] &= 0x7f; // positive
    bn_ptr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
    if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
        fail("serial");

    if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60L * 60) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 60 * 60))
        fail("validity");
    check(X509_set_pubkey(cert.get(), key.get()), "public key");

    X509_NAME* name = X509_get_subject_name(cert.get());
    const auto* org = reinterpret_cast<const unsigned char*>("atomcloud emulator");
    // A name of its own per certificate: a trust store holding the certificates of several
    // emulators looks them up by name, and the same name would hide all but one.
    static constexpr char digits[] = "0123456789abcdef";
    std::string cn_text = "atomcloud emulator ";
    for (int i = 0; i < 4; ++i) {
        cn_text += digits[serial_bytes[i + 1] >> 4];
        cn_text += digits[serial_bytes[i + 1] & 0x0f];
    }
    const auto* cn = reinterpret_cast<const unsigned char*>(cn_text.c_str());
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, org, -1, -1, 0), "subject");
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0), "subject");
    check(X509_set_issuer_name(cert.get(), name), "issuer");

    std::string san;
    for (const auto& d : dns_names)
        san += (san.empty() ? "DNS:" : ",DNS:") + d;
    for (const auto& ip : ip_addresses)
        san += (san.empty() ? "IP:" : ",IP:") + ip;
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
    add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), NID_subject_key_identifier, "hash");
    if (!san.empty())
        add_extension(cert.get(), NID_subject_alt_name, san);

    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
        fail("sign");

    certificate_pem out;
    bio_ptr cert_bio(BIO_new(BIO_s_mem()));
    bio_ptr key_bio(BIO_new(BIO_s_mem()));
    if (!cert_bio || !key_bio)
        fail("BIO");
    check(PEM_write_bio_X509(cert_bio.get(), cert.get()), "PEM certificate");
    check(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
          "PEM key");
    out.certificate = bio_text(cert_bio.get());
    out.private_key = bio_text(key_bio.get());
    return out;
}

} // namespace atomcloud::emulator::detail
