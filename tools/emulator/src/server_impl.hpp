// The server's state behind the public facade (server.cpp): the TLS context, the cloud,
// the io_context and its thread, the listener and the open connections. Its members are
// defined by concern: listener.cpp (listening, accepting, the server's life, outages),
// tls_context.cpp, simulation.cpp.
#ifndef ATOMCLOUD_EMULATOR_SRC_SERVER_IMPL_HPP
#define ATOMCLOUD_EMULATOR_SRC_SERVER_IMPL_HPP

#include "cloud.hpp"

#include <atomcloud/emulator/server.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <future>
#include <list>
#include <memory>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace atomcloud::emulator {

namespace detail {
struct connection;

/// Reads a whole file; throws std::runtime_error naming `what` when it cannot.
std::string read_file(const std::string& path, const char* what);

/// The server's TLS context: the options' certificate and key, or a fresh self-signed
/// certificate for `address` and loopback. Sets `ca_pem` to what clients must trust.
/// Throws std::runtime_error with an explanation.
std::unique_ptr<boost::asio::ssl::context>
make_tls_context(const options& opts, const boost::asio::ip::address& address, std::string& ca_pem);
} // namespace detail

struct server::impl : std::enable_shared_from_this<server::impl> {
    using tcp = boost::asio::ip::tcp;
    using connection = detail::connection;

    explicit impl(options o) : opts(std::move(o)) {}

    options opts;
    std::string ca;
    std::string url;
    tcp::endpoint endpoint; // with the bound port once listening
    std::unique_ptr<boost::asio::ssl::context> tls;
    std::unique_ptr<detail::cloud> core;
    std::unique_ptr<boost::asio::io_context> ioc;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::shared_ptr<tcp::acceptor> acceptor;
    std::unique_ptr<boost::asio::steady_timer> resume_timer;
    std::vector<std::shared_ptr<boost::asio::steady_timer>> simulation_timers;
    std::unordered_set<connection*> connections;
    /// The connections still in their TLS handshake, oldest first.
    std::list<connection*> handshaking;
    std::thread thread;
    std::thread::id thread_id;
    std::future<void> finished;
    std::atomic<bool> running{false};
    mutable std::shared_mutex lifecycle;
    bool stopping = false;

    void start();
    void shutdown();
    void listen();
    void close_listener();
    /// Closes the connections (all, or only WebSocket sessions) but `except`.
    void abort_connections(bool websocket_only, const connection* except = nullptr);
    /// Drops every WebSocket connection and refuses upgrades for `refuse_for`.
    void drop_websockets(std::chrono::milliseconds refuse_for);
    void restart_now(const connection* except = nullptr);
    void suspend_now(const connection* except = nullptr);
    /// suspend_now(), and resume_now() after `duration`.
    void suspend_for(std::chrono::milliseconds duration, const connection* except);
    void resume_now();
    void start_simulation();
    boost::asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acc);
    /// Whether a new connection may be admitted (closing the oldest handshake if needed).
    bool admit_connection();
    boost::asio::awaitable<void> simulate(std::shared_ptr<boost::asio::steady_timer> timer,
                                          std::chrono::milliseconds interval, bool heartbeat);

    /// Runs f on the server's thread and returns its result (or rethrows its exception).
    template <class F>
    auto call(F&& f) const -> std::invoke_result_t<F&> {
        using result = std::invoke_result_t<F&>;
        if (std::this_thread::get_id() == thread_id)
            throw std::logic_error("atomcloud::emulator::server: called from the server's own "
                                   "thread (inside a handler); call it from another thread");
        std::shared_lock lock(lifecycle);
        if (!running)
            throw std::logic_error("atomcloud::emulator::server: the server is stopped");
        std::packaged_task<result()> task(std::forward<F>(f));
        auto fut = task.get_future();
        boost::asio::post(*ioc, std::move(task));
        return fut.get();
    }

    template <class Pred>
    bool wait_until(Pred pred, std::chrono::milliseconds timeout) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (call(pred))
                return true;
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    std::size_t device_index(std::string_view number) const {
        const auto* d = core->devices().find_device(number);
        if (!d)
            throw std::out_of_range("atomcloud::emulator: no device '" + std::string(number) +
                                    "' in the fixture");
        return static_cast<std::size_t>(d - core->devices().devices.data());
    }
};

} // namespace atomcloud::emulator

#endif
