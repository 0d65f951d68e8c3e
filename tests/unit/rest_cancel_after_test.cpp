// atomcloud::cancel_after on Asio's own operations (a timer wait): with a future, a
// callback, a coroutine, deferred, and a handler that already has a cancellation slot.
#include <atomcloud/cancel_after.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using boost::system::error_code;

TEST_CASE("cancel_after: a callback is cancelled when the limit passes", "[rest][cancel_after]") {
    asio::io_context io;
    asio::steady_timer slow(io, 10s);
    error_code got;
    bool called = false;
    const auto start = std::chrono::steady_clock::now();
    slow.async_wait(atomcloud::cancel_after(20ms, [&](error_code ec) {
        called = true;
        got = ec;
    }));
    io.run();
    CHECK(called);
    CHECK(got == asio::error::operation_aborted);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("cancel_after: an operation done in time is unaffected", "[rest][cancel_after]") {
    asio::io_context io;
    asio::steady_timer quick(io, 1ms);
    error_code got = asio::error::would_block;
    quick.async_wait(atomcloud::cancel_after(10s, [&](error_code ec) { got = ec; }));
    const auto start = std::chrono::steady_clock::now();
    io.run(); // returns at once: the limit's timer was cancelled
    CHECK_FALSE(got);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("cancel_after: with use_future, the io_context run elsewhere", "[rest][cancel_after]") {
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    asio::steady_timer slow(io, 10s);
    auto fut = slow.async_wait(atomcloud::cancel_after(20ms, asio::use_future));
    CHECK_THROWS_AS(fut.get(), boost::system::system_error);
    work.reset();
    runner.join();
}

TEST_CASE("cancel_after: in a coroutine, with as_tuple and deferred", "[rest][cancel_after]") {
    asio::io_context io;
    auto fut = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer slow(io, 10s);
            auto [ec] = co_await slow.async_wait(
                atomcloud::cancel_after(20ms, asio::as_tuple(asio::use_awaitable)));
            CHECK(ec == asio::error::operation_aborted);
            slow.expires_after(10s);
            try {
                co_await slow.async_wait(atomcloud::cancel_after(20ms)); // deferred
                FAIL("no exception");
            } catch (const boost::system::system_error& e) {
                CHECK(e.code() == asio::error::operation_aborted);
            }
            slow.expires_after(1ms);
            co_await slow.async_wait(atomcloud::cancel_after(10s, asio::use_awaitable));
        },
        asio::use_future);
    io.run();
    fut.get();
}

TEST_CASE("cancel_after: the handler's own slot still cancels, and its executor is kept",
          "[rest][cancel_after]") {
    asio::io_context io;
    auto strand = asio::make_strand(io);
    asio::steady_timer slow(io, 10s);
    asio::cancellation_signal outer;
    error_code got;
    bool on_strand = false;
    slow.async_wait(atomcloud::cancel_after(
        10s,
        asio::bind_cancellation_slot(outer.slot(), asio::bind_executor(strand, [&](error_code ec) {
                                         got = ec;
                                         on_strand = strand.running_in_this_thread();
                                     }))));
    asio::steady_timer trigger(io, 10ms);
    trigger.async_wait([&](error_code) { outer.emit(asio::cancellation_type::terminal); });
    const auto start = std::chrono::steady_clock::now();
    io.run();
    CHECK(got == asio::error::operation_aborted);
    CHECK(on_strand);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("cancel_after: the cancellation type is configurable", "[rest][cancel_after]") {
    asio::io_context io;
    asio::steady_timer slow(io, 50ms);
    error_code got = asio::error::would_block;
    // A timer wait honours terminal, partial and total; "none" is never emitted, so the
    // wait runs its course.
    slow.async_wait(atomcloud::cancel_after(5ms, asio::cancellation_type::none,
                                            [&](error_code ec) { got = ec; }));
    io.run();
    CHECK_FALSE(got);
}
