// The default async path carries the diagnostics: a coroutine awaiting an operation with
// its default token, or a future from one, sees a failure as an atomcloud::error with the
// API code, HTTP status and server message, as the error_code overloads report them.
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <exception>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace emu = atomcloud::emulator;
using atomcloud::api_errc;
using atomcloud::client_errc;
using atomcloud::error_code;

namespace {

constexpr std::int64_t org_id = 1;

emu::fault api_fault(int code, std::string message) {
    emu::fault f;
    f.what = emu::fault::kind::api_code;
    f.code = code;
    f.message = std::move(message);
    return f;
}

emu::fault http_fault(int status) {
    emu::fault f;
    f.what = emu::fault::kind::http_status;
    f.status = status;
    return f;
}

struct env {
    env() : cfg(cloud.client_config()) { cfg.retry.max_attempts = 1; }

    // Runs `f` as a coroutine on io to completion; returns what it threw, if anything.
    template <class F>
    std::optional<atomcloud::error> run(F f) {
        std::optional<atomcloud::error> caught;
        auto fut = asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                try {
                    co_await f();
                } catch (const atomcloud::error& e) {
                    caught = e;
                }
            },
            asio::use_future);
        io.restart();
        io.run();
        fut.get(); // anything but an atomcloud::error fails the test here
        return caught;
    }

    emu::server cloud;
    asio::io_context io;
    atomcloud::config cfg;
};

} // namespace

TEST_CASE("rest: the default token throws atomcloud::error with the diagnostics",
          "[rest][integration][diagnostics]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);

    SECTION("an API code other than 200, awaited in a coroutine") {
        e.cloud.inject_fault(api_fault(401, "设备不存在"), 1);
        auto err = e.run([&]() -> asio::awaitable<void> { co_await api.async_list_orgs(); });
        REQUIRE(err);
        CHECK(err->code() == api_errc::not_found);
        CHECK(err->boost_code() == api_errc::not_found);
        CHECK(err->get_diagnostics().api_code() == 401);
        CHECK(err->get_diagnostics().http_status() == 200);
        CHECK(err->get_diagnostics().server_message() == "设备不存在");
        CHECK(std::string(err->what()).find("设备不存在") != std::string::npos);
    }
    SECTION("HTTP 500, awaited in a coroutine") {
        e.cloud.inject_fault(http_fault(500), 1);
        auto err =
            e.run([&]() -> asio::awaitable<void> { co_await api.async_list_groups(org_id); });
        REQUIRE(err);
        CHECK(err->code() == client_errc::http_status);
        CHECK(err->get_diagnostics().http_status() == 500);
        CHECK(err->get_diagnostics().api_code() == 0);
    }
    SECTION("use_awaitable given explicitly") {
        e.cloud.inject_fault(api_fault(400, "参数错误"), 1);
        auto err = e.run([&]() -> asio::awaitable<void> {
            co_await api.async_device_state(org_id, 146, asio::use_awaitable);
        });
        REQUIRE(err);
        CHECK(err->code() == api_errc::invalid_parameter);
        CHECK(err->get_diagnostics().api_code() == 400);
        CHECK(err->get_diagnostics().server_message() == "参数错误");
    }
    SECTION("a caller's diagnostics are filled and carried too") {
        e.cloud.inject_fault(api_fault(301, "no permission"), 1);
        atomcloud::diagnostics diag;
        auto err = e.run([&]() -> asio::awaitable<void> { co_await api.async_list_orgs(diag); });
        REQUIRE(err);
        CHECK(err->code() == api_errc::insufficient_permission);
        CHECK(diag.server_message() == "no permission");
        CHECK(err->get_diagnostics() == diag);
    }
    SECTION("success throws nothing") {
        std::vector<atomcloud::org> orgs;
        auto err = e.run([&]() -> asio::awaitable<void> { orgs = co_await api.async_list_orgs(); });
        CHECK_FALSE(err);
        CHECK(orgs.size() == 1);
    }
}

TEST_CASE("rest: use_future, given or applied to the default token, throws atomcloud::error",
          "[rest][integration][diagnostics]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    auto work = asio::make_work_guard(e.io);
    std::thread runner([&] { e.io.run(); });

    e.cloud.inject_fault(api_fault(401, "组织不存在"), 1);
    auto given = api.async_list_groups(org_id, asio::use_future);
    try {
        given.get();
        FAIL("no exception");
    } catch (const atomcloud::error& err) {
        CHECK(err.code() == api_errc::not_found);
        CHECK(err.get_diagnostics().api_code() == 401);
        CHECK(err.get_diagnostics().http_status() == 200);
        CHECK(err.get_diagnostics().server_message() == "组织不存在");
    }

    e.cloud.inject_fault(http_fault(500), 1);
    auto launched = api.async_list_orgs()(asio::use_future); // the default token, launched

    try {
        launched.get();
        FAIL("no exception");
    } catch (const atomcloud::error& err) {
        CHECK(err.code() == client_errc::http_status);
        CHECK(err.get_diagnostics().http_status() == 500);
    }

    // Success: the value, no exception.
    auto ok = api.async_list_orgs(asio::use_future);
    CHECK(ok.get().size() == 1);

    work.reset();
    runner.join();
}

TEST_CASE("rest: the default token launched with a callback sees an exception_ptr",
          "[rest][integration][diagnostics]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    e.cloud.inject_fault(api_fault(401, "x"), 1);
    std::exception_ptr failure;
    bool called = false;
    api.async_list_orgs()([&](std::exception_ptr ep, std::vector<atomcloud::org>) {
        called = true;
        failure = ep;
    });
    e.io.run();
    REQUIRE(called);
    REQUIRE(failure);
    try {
        std::rethrow_exception(failure);
    } catch (const atomcloud::error& err) {
        CHECK(err.code() == api_errc::not_found);
        CHECK(err.get_diagnostics().server_message() == "x");
    }
    // Explicit asio::deferred keeps the error_code.
    std::optional<error_code> got;
    api.async_list_orgs(asio::deferred)(
        [&](error_code ec, std::vector<atomcloud::org>) { got = ec; });
    e.io.restart();
    e.io.run();
    REQUIRE(got);
    CHECK_FALSE(*got);
}
