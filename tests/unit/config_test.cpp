#include <atomcloud/config.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

TEST_CASE("config defaults are safe", "[config]") {
    atomcloud::config cfg;
    CHECK(cfg.base_url == "https://cloud.alientek.com");
    CHECK(cfg.tls.verify);
    CHECK(cfg.token.empty());
    CHECK(cfg.server_utc_offset == std::chrono::hours(8));
    CHECK(cfg.retry.max_attempts >= 1);
    CHECK(cfg.session.when_disconnected == atomcloud::send_policy::queue);
    CHECK_FALSE(cfg.log.enabled(atomcloud::log_level::error)); // silent without a sink
}

TEST_CASE("config::from_env reads the three variables", "[config]") {
    ::setenv("ATOMCLOUD_TOKEN", "tok", 1);
    ::setenv("ATOMCLOUD_BASE_URL", "https://127.0.0.1:1234", 1);
    ::setenv("ATOMCLOUD_CA_FILE", "/tmp/ca.pem", 1);
    auto cfg = atomcloud::config::from_env();
    CHECK(cfg.token == "tok");
    CHECK(cfg.base_url == "https://127.0.0.1:1234");
    CHECK(cfg.tls.ca_file == "/tmp/ca.pem");

    ::unsetenv("ATOMCLOUD_BASE_URL");
    ::setenv("ATOMCLOUD_TOKEN", "", 1);
    cfg = atomcloud::config::from_env();
    CHECK(cfg.base_url == "https://cloud.alientek.com");
    CHECK(cfg.token.empty());
    ::unsetenv("ATOMCLOUD_TOKEN");
    ::unsetenv("ATOMCLOUD_CA_FILE");
}

TEST_CASE("logger filters by level and is silent without a sink", "[config]") {
    std::vector<std::string> lines;
    atomcloud::logger log;
    log.level = atomcloud::log_level::warning;
    log.log(atomcloud::log_level::error, "dropped: no sink");
    log.sink = [&](atomcloud::log_level l, std::string_view m) {
        lines.push_back(std::string(atomcloud::to_string(l)) + ":" + std::string(m));
    };
    log.log(atomcloud::log_level::debug, "too low");
    log.log(atomcloud::log_level::warning, "w");
    log.log(atomcloud::log_level::error, "e");
    REQUIRE(lines == std::vector<std::string>{"warning:w", "error:e"});
    log.level = atomcloud::log_level::off;
    log.log(atomcloud::log_level::error, "off");
    CHECK(lines.size() == 2);
}

TEST_CASE("validate_config: the clients' checks, with texts that name the option", "[config]") {
    using atomcloud::client_errc;
    atomcloud::config cfg;
    cfg.token = "s3cr3t-token";
    std::string what;
    CHECK_FALSE(atomcloud::validate_config(cfg, what));

    auto refused = [&](atomcloud::config c) {
        std::string why;
        const auto ec = atomcloud::validate_config(c, why);
        CHECK(why.find("s3cr3t") == std::string::npos); // neither the token nor a password
        return std::make_pair(ec, why);
    };
    auto c = cfg;
    c.base_url = "http://s3cr3t-user:pw@example.com/s3cr3t-token";
    auto [ec, why] = refused(c);
    CHECK(ec == client_errc::invalid_base_url);
    CHECK(why.find("config.base_url") == 0);
    CHECK(why.find("https://host[:port]") != std::string::npos);

    c = cfg;
    c.proxy = "socks5://s3cr3t-user:s3cr3t-pw@p:1";
    std::tie(ec, why) = refused(c);
    CHECK(ec == client_errc::invalid_config);
    CHECK(why.find("config.proxy") == 0);

    c = cfg;
    c.token.clear();
    std::tie(ec, why) = refused(c);
    CHECK(ec == client_errc::invalid_config);
    CHECK(why == "config.token is empty");

    c = cfg;
    c.token = "s3cr3t\r\nX-Injected: 1";
    std::tie(ec, why) = refused(c);
    CHECK(ec == client_errc::invalid_config);
    CHECK(why.find("config.token") == 0);

    c = cfg;
    c.session.nbiot_id_width = 0;
    std::tie(ec, why) = refused(c);
    CHECK(ec == client_errc::invalid_config);
    CHECK(why.find("nbiot_id_width") != std::string::npos);
}
