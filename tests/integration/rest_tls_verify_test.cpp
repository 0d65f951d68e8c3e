// rest_client against a small HTTPS server in the test whose certificate fails
// verification in chosen ways: the call fails at once (no retry) with
// client_errc::certificate_rejected, and the diagnostics say why in words.
//
// The server runs on the io_context the client's synchronous calls drive, so everything
// happens on the test's thread.
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <catch2/catch.hpp>

#include "test_certificates.hpp"

#include <chrono>
#include <memory>
#include <string>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using atomcloud::client_errc;
using atomcloud::diagnostics;
using atomcloud::error_code;
using atomcloud_test::leaf_spec;
using atomcloud_test::test_ca;

namespace {

// Answers every GET with one organisation, over TLS with the certificate it is given.
class https_server {
public:
    https_server(asio::io_context& io, const atomcloud_test::key_pair_pem& kp)
        : ctx_(ssl::context::tls_server),
          acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        ctx_.use_certificate_chain(asio::buffer(kp.certificate));
        ctx_.use_private_key(asio::buffer(kp.private_key), ssl::context::pem);
        accept();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    int connections = 0; ///< TCP connections accepted
    int handshakes = 0;  ///< TLS handshakes that succeeded
    int requests = 0;    ///< HTTP requests answered

private:
    struct connection {
        explicit connection(tcp::socket s, ssl::context& ctx) : stream(std::move(s), ctx) {}
        ssl::stream<tcp::socket> stream;
        boost::beast::flat_buffer buffer;
        http::request<http::string_body> req;
        http::response<http::string_body> res;
    };

    void accept() {
        acceptor_.async_accept([this](error_code ec, tcp::socket s) {
            if (ec)
                return;
            ++connections;
            auto c = std::make_shared<connection>(std::move(s), ctx_);
            c->stream.async_handshake(ssl::stream_base::server, [this, c](error_code hec) {
                if (hec)
                    return;
                ++handshakes;
                serve(c);
            });
            accept();
        });
    }

    void serve(const std::shared_ptr<connection>& c) {
        c->req = {};
        http::async_read(c->stream, c->buffer, c->req, [this, c](error_code ec, std::size_t) {
            if (ec)
                return;
            ++requests;
            c->res = {http::status::ok, c->req.version()};
            c->res.set(http::field::content_type, "application/json");
            c->res.body() = R"({"code":200,"message":"ok","data":[{"id":7,"name":"test org"}]})";
            c->res.keep_alive(c->req.keep_alive());
            c->res.prepare_payload();
            http::async_write(c->stream, c->res, [this, c](error_code wec, std::size_t) {
                if (!wec)
                    serve(c);
            });
        });
    }

    ssl::context ctx_;
    tcp::acceptor acceptor_;
};

// A CA the client trusts, a server presenting `leaf` (signed by that CA unless
// `untrusted_ca`), and a client configured for https://<host>:<port>.
struct tls_env {
    tls_env(const leaf_spec& leaf, const std::string& host = "127.0.0.1", bool untrusted_ca = false)
        : server(io, untrusted_ca ? stranger.issue(leaf) : ca.issue(leaf)) {
        cfg.base_url = "https://" + host + ":" + std::to_string(server.port());
        cfg.token = "test-token";
        cfg.tls.ca_pem = ca.pem();
        cfg.timeouts.request = 20s;
        cfg.retry.backoff.initial_delay = 5ms;
        cfg.retry.backoff.max_delay = 20ms;
    }

    test_ca ca{"atomcloud test CA"};
    test_ca stranger{"a CA nobody trusts"};
    asio::io_context io;
    https_server server;
    atomcloud::config cfg;
};

} // namespace

TEST_CASE("rest_client over TLS: a certificate that verifies is accepted", "[rest][tls]") {
    tls_env e(leaf_spec{{"localhost"}, {"127.0.0.1"}});
    atomcloud::rest_client api(e.io, e.cfg);
    diagnostics diag;
    error_code ec;
    const auto orgs = api.list_orgs(ec, diag);
    REQUIRE_FALSE(ec);
    REQUIRE(orgs.size() == 1);
    CHECK(orgs[0].id == 7);
    CHECK(orgs[0].name == "test org");
    CHECK(e.server.requests == 1);
}

TEST_CASE("rest_client over TLS: a rejected certificate fails at once with the reason",
          "[rest][tls]") {
    struct case_t {
        const char* what;
        leaf_spec leaf;
        const char* host;
        bool untrusted_ca;
        const char* reason;
    };
    const auto c = GENERATE(
        case_t{"for another name, reached by IP",
               {{"other.example"}, {}},
               "127.0.0.1",
               false,
               "IP address mismatch"},
        case_t{
            "for another name", {{"other.example"}, {}}, "localhost", false, "hostname mismatch"},
        case_t{"from a CA not trusted",
               {{"localhost"}, {"127.0.0.1"}},
               "127.0.0.1",
               true,
               "unable to get local issuer certificate"},
        case_t{"expired",
               {{"localhost"}, {"127.0.0.1"}, -3 * 86400, -86400},
               "127.0.0.1",
               false,
               "certificate has expired"});
    INFO(c.what);
    tls_env e(c.leaf, c.host, c.untrusted_ca);
    e.cfg.retry.max_attempts = 3;
    atomcloud::rest_client api(e.io, e.cfg);
    diagnostics diag;
    error_code ec;
    api.list_orgs(ec, diag);
    INFO(diag.to_string());
    CHECK(ec == client_errc::certificate_rejected);
    // A certificate that does not verify will not on the next attempt either.
    CHECK(e.server.connections == 1);
    CHECK(e.server.handshakes == 0);
    CHECK(e.server.requests == 0);
    CHECK(diag.http_status() == 0);

    // The reason in words, in the diagnostics and in what the throwing form reports.
    CHECK(diag.client_message().find("TLS certificate rejected") != std::string::npos);
    CHECK(diag.client_message().find(c.reason) != std::string::npos);
    try {
        api.list_orgs();
        FAIL("no exception");
    } catch (const atomcloud::error& err) {
        CHECK(err.boost_code() == client_errc::certificate_rejected);
        CHECK(std::string(err.what()).find(c.reason) != std::string::npos);
    }
}
