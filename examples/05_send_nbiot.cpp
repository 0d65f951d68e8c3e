// 05_send_nbiot: talks to an NB-IoT device, with futures. The io_context runs on a thread
// of its own; the main thread starts operations with `use_future` and waits for them.
//
// NB-IoT devices differ from DTU/WIFI ones: they are addressed by an id of up to 37
// characters (frame 0x07 to send), need no subscription, and what they send arrives as
// nbiot_message events (frame 0x08) on every session of the organisation.
//
//   05_send_nbiot                              against a local emulator started here: the
//                                              device answers the command it receives
//   ATOMCLOUD_TOKEN=... 05_send_nbiot <org_id> <nbiot_id> <text>
//                                              sends <text> on Atom Cloud, waits 30 s for
//                                              an answer
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
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
        const atomcloud::event_batch batch = next.get(); // throws system_error once stopped
        for (const atomcloud::event& ev : batch) {
            auto* msg = std::get_if<atomcloud::nbiot_message>(&ev);
            if (msg && msg->id == from)
                return atomcloud::gbk_to_utf8(msg->payload); // a copy: the view dies with batch
        }
    }
}

int main(int argc, char** argv) {
    atomcloud::config cfg = atomcloud::config::from_env();
    std::int64_t org_id = 1;
    std::string id_text = "b6d85634-9d34-4052-80cd-b840b75cb910";
    std::string command = "LED ON";

    std::optional<atomcloud::emulator::server> local;
    std::thread device_side;
    if (cfg.token.empty()) {
        local.emplace();
        cfg = local->client_config();
        std::cout << "(ATOMCLOUD_TOKEN is not set: using a local emulator)\n";
        // The device: bound to the cloud, it answers the first command it receives.
        auto dev = local->device(id_text);
        dev.connect();
        device_side = std::thread([dev]() mutable {
            if (dev.wait_received(1, 20s))
                dev.send("OK: " + std::string(atomcloud::as_chars(dev.received().front())));
        });
    } else if (argc == 4) {
        org_id = std::stoll(argv[1]);
        id_text = argv[2];
        command = argv[3];
    } else {
        std::cerr << "usage: ATOMCLOUD_TOKEN=... 05_send_nbiot <org_id> <nbiot_id> <text>\n";
        return 2;
    }

    const auto device = atomcloud::nbiot_id::parse(id_text);
    if (!device) {
        std::cerr << "not an NB-IoT id (1 to 37 characters): " << id_text << '\n';
        return 2;
    }

    // The io_context runs on a thread of its own; the session lives there.
    asio::io_context io;
    atomcloud::session s(io.get_executor(), cfg, org_id);
    auto work = asio::make_work_guard(io);
    std::thread io_thread([&io] { io.run(); });

    int status = 1;
    std::future<void> run = start_on(io, s.async_run());
    try {
        // Sent as soon as the link is up (sends made while connecting wait in a queue).
        start_on(io, s.async_send_nbiot(*device, atomcloud::as_bytes(command))).get();
        std::cout << "sent \"" << command << "\" to " << *device << '\n';

        if (auto answer = wait_answer(io, s, *device, 30s)) {
            std::cout << *device << " answered \"" << *answer << "\"\n";
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
    } catch (const boost::system::system_error& e) { // session_stopped: how a stopped run ends
        if (e.code() != atomcloud::client_errc::session_stopped) {
            std::cerr << "session ended: " << e.what() << '\n';
            status = 1;
        }
    }
    work.reset();
    io_thread.join();
    if (device_side.joinable())
        device_side.join();
    return status;
}
