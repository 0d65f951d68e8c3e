// What the two halves of the emulator's test clients share (emulator_test_client.cpp:
// HTTPS and plain TCP; emulator_test_client_ws.cpp: WebSocket), kept out of the tests.
#ifndef ATOMCLOUD_TESTS_EMULATOR_TEST_CLIENT_IMPL_HPP
#define ATOMCLOUD_TESTS_EMULATOR_TEST_CLIENT_IMPL_HPP

#include "emulator_test_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <future>
#include <memory>
#include <stdexcept>
#include <string>

namespace emu_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

/// A client TLS context trusting `ca_pem` (the system's store when empty).
std::shared_ptr<ssl::context> trusting(const std::string& ca_pem);

/// TCP + TLS (verifying the certificate for `host`) within `limit`.
asio::awaitable<error_code> connect_tls(tls_stream& s, const std::string& host, std::uint16_t port,
                                        std::chrono::milliseconds limit);

struct client_io::impl {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
    std::thread thread{[this] { ioc.run(); }};

    /// Runs the coroutine `f()` on the client thread and returns its result.
    template <class F>
    auto run(F f) {
        auto fut = asio::co_spawn(ioc, std::move(f), asio::use_future);
        if (fut.wait_for(60s) != std::future_status::ready)
            throw std::runtime_error("test client operation did not finish");
        return fut.get();
    }
};

} // namespace emu_test

#endif
