// An emulator, an atomcloud::session on it and every event the session delivered: what the
// single-threaded session tests (session_test, session_metrics_test, session_faults_test)
// share. The session's io_context runs on the test's thread, in short slices while a test
// waits for a condition; the emulator runs on its own thread.
#ifndef ATOMCLOUD_TESTS_SESSION_HARNESS_HPP
#define ATOMCLOUD_TESTS_SESSION_HARNESS_HPP

#include <atomcloud/emulator/server.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include "../log_capture.hpp"
#include "../run_until.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace atomcloud_test {

/// An event with its payload copied out of the batch it came in.
struct owned_event {
    enum kind_t {
        device_connected,
        device_disconnected,
        device_message,
        nbiot_message,
        session_connected,
        session_disconnected,
        protocol_error
    } kind;
    std::string id;
    atomcloud::bytes payload;
    atomcloud::error_code ec;
};

inline owned_event own(const atomcloud::event& ev) {
    owned_event o{};
    o.kind = static_cast<owned_event::kind_t>(ev.index());
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, atomcloud::device_connected> ||
                          std::is_same_v<T, atomcloud::device_disconnected>) {
                o.id = e.device.str();
            } else if constexpr (std::is_same_v<T, atomcloud::device_message> ||
                                 std::is_same_v<T, atomcloud::nbiot_message>) {
                o.id = e.device.str();
                o.payload.assign(e.payload.begin(), e.payload.end());
            } else if constexpr (std::is_same_v<T, atomcloud::session_disconnected>) {
                o.ec = e.reason;
            } else if constexpr (std::is_same_v<T, atomcloud::protocol_error>) {
                o.ec = e.ec;
            }
        },
        ev);
    return o;
}

/// Emulator options that keep an idle link open through a test (10 s, not the platform's
/// default).
inline atomcloud::emulator::options quiet_emulator() {
    atomcloud::emulator::options o;
    o.websocket_idle_timeout = std::chrono::seconds(10);
    return o;
}

/// An emulator and a session on it (reconnecting after 20 ms, then up to
/// `max_reconnect_delay`, without jitter) that logs into a capture the token must never
/// reach, with the events it delivered.
class session_harness {
public:
    explicit session_harness(
        atomcloud::emulator::options opts = quiet_emulator(),
        std::chrono::milliseconds max_reconnect_delay = std::chrono::milliseconds(500))
        : cloud(std::move(opts)) {
        cfg = cloud.client_config();
        cfg.log = logs.make();
        cfg.session.reconnect.initial_delay = std::chrono::milliseconds(20);
        cfg.session.reconnect.max_delay = max_reconnect_delay;
        cfg.session.reconnect.jitter = 0.0;
    }
    session_harness(const session_harness&) = delete;
    session_harness& operator=(const session_harness&) = delete;

    ~session_harness() {
        // Whatever happened, the token must not have been logged.
        if (std::uncaught_exceptions() == 0)
            CHECK(logs.count(cloud.token()) == 0);
        if (s)
            s->stop();
        until([&] { return !s || !s->status().running; }, std::chrono::seconds(5));
        s.reset();
        io.restart();
        io.run_for(std::chrono::milliseconds(50));
    }

    /// Creates the session of organisation `org` (start() does, if it was not).
    void make_session(std::int64_t org = 1) { s.emplace(io.get_executor(), cfg, org); }

    void start(std::int64_t org = 1) {
        if (!s)
            make_session(org);
        s->async_run(diag, [this](atomcloud::error_code ec) { run_result = ec; });
        if (auto_receive)
            receive();
    }

    /// Starts one async_receive; with auto_receive, its handler starts the next.
    void receive() {
        receiving = true;
        s->async_receive([this](atomcloud::error_code ec, atomcloud::event_batch batch) {
            receiving = false;
            if (!s) // completed after the session was destroyed (the harness is ending)
                return;
            if (ec) {
                receive_error = ec;
                return;
            }
            ++batches;
            max_batch = std::max(max_batch, batch.size());
            for (const auto& ev : batch)
                events.push_back(own(ev));
            s->recycle(std::move(batch));
            if (auto_receive)
                receive();
        });
    }

    template <class Pred>
    bool until(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        return run_until(io, done, limit);
    }

    /// Runs the session for a while regardless.
    void pump(std::chrono::milliseconds d) {
        until([] { return false; }, d);
    }

    std::size_t count(owned_event::kind_t k) const {
        return static_cast<std::size_t>(std::count_if(
            events.begin(), events.end(), [k](const owned_event& e) { return e.kind == k; }));
    }

    std::vector<owned_event> of(owned_event::kind_t k) const {
        std::vector<owned_event> out;
        for (const auto& e : events)
            if (e.kind == k)
                out.push_back(e);
        return out;
    }

    bool wait_connected(std::size_t n = 1,
                        std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        return until([&] { return count(owned_event::session_connected) >= n; }, limit);
    }

    bool wait_subscribers(const atomcloud::device_number& d, std::size_t n) {
        return until([&] { return cloud.subscribers(d.view()) == n; });
    }

    /// Runs until the completion handler of an operation was called.
    atomcloud::error_code wait(std::optional<atomcloud::error_code>& r,
                               std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        REQUIRE(until([&] { return r.has_value(); }, limit));
        return *r;
    }

    atomcloud::error_code subscribe(const atomcloud::device_number& d) {
        std::optional<atomcloud::error_code> r;
        s->async_subscribe(d, [&](atomcloud::error_code ec) { r = ec; });
        return wait(r);
    }

    atomcloud::error_code send(const atomcloud::device_number& d, atomcloud::bytes_view payload) {
        std::optional<atomcloud::error_code> r;
        s->async_send(d, payload, [&](atomcloud::error_code ec) { r = ec; });
        return wait(r);
    }

    atomcloud::emulator::server cloud;
    log_capture logs;
    atomcloud::config cfg;
    boost::asio::io_context io;
    std::optional<atomcloud::session> s;
    atomcloud::diagnostics diag;
    std::optional<atomcloud::error_code> run_result;
    std::optional<atomcloud::error_code> receive_error;
    std::vector<owned_event> events;
    std::size_t batches = 0;
    std::size_t max_batch = 0;
    bool auto_receive = true;
    bool receiving = false;
};

} // namespace atomcloud_test

#endif
