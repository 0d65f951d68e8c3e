#include <atomcloud/error.hpp>

#include <catch2/catch.hpp>

#include <system_error>

using atomcloud::api_errc;
using atomcloud::client_errc;

TEST_CASE("api_errc values are the documented code numbers", "[error]") {
    CHECK(static_cast<int>(api_errc::business_error) == 201);
    CHECK(static_cast<int>(api_errc::not_logged_in) == 300);
    CHECK(static_cast<int>(api_errc::insufficient_permission) == 301);
    CHECK(static_cast<int>(api_errc::account_locked) == 302);
    CHECK(static_cast<int>(api_errc::invalid_parameter) == 400);
    CHECK(static_cast<int>(api_errc::not_found) == 401);
    CHECK(static_cast<int>(api_errc::server_error) == 500);
}

TEST_CASE("api error messages say what the code means and carry its number", "[error]") {
    atomcloud::error_code ec = api_errc::not_found;
    CHECK(ec.category().name() == std::string("atomcloud.api"));
    CHECK(ec.message() == "object does not exist (API code 401)");
    CHECK(atomcloud::error_code(api_errc::not_logged_in).message().find("token") !=
          std::string::npos);
}

TEST_CASE("an undocumented code is reported with its number", "[error]") {
    auto ec = atomcloud::make_api_error(999);
    REQUIRE(ec);
    CHECK(ec.value() == 999);
    CHECK(ec.category() == atomcloud::api_category());
    CHECK(ec.message() == "unknown API result code (API code 999)");
    CHECK_FALSE(atomcloud::make_api_error(200));
    CHECK(atomcloud::make_api_error(401) == api_errc::not_found);
}

TEST_CASE("client_errc has a useful message for every value", "[error]") {
    for (int v = 1; v <= static_cast<int>(client_errc::proxy_protocol_error); ++v) {
        if (v == 25)
            continue; // retired: nothing reported it
        atomcloud::error_code ec = static_cast<client_errc>(v);
        INFO(v);
        CHECK(ec.category().name() == std::string("atomcloud.client"));
        CHECK(ec.message().find("unknown atomcloud client error") == std::string::npos);
        CHECK(ec.message().size() > 8);
    }
    CHECK(atomcloud::error_code(999, atomcloud::client_category()).message() ==
          "unknown atomcloud client error 999");
    // The values stay what they were: link_lost kept its number after 25 was retired.
    CHECK(static_cast<int>(client_errc::session_stopped) == 24);
    CHECK(static_cast<int>(client_errc::link_lost) == 26);
    CHECK(static_cast<int>(client_errc::proxy_protocol_error) == 32);
    CHECK(atomcloud::error_code(25, atomcloud::client_category()).message() ==
          "unknown atomcloud client error 25");
}

TEST_CASE("the enums work with std::error_code too", "[error]") {
    std::error_code sec = api_errc::account_locked;
    CHECK(sec.value() == 302);
    CHECK(sec == api_errc::account_locked);
    CHECK(sec != api_errc::not_found);
    CHECK(sec.message() == "account locked (API code 302)");

    atomcloud::error_code bec = client_errc::invalid_hex;
    std::error_code converted = bec;
    CHECK(converted == client_errc::invalid_hex);
    CHECK(converted.category().name() == std::string("atomcloud.client"));
}

TEST_CASE("diagnostics keep the server's message verbatim", "[error]") {
    atomcloud::diagnostics d;
    CHECK(d.empty());
    d.set_server_message("设备不存在");
    d.set_http_status(200);
    d.set_api_code(401);
    CHECK_FALSE(d.empty());
    CHECK(d.server_message() == "设备不存在");
    CHECK(d.to_string() == "HTTP 200; server: 设备不存在");
    d.set_client_message("field data.id: expected an integer");
    CHECK(d.to_string() == "HTTP 200; server: 设备不存在; field data.id: expected an integer");
    d.clear();
    CHECK(d.empty());
    CHECK(d.to_string().empty());
}

TEST_CASE("atomcloud::error is a std::system_error with the diagnostics", "[error]") {
    atomcloud::diagnostics d;
    d.set_server_message("参数错误");
    try {
        atomcloud::throw_on_error(api_errc::invalid_parameter, d);
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code() == api_errc::invalid_parameter);
        CHECK(std::string(e.what()) ==
              "atomcloud: parameter error (API code 400): server: 参数错误");
        const auto* ae = dynamic_cast<const atomcloud::error*>(&e);
        REQUIRE(ae != nullptr);
        CHECK(ae->get_diagnostics().server_message() == "参数错误");
        CHECK(ae->boost_code() == api_errc::invalid_parameter);
    }
    CHECK_NOTHROW(atomcloud::throw_on_error(atomcloud::error_code()));
}
