// The HTTP proxy's decisions without a socket: the proxy URL, no_proxy, the CONNECT
// request, the answer's reader, and how refusals are classified.
#include <atomcloud/config.hpp>
#include <atomcloud/detail/proxy.hpp>
#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/detail/session_fsm.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

using atomcloud::client_errc;
using atomcloud::error_code;
namespace detail = atomcloud::detail;

namespace {

detail::proxy_endpoint parse_ok(std::string_view url) {
    error_code ec;
    std::string what;
    auto p = detail::parse_proxy_url(url, ec, what);
    INFO(url << ": " << what);
    REQUIRE_FALSE(ec);
    REQUIRE(p);
    return *p;
}

std::string parse_error(std::string_view url) {
    error_code ec;
    std::string what;
    auto p = detail::parse_proxy_url(url, ec, what);
    CHECK_FALSE(p);
    CHECK(ec == client_errc::invalid_config);
    return what;
}

detail::base_url target(std::string host, std::string port = "443") {
    return {std::move(host), std::move(port), ""};
}

bool bypass(std::string_view list, std::string_view host, std::string_view port = "443") {
    return detail::bypasses_proxy(detail::parse_no_proxy(list), host, port);
}

} // namespace

TEST_CASE("proxy URLs are parsed and checked once", "[proxy]") {
    auto p = parse_ok("http://proxy.corp:3128");
    CHECK(p.host == "proxy.corp");
    CHECK(p.port == "3128");
    CHECK(p.authorization.empty());
    CHECK(p.address() == "proxy.corp:3128");

    CHECK(parse_ok("HTTP://proxy.corp").port == "80");
    CHECK(parse_ok("proxy.corp:8080/").port == "8080"); // no scheme, trailing slash
    p = parse_ok("http://[::1]:3128");
    CHECK(p.host == "::1");
    CHECK(p.address() == "[::1]:3128");

    // Credentials: percent-decoded, the password may be empty or hold ':' and '@'.
    CHECK(parse_ok("http://user:pass@h:1").authorization == "Basic dXNlcjpwYXNz");
    CHECK(parse_ok("http://us%40er:p%3Aa%40ss@h:1").authorization ==
          "Basic dXNAZXI6cDphQHNz");                                      // us@er:p:a@ss
    CHECK(parse_ok("http://user@h:1").authorization == "Basic dXNlcjo="); // user:

    error_code ec = client_errc::invalid_config;
    std::string what;
    CHECK_FALSE(detail::parse_proxy_url("", ec, what)); // no proxy
    CHECK_FALSE(ec);
}

TEST_CASE("a bad proxy URL is invalid_config, without the credentials", "[proxy]") {
    CHECK(parse_error("https://h:1").find("not supported") != std::string::npos);
    CHECK(parse_error("socks5://h:1").find("only http://") != std::string::npos);
    parse_error("http://h:0");
    parse_error("http://h:65536");
    parse_error("http://h:x");
    parse_error("http://h:");
    parse_error("http://:80");
    parse_error("http://h:1/path");
    parse_error("http://h:1?q");
    parse_error("http://h:1a");
    parse_error("http://h:-1");
    parse_error("http://h r:1");
    parse_error("http://[::1:1");
    for (const char* bad : {"http://s3cr3tuser:s3cr3tpw@h:x", "http://s3cr3tuser:s3cr3tpw%zz@h:1",
                            "http://:s3cr3tpw@h:1", "http://s3cr3tuser%3A:s3cr3tpw@h:1",
                            "https://s3cr3tuser:s3cr3tpw@h:1"}) {
        const std::string what = parse_error(bad);
        INFO(what);
        CHECK(what.find("config.proxy") == 0);
        CHECK(what.find("s3cr3t") == std::string::npos);
    }
}

TEST_CASE("no_proxy matches suffixes, *, ports and IP literals", "[proxy]") {
    CHECK(bypass("example.com", "example.com"));
    CHECK(bypass("example.com", "api.example.com"));
    CHECK(bypass(".example.com", "api.example.com"));
    CHECK(bypass(".example.com", "example.com"));
    CHECK(bypass("*.example.com", "a.b.example.com"));
    CHECK(bypass("EXAMPLE.com", "Api.Example.COM."));
    CHECK_FALSE(bypass("example.com", "badexample.com"));
    CHECK_FALSE(bypass("api.example.com", "example.com"));
    CHECK(bypass("*", "anything"));
    CHECK(bypass("a.org, b.org ,c.org", "x.b.org"));
    CHECK(bypass("a.org b.org", "b.org"));
    CHECK_FALSE(bypass(",,", "a.org"));
    CHECK_FALSE(bypass("", "a.org"));

    // host:port matches that port only.
    CHECK(bypass("example.com:443", "example.com", "443"));
    CHECK_FALSE(bypass("example.com:443", "example.com", "8443"));
    CHECK_FALSE(bypass("example.com:bad", "example.com", "443"));

    // IP literals match exactly; loopback is not special.
    CHECK(bypass("127.0.0.1", "127.0.0.1"));
    CHECK_FALSE(bypass("0.0.1", "127.0.0.1"));
    CHECK_FALSE(bypass("localhost", "127.0.0.1"));
    CHECK_FALSE(bypass("example.com", "127.0.0.1"));
    CHECK(bypass("127.0.0.1:8443", "127.0.0.1", "8443"));
    CHECK(bypass("::1", "::1"));
    CHECK(bypass("[::1]", "::1"));
    CHECK(bypass("[::1]:8443", "::1", "8443"));
    CHECK_FALSE(bypass("[::1]:8443", "::1", "443"));
}

TEST_CASE("proxy_for applies no_proxy to the target", "[proxy]") {
    atomcloud::config cfg;
    error_code ec;
    std::string what;
    CHECK_FALSE(detail::proxy_for(cfg, target("cloud.alientek.com"), ec, what));
    CHECK_FALSE(ec);
    cfg.proxy = "http://p:3128";
    auto p = detail::proxy_for(cfg, target("cloud.alientek.com"), ec, what);
    REQUIRE(p);
    CHECK(p->address() == "p:3128");
    cfg.no_proxy = "alientek.com";
    CHECK_FALSE(detail::proxy_for(cfg, target("cloud.alientek.com"), ec, what));
    CHECK_FALSE(ec);
    cfg.proxy = "ftp://p";
    CHECK_FALSE(detail::proxy_for(cfg, target("x.org"), ec, what));
    CHECK(ec == client_errc::invalid_config);
}

TEST_CASE("the CONNECT request names the target with its port", "[proxy]") {
    auto p = parse_ok("http://u:pw@p:3128");
    CHECK(detail::proxy_connect_request(target("cloud.alientek.com"), p, "atomcloud/1") ==
          "CONNECT cloud.alientek.com:443 HTTP/1.1\r\nHost: cloud.alientek.com:443\r\n"
          "Proxy-Authorization: Basic dTpwdw==\r\nUser-Agent: atomcloud/1\r\n\r\n");
    CHECK(detail::proxy_connect_request(target("::1", "8443"), parse_ok("p:1"), "") ==
          "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
}

TEST_CASE("the answer's reader takes the header only, in any pieces", "[proxy]") {
    const std::string answer = "HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n";
    const std::string tunnel = "\x16\x03\x01 server bytes";
    const auto proxy = parse_ok("p:1");
    for (std::size_t piece = 1; piece <= answer.size() + tunnel.size(); ++piece) {
        detail::proxy_response_reader r;
        const std::string all = answer + tunnel;
        std::size_t taken = 0;
        for (std::size_t at = 0; at < all.size() && !r.done(); at += piece) {
            // As the socket code does: offered what is there, not yet taken.
            const std::size_t used =
                r.feed(std::string_view(all).substr(taken, piece + at - taken));
            taken += used;
        }
        INFO(piece);
        REQUIRE(r.done());
        CHECK_FALSE(r.failed());
        CHECK(taken == answer.size());
        CHECK(r.status() == 200);
        CHECK(r.reason() == "Connection established");
        atomcloud::diagnostics d;
        CHECK_FALSE(r.result(proxy, target("h"), d));
    }
    detail::proxy_response_reader lf;
    CHECK(lf.feed("HTTP/1.0 200\n\nmore") == 14);
    CHECK(lf.status() == 200);
    CHECK(lf.reason().empty());
}

TEST_CASE("refusals carry the status and the reason, never the credentials", "[proxy]") {
    const auto proxy = parse_ok("http://s3cr3tuser:s3cr3tpw@proxy.corp:3128");
    auto refuse = [&](std::string_view answer, atomcloud::diagnostics& d) {
        detail::proxy_response_reader r;
        r.feed(answer);
        REQUIRE(r.done());
        return r.result(proxy, target("cloud.alientek.com"), d);
    };
    atomcloud::diagnostics d;
    CHECK(refuse("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
                 "Content-Length: 5\r\n\r\n",
                 d) == client_errc::proxy_rejected);
    CHECK(d.http_status() == 407);
    CHECK(d.client_message().find("Proxy Authentication Required") != std::string::npos);
    CHECK(d.client_message().find("authentication required") != std::string::npos);
    CHECK(d.client_message().find("proxy.corp:3128") != std::string::npos);
    CHECK(d.client_message().find("cloud.alientek.com") != std::string::npos);
    CHECK(d.to_string().find("s3cr3t") == std::string::npos);
    CHECK(d.to_string().find("czNjcjN0") == std::string::npos); // nor in base64

    d = {};
    CHECK(refuse("HTTP/1.1 502 Bad Gateway\r\n\r\n", d) == client_errc::proxy_rejected);
    CHECK(d.http_status() == 502);
    d = {};
    CHECK(refuse("SSH-2.0-OpenSSH\r\n\r\n", d) == client_errc::proxy_protocol_error);
    d = {};
    CHECK(refuse("HTTP/1.1 20 x\r\n\r\n", d) == client_errc::proxy_protocol_error);
    d = {};
    CHECK(refuse("HTTP/1.1 403 \x01\xff\r\n\r\n", d) == client_errc::proxy_rejected);
    CHECK(d.client_message().find('\x01') == std::string::npos);

    // A header without end, over the limit.
    detail::proxy_response_reader big(64);
    const std::string line = "HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a');
    CHECK(big.feed(line) <= 65);
    CHECK(big.done());
    CHECK(big.failed());
    CHECK(big.result(proxy, target("h"), d) == client_errc::proxy_protocol_error);

    // Nothing at all (the proxy closed the connection).
    detail::proxy_response_reader none;
    CHECK(none.result(proxy, target("h"), d) == client_errc::proxy_protocol_error);
}

TEST_CASE("proxy refusals: 407 and 403 are final, 5xx transient", "[proxy]") {
    using detail::classify_failure;
    using detail::connect_stage;
    using detail::failure_class;
    const error_code rejected = client_errc::proxy_rejected;
    CHECK(classify_failure(connect_stage::connect, rejected, 407, false) ==
          failure_class::permanent);
    CHECK(classify_failure(connect_stage::connect, rejected, 403, false) ==
          failure_class::permanent);
    for (int s : {502, 503, 504})
        CHECK(classify_failure(connect_stage::connect, rejected, s, false) ==
              failure_class::transient);
    CHECK_FALSE(detail::is_transient(rejected, 407));
    CHECK_FALSE(detail::is_transient(rejected, 403));
    CHECK(detail::is_transient(rejected, 502));
    CHECK(detail::is_transient(rejected, 503));
    CHECK(detail::is_transient(rejected, 504));
    CHECK_FALSE(detail::is_transient(client_errc::proxy_protocol_error, 0));
}

TEST_CASE("config::from_env reads the proxy variables", "[proxy][config]") {
    ::unsetenv("HTTPS_PROXY");
    ::unsetenv("https_proxy");
    ::unsetenv("NO_PROXY");
    ::unsetenv("no_proxy");
    CHECK(atomcloud::config::from_env().proxy.empty());
    ::setenv("https_proxy", "http://lower:1", 1);
    ::setenv("no_proxy", "lower.org", 1);
    auto cfg = atomcloud::config::from_env();
    CHECK(cfg.proxy == "http://lower:1");
    CHECK(cfg.no_proxy == "lower.org");
    ::setenv("HTTPS_PROXY", "http://upper:1", 1);
    ::setenv("NO_PROXY", "upper.org", 1);
    cfg = atomcloud::config::from_env();
    CHECK(cfg.proxy == "http://upper:1");
    CHECK(cfg.no_proxy == "upper.org");
    ::unsetenv("HTTPS_PROXY");
    ::unsetenv("https_proxy");
    ::unsetenv("NO_PROXY");
    ::unsetenv("no_proxy");
}
