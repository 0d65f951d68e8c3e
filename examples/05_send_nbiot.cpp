// 05_send_nbiot: talks to an NB-IoT device, with futures. The io_context runs on a thread
// of its own; the main thread starts operations with `use_future` and waits for them.
//
// NB-IoT devices differ from DTU/WIFI ones: they are addressed by an id of up to 37
// characters (frame 0x07 to send), need no subscription, and what they send arrives as
// nbiot_message events (frame 0x08) on every session of the organisation.
//
// It sends TEXT to the device and waits up to 30 s for its answer.
//
//   ATOMCLOUD_TOKEN=... 05_send_nbiot ORG_ID NBIOT_ID TEXT
//
// ATOMCLOUD_BASE_URL and ATOMCLOUD_CA_FILE select another server (e.g. the emulator).
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <variant>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The session is not thread-safe: its operations must start on its executor. This posts
// `op` (an operation as the session returns it without a completion token) to the
// io_context's thread, starts it there and returns a future of its result.
template <class Operation>
auto start_on(asio::io_context& io, Operation op) {
    return asio::post(io, asio::deferred([op = std::move(op)]() mutable { return std::move(op); }))(
        asio::use_future);
}

// Waits up to `timeout` for the first message of `from`; the events before it are skipped.
std::optional<std::string> wait_answer(asio::io_context& io, atomcloud::session& s,
                                       const atomcloud::nbiot_id& from,
                                       std::chrono::steady_clock::duration timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::future<atomcloud::event_batch> next = start_on(io, s.async_receive());
        if (next.wait_until(until) != std::future_status::ready)
            return std::nullopt; // stopping the session will complete the receive
        const atomcloud::event_batch batch = next.get(); // throws atomcloud::error once stopped
        for (const atomcloud::event& ev : batch) {
            auto* msg = std::get_if<atomcloud::nbiot_message>(&ev);
            if (msg && msg->device == from)
                return atomcloud::gbk_to_utf8(msg->payload); // a copy: the view dies with batch
        }
    }
}

int main(int argc, char** argv) {
    if (argc != 4 || std::atoll(argv[1]) <= 0 || !atomcloud::nbiot_id::parse(argv[2])) {
        std::cerr << "usage: 05_send_nbiot ORG_ID NBIOT_ID TEXT (an NB-IoT id has 1 to 37 "
                     "characters)\n";
        return 2;
    }
    const std::int64_t org = std::atoll(argv[1]);
    const atomcloud::nbiot_id device = *atomcloud::nbiot_id::parse(argv[2]);
    const std::string command = argv[3];
    const atomcloud::config cfg = atomcloud::config::from_env();
    if (cfg.token.empty()) {
        std::cerr << "ATOMCLOUD_TOKEN is not set (the API token of your Atom Cloud account)\n";
        return 2;
    }

    // The io_context runs on a thread of its own; the session lives there.
    asio::io_context io;
    atomcloud::session s(io.get_executor(), cfg, org);
    auto work = asio::make_work_guard(io);
    std::thread io_thread([&io] { io.run(); });

    int status = 1;
    std::future<void> run = start_on(io, s.async_run());
    try {
        // Sent as soon as the link is up (sends made while connecting wait in a queue).
        start_on(io, s.async_send_nbiot(device, atomcloud::as_bytes(command))).get();
        std::cout << "sent \"" << command << "\" to " << device << '\n';

        if (auto answer = wait_answer(io, s, device, 30s)) {
            std::cout << device << " answered \"" << *answer << "\"\n";
            status = 0;
        } else {
            std::cerr << "no answer within 30 s\n";
        }
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
    }

    asio::post(io, [&s] { s.stop(); });
    try {
        run.get();
    } catch (const atomcloud::error& e) { // session_stopped: how a stopped run ends
        if (e.code() != atomcloud::client_errc::session_stopped) {
            std::cerr << "session ended: " << e.what() << '\n';
            status = 1;
        }
    }
    work.reset();
    io_thread.join();
    return status;
}
