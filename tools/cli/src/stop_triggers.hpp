// What ends a long-running command (watch, devices --watch, record): SIGINT or SIGTERM, and
// an optional duration.
#ifndef ATOMCLOUD_CLI_STOP_TRIGGERS_HPP
#define ATOMCLOUD_CLI_STOP_TRIGGERS_HPP

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <csignal>
#include <functional>
#include <optional>
#include <utility>

namespace atomcloud::cli {

/// Calls `stop` on every SIGINT or SIGTERM (so that a second one can cut short what the
/// first began) and, when a duration is given, once it has passed. cancel() when the
/// command ends, so that the io_context runs out of work.
class stop_triggers {
public:
    stop_triggers(boost::asio::io_context& io, std::function<void()> stop)
        : signals_(io, SIGINT, SIGTERM), deadline_(io), stop_(std::move(stop)) {}

    void arm(std::optional<std::chrono::milliseconds> duration = std::nullopt) {
        wait_for_signal();
        if (duration) {
            deadline_.expires_after(*duration);
            deadline_.async_wait([this](const boost::system::error_code& ec) {
                if (!ec)
                    stop_();
            });
        }
    }

    void cancel() {
        signals_.cancel();
        deadline_.cancel();
    }

private:
    void wait_for_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            stop_();
            wait_for_signal();
        });
    }

    boost::asio::signal_set signals_;
    boost::asio::steady_timer deadline_;
    std::function<void()> stop_;
};

} // namespace atomcloud::cli

#endif
