#include <atomcloud/detail/url.hpp>
#include <atomcloud/logger.hpp>

#include <catch2/catch.hpp>

using atomcloud::client_errc;
using atomcloud::detail::parse_base_url;

TEST_CASE("base URL: host only", "[url]") {
    atomcloud::error_code ec;
    auto u = parse_base_url("https://cloud.alientek.com", ec);
    REQUIRE(u);
    CHECK_FALSE(ec);
    CHECK(u->host == "cloud.alientek.com");
    CHECK(u->port == "443");
    CHECK(u->path_prefix.empty());
    CHECK(u->host_header() == "cloud.alientek.com");
    CHECK_FALSE(u->host_is_ip());
}

TEST_CASE("base URL: port, prefix, IP literals", "[url]") {
    atomcloud::error_code ec;
    auto u = parse_base_url("HTTPS://127.0.0.1:8443/v2/", ec);
    REQUIRE(u);
    CHECK(u->host == "127.0.0.1");
    CHECK(u->port == "8443");
    CHECK(u->path_prefix == "/v2");
    CHECK(u->host_header() == "127.0.0.1:8443");
    CHECK(u->host_is_ip());

    auto v6 = parse_base_url("https://[::1]:9000", ec);
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == "9000");
    CHECK(v6->host_header() == "[::1]:9000");
    CHECK(v6->host_is_ip());

    auto wss = parse_base_url("wss://example.com/a/b", ec);
    REQUIRE(wss);
    CHECK(wss->path_prefix == "/a/b");
}

TEST_CASE("base URL: rejects what it cannot use", "[url]") {
    for (std::string_view bad : {"",
                                 "cloud.alientek.com",
                                 "http://cloud.alientek.com",
                                 "ftp://x",
                                 "https://",
                                 "https://:443",
                                 "https://host:",
                                 "https://host:0",
                                 "https://host:65536",
                                 "https://host:12a",
                                 "https://user@host",
                                 "https://host/?q=1",
                                 "https://host/#x",
                                 "https://[::1",
                                 "https://[]:80",
                                 "https://ho st",
                                 "https://h%41st",
                                 "https://[v1.x]",
                                 "https://host:-1",
                                 "https://host:+443",
                                 "https://host/a b",
                                 "https://host\r\n"}) {
        INFO(bad);
        atomcloud::error_code ec;
        CHECK_FALSE(parse_base_url(bad, ec));
        CHECK(ec == client_errc::invalid_base_url);
    }
}

TEST_CASE("base URL: a canonical port, percent-encoded path prefix kept", "[url]") {
    atomcloud::error_code ec;
    auto u = parse_base_url("https://example.com:00443/a%20b/", ec);
    REQUIRE(u);
    CHECK(u->port == "443");
    CHECK(u->host_header() == "example.com");
    CHECK(u->authority() == "example.com:443");
    CHECK(u->path_prefix == "/a%20b");
    auto v4 = parse_base_url("wss://10.0.0.1", ec);
    REQUIRE(v4);
    CHECK(v4->host == "10.0.0.1");
    CHECK(v4->port == "443");
    CHECK(v4->host_is_ip());
}

TEST_CASE("canonical_port: 1-65535, digits only", "[url]") {
    using atomcloud::detail::canonical_port;
    CHECK(canonical_port("1") == "1");
    CHECK(canonical_port("65535") == "65535");
    CHECK(canonical_port("0080") == "80");
    for (std::string_view bad : {"", "0", "65536", "99999", "-1", "+1", "1 ", "123456", "8a"}) {
        INFO(bad);
        CHECK(canonical_port(bad).empty());
    }
}

TEST_CASE("URLs in error texts hide user info and the token", "[url]") {
    using atomcloud::detail::url_for_display;
    CHECK(url_for_display("https://user:pw@host:1/x", "") == "https://***@host:1/x");
    CHECK(url_for_display("https://host/tok123", "tok123") == "https://host/***");
    CHECK(url_for_display("host/a@b", "") == "host/a@b"); // an '@' in the path is no user info
}

TEST_CASE("percent_encode keeps unreserved characters only", "[url]") {
    using atomcloud::detail::percent_encode;
    CHECK(percent_encode("2018-08-11 17:00:00") == "2018-08-11%2017%3A00%3A00");
    CHECK(percent_encode("aZ09-._~") == "aZ09-._~");
    CHECK(percent_encode("/?&=%") == "%2F%3F%26%3D%25");
    CHECK(percent_encode("正") == "%E6%AD%A3");
}

TEST_CASE("redact removes the token, also percent-encoded", "[url]") {
    using atomcloud::redact;
    CHECK(redact("/connection/abc123/org/1", "abc123") == "/connection/***/org/1");
    CHECK(redact("abc123 and abc123", "abc123") == "*** and ***");
    CHECK(redact("t=a%2Fb", "a/b") == "t=***");
    CHECK(redact("nothing here", "") == "nothing here");
    CHECK(redact("aaaa", "aa") == "******");
}

TEST_CASE("header values with control characters are refused before any I/O", "[url]") {
    using atomcloud::detail::check_header_values;
    using atomcloud::detail::is_valid_header_value;
    CHECK(is_valid_header_value("0115b0e4a89f7819ea88f81006117646"));
    CHECK(is_valid_header_value("atomcloud/0.1 (正点原子)"));
    CHECK_FALSE(is_valid_header_value("abc\r\nX-Injected: 1"));
    CHECK_FALSE(is_valid_header_value(std::string("a\0b", 3)));
    CHECK_FALSE(is_valid_header_value("tab\there"));
    CHECK_FALSE(is_valid_header_value("del\x7f"));
    std::string what;
    CHECK_FALSE(check_header_values("token", "agent", what));
    const std::string secret = "secret\r\nX-Injected: 1";
    CHECK(check_header_values(secret, "agent", what) == atomcloud::client_errc::invalid_config);
    CHECK(what == "config.token contains control characters"); // and not the token
    CHECK(check_header_values("token", "agent\n", what) == atomcloud::client_errc::invalid_config);
    CHECK(what.find("user_agent") != std::string::npos);
}
