// 02_watch_echo: watch a device and echo every message it sends back to it.
//
//   02_watch_echo                          against a local emulator started here: a device
//                                          sends a few messages and checks they come back
//   ATOMCLOUD_TOKEN=... 02_watch_echo <org_id> <device_number>
//                                          against Atom Cloud (or ATOMCLOUD_BASE_URL), until
//                                          Ctrl-C
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;

// Receives until the session stops; echoes the device's messages (heartbeats excepted).
asio::awaitable<void> watch_echo(atomcloud::session& s, atomcloud::device_number device) {
    co_await s.async_subscribe(device);
    for (;;) {
        auto [ec, batch] = co_await s.async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec) // session_stopped: the session was stopped
            break;
        for (const atomcloud::event& ev : batch) {
            if (auto* msg = std::get_if<atomcloud::device_message>(&ev)) {
                if (msg->device != device || atomcloud::is_heartbeat(msg->payload))
                    continue;
                std::cout << device << ": " << atomcloud::gbk_to_utf8(msg->payload) << '\n';
                // The payload views the batch, which lives until the loop moves on.
                auto [sec] = co_await s.async_send(device, msg->payload,
                                                   asio::as_tuple(asio::use_awaitable));
                if (sec)
                    std::cerr << "echo failed: " << sec.message() << '\n';
            } else if (std::holds_alternative<atomcloud::session_connected>(ev)) {
                std::cout << "connected; watching " << device << '\n';
            } else if (auto* down = std::get_if<atomcloud::session_disconnected>(&ev)) {
                std::cout << "link lost (" << down->reason.message()
                          << "); reconnecting, messages sent meanwhile are missed\n";
            } else if (auto* bad = std::get_if<atomcloud::protocol_error>(&ev)) {
                std::cerr << "ignored a bad message: " << bad->ec.message() << '\n';
            }
        }
        s.recycle(std::move(batch)); // optional: lets the next batches reuse the storage
    }
}

// Runs the session and the watcher until the session stops; returns async_run's result.
atomcloud::error_code run(asio::io_context& io, atomcloud::session& s,
                          atomcloud::device_number device) {
    atomcloud::error_code result;
    atomcloud::diagnostics diag;
    s.async_run(diag, [&](atomcloud::error_code ec) {
        result = ec;
        if (ec != atomcloud::client_errc::session_stopped)
            std::cerr << "session ended: " << ec.message() << ' ' << diag.to_string() << '\n';
    });
    asio::co_spawn(io, watch_echo(s, device), asio::detached);
    io.run();
    return result;
}

// Against Atom Cloud: config from the environment, until Ctrl-C.
int run_cloud(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: ATOMCLOUD_TOKEN=... 02_watch_echo <org_id> <device_number>\n";
        return 2;
    }
    auto device = atomcloud::device_number::parse(argv[2]);
    if (!device) {
        std::cerr << "not a device number (20 characters): " << argv[2] << '\n';
        return 2;
    }
    auto cfg = atomcloud::config::from_env();
    cfg.log = atomcloud::logger::to_stderr();
    asio::io_context io;
    atomcloud::session s(io.get_executor(), cfg, std::stoll(argv[1]));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](atomcloud::error_code, int) { s.stop(); });
    auto ec = run(io, s, *device);
    return ec == atomcloud::client_errc::session_stopped ? 0 : 1;
}

// Against a local emulator: the device, on its own thread, sends a few messages and checks
// they come back.
int run_emulator() {
    atomcloud::emulator::server cloud;
    const atomcloud::device_number number("18846494908532689575");
    auto device = cloud.device(number.view());
    device.connect();
    const std::vector<atomcloud::bytes> messages = {
        atomcloud::to_bytes("hello"),
        atomcloud::parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3"), // 正点原子 in GBK
        atomcloud::bytes{0x00, 0x01, 0xFE, 0xFF},
    };

    asio::io_context io;
    atomcloud::session s(io.get_executor(), cloud.client_config(), 1);
    bool echoed = false;
    std::thread device_side([&] {
        if (cloud.wait_subscribers(number.view(), 1, std::chrono::seconds(10))) {
            device.send("ALIENTEK-HRTDT"); // a heartbeat: not echoed
            for (const auto& m : messages)
                device.send(m);
            echoed = device.wait_received(messages.size(), std::chrono::seconds(10));
        }
        asio::post(io, [&] { s.stop(); });
    });
    run(io, s, number);
    device_side.join();

    if (!echoed || device.received() != messages) {
        std::cerr << "FAILED: the device got " << device.received().size() << " of "
                  << messages.size() << " messages back\n";
        return 1;
    }
    std::cout << "the device got all " << messages.size() << " messages back\n";
    return 0;
}

int main(int argc, char** argv) {
    try {
        const char* token = std::getenv("ATOMCLOUD_TOKEN");
        return (token && *token) ? run_cloud(argc, argv) : run_emulator();
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
}
