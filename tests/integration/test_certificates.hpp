// Certificates for TLS tests, made with OpenSSL's API at run time: a CA, and leaf
// certificates it signs for chosen names and validity periods (expired ones included).
#ifndef ATOMCLOUD_TESTS_TEST_CERTIFICATES_HPP
#define ATOMCLOUD_TESTS_TEST_CERTIFICATES_HPP

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace atomcloud_test {

/// A certificate and its private key, both PEM.
struct key_pair_pem {
    std::string certificate;
    std::string private_key;
};

/// What a leaf certificate is for.
struct leaf_spec {
    std::vector<std::string> dns_names;
    std::vector<std::string> ip_addresses;
    long valid_from_s = -3600;  ///< notBefore, seconds from now
    long valid_until_s = 86400; ///< notAfter, seconds from now
};

/// A CA with a P-256 key, able to sign leaf certificates.
class test_ca {
public:
    explicit test_ca(const std::string& name = "atomcloud test CA")
        : key_(new_key()), cert_(X509_new()) {
        check(cert_ != nullptr, "X509_new");
        fill(cert_.get(), name, next_serial(), -3600, 7L * 86400);
        check(X509_set_issuer_name(cert_.get(), X509_get_subject_name(cert_.get())), "issuer");
        check(X509_set_pubkey(cert_.get(), key_.get()), "public key");
        extension(cert_.get(), cert_.get(), NID_basic_constraints, "critical,CA:TRUE");
        extension(cert_.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
        extension(cert_.get(), cert_.get(), NID_subject_key_identifier, "hash");
        check(X509_sign(cert_.get(), key_.get(), EVP_sha256()) > 0, "sign CA");
    }

    /// The CA certificate, PEM.
    std::string pem() const { return to_pem(cert_.get()); }

    /// A leaf certificate signed by this CA, with its key.
    key_pair_pem issue(const leaf_spec& spec) {
        pkey_ptr key = new_key();
        x509_ptr cert(X509_new());
        check(cert != nullptr, "X509_new");
        const std::string cn = !spec.dns_names.empty()      ? spec.dns_names.front()
                               : !spec.ip_addresses.empty() ? spec.ip_addresses.front()
                                                            : std::string("leaf");
        fill(cert.get(), cn, next_serial(), spec.valid_from_s, spec.valid_until_s);
        check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get())), "issuer");
        check(X509_set_pubkey(cert.get(), key.get()), "public key");
        std::string san;
        for (const auto& d : spec.dns_names)
            san += (san.empty() ? "DNS:" : ",DNS:") + d;
        for (const auto& ip : spec.ip_addresses)
            san += (san.empty() ? "IP:" : ",IP:") + ip;
        extension(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
        extension(cert.get(), cert_.get(), NID_key_usage, "critical,digitalSignature");
        extension(cert.get(), cert_.get(), NID_ext_key_usage, "serverAuth");
        if (!san.empty())
            extension(cert.get(), cert_.get(), NID_subject_alt_name, san);
        check(X509_sign(cert.get(), key_.get(), EVP_sha256()) > 0, "sign leaf");

        key_pair_pem out;
        out.certificate = to_pem(cert.get());
        bio_ptr bio(BIO_new(BIO_s_mem()));
        check(bio && PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                              nullptr) == 1,
              "PEM key");
        out.private_key = text(bio.get());
        return out;
    }

private:
    template <class T, void (*Free)(T*)>
    struct deleter {
        void operator()(T* p) const noexcept { Free(p); }
    };
    static void free_bio(BIO* b) { BIO_free(b); }
    using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
    using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
    using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION, X509_EXTENSION_free>>;
    using bio_ptr = std::unique_ptr<BIO, deleter<BIO, free_bio>>;

    static void check(bool ok, const char* step) {
        if (ok)
            return;
        char buf[256] = "unknown error";
        if (unsigned long e = ERR_get_error())
            ERR_error_string_n(e, buf, sizeof buf);
        ERR_clear_error();
        throw std::runtime_error(std::string("test certificate: ") + step + ": " + buf);
    }

    static pkey_ptr new_key() {
        pkey_ptr key(EVP_EC_gen("P-256"));
        check(key != nullptr, "P-256 key");
        return key;
    }

    long next_serial() { return ++serial_; }

    static void fill(X509* cert, const std::string& cn, long serial, long from_s, long until_s) {
        check(X509_set_version(cert, X509_VERSION_3) == 1, "version");
        check(ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) == 1, "serial");
        check(X509_gmtime_adj(X509_getm_notBefore(cert), from_s) != nullptr, "notBefore");
        check(X509_gmtime_adj(X509_getm_notAfter(cert), until_s) != nullptr, "notAfter");
        X509_NAME* name = X509_get_subject_name(cert);
        check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                         0) == 1,
              "subject");
    }

    static void extension(X509* cert, X509* issuer, int nid, const std::string& value) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
        ext_ptr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
        check(ext != nullptr, "extension");
        check(X509_add_ext(cert, ext.get(), -1) == 1, "add extension");
    }

    static std::string text(BIO* bio) {
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio, &data);
        return std::string(data, static_cast<std::size_t>(n));
    }

    static std::string to_pem(X509* cert) {
        bio_ptr bio(BIO_new(BIO_s_mem()));
        check(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "PEM certificate");
        return text(bio.get());
    }

    pkey_ptr key_;
    x509_ptr cert_;
    long serial_ = 0;
};

} // namespace atomcloud_test

#endif
