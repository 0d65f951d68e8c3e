// The session's default async path carries the diagnostics: a rejected upgrade awaited in a
// coroutine, or through a future, is an atomcloud::error with the HTTP status, API code and
// server message of the refusal.
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <future>
#include <optional>
#include <string>
#include <thread>

namespace asio = boost::asio;
namespace emu = atomcloud::emulator;
using atomcloud::client_errc;

namespace {

void check_rejected_token(const atomcloud::error& err) {
    CHECK(err.code() == client_errc::handshake_rejected);
    CHECK(err.get_diagnostics().http_status() == 401);
    CHECK(err.get_diagnostics().api_code() == 300);
    CHECK_FALSE(err.get_diagnostics().server_message().empty());
    CHECK(std::string(err.what()).find("wrong-token") == std::string::npos);
}

} // namespace

TEST_CASE("session: a rejected upgrade awaited with the default token is an atomcloud::error",
          "[session][integration][diagnostics]") {
    emu::server cloud;
    auto cfg = cloud.client_config();
    cfg.token = "wrong-token-0123456789abcdef";
    asio::io_context io;
    atomcloud::session s(io.get_executor(), cfg, 1);
    std::optional<atomcloud::error> caught;
    auto fut = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            try {
                co_await s.async_run();
            } catch (const atomcloud::error& e) {
                caught = e;
            }
        },
        asio::use_future);
    io.run();
    fut.get();
    REQUIRE(caught);
    check_rejected_token(*caught);
}

TEST_CASE("session: a rejected upgrade through use_future is an atomcloud::error",
          "[session][integration][diagnostics]") {
    emu::server cloud;
    auto cfg = cloud.client_config();
    cfg.token = "wrong-token-0123456789abcdef";
    asio::io_context io;
    atomcloud::session s(io.get_executor(), cfg, 1);
    // The session is not thread-safe: the operation starts on the io_context's thread.
    std::promise<std::future<void>> started;
    asio::post(io, [&] { started.set_value(s.async_run(asio::use_future)); });
    auto work = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    std::future<void> done = started.get_future().get();
    try {
        done.get();
        FAIL("no exception");
    } catch (const atomcloud::error& err) {
        check_rejected_token(err);
    }
    work.reset();
    runner.join();
}
