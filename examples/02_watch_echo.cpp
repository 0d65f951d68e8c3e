// 02_watch_echo: watch a device and send every message it sends straight back to it, with
// coroutines. Runs until Ctrl-C, or until COUNT messages were echoed.
//
//   ATOMCLOUD_TOKEN=... 02_watch_echo ORG_ID DEVICE_NUMBER [COUNT]
//
// ATOMCLOUD_BASE_URL and ATOMCLOUD_CA_FILE select another server (e.g. the emulator).
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <variant>

namespace asio = boost::asio;

// Echoes the device's messages (heartbeats excepted) until `count` were (0: no end) or the
// session stops.
asio::awaitable<std::size_t> watch_echo(atomcloud::session& s, atomcloud::device_number device,
                                        std::size_t count) {
    co_await s.async_subscribe(device); // replayed by the session after every reconnect
    std::size_t echoed = 0;
    while (count == 0 || echoed < count) {
        auto [ec, batch] = co_await s.async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec) // session_stopped
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
                else if (++echoed == count)
                    break;
            } else if (std::holds_alternative<atomcloud::session_connected>(ev)) {
                std::cout << "connected; watching " << device << '\n';
            } else if (auto* down = std::get_if<atomcloud::session_disconnected>(&ev)) {
                std::cout << "link lost (" << down->reason.message()
                          << "); reconnecting, messages sent meanwhile are missed\n";
            }
        }
        s.recycle(std::move(batch)); // optional: lets the next batches reuse the storage
    }
    co_return echoed;
}

int main(int argc, char** argv) {
    const bool args_ok = argc == 3 || argc == 4;
    const std::int64_t org = args_ok ? std::atoll(argv[1]) : 0;
    const auto device = args_ok ? atomcloud::device_number::parse(argv[2]) : std::nullopt;
    const std::size_t count = argc == 4 ? std::strtoul(argv[3], nullptr, 10) : 0;
    if (org <= 0 || !device) {
        std::cerr << "usage: 02_watch_echo ORG_ID DEVICE_NUMBER [COUNT] (a device number has 20 "
                     "characters)\n";
        return 2;
    }
    const atomcloud::config cfg = atomcloud::config::from_env();
    if (cfg.token.empty()) {
        std::cerr << "ATOMCLOUD_TOKEN is not set (the API token of your Atom Cloud account)\n";
        return 2;
    }

    try {
        asio::io_context io;
        atomcloud::session s(io.get_executor(), cfg, org);
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](atomcloud::error_code ec, int) {
            if (!ec)
                s.stop();
        });
        int status = 0;
        atomcloud::diagnostics diag;
        s.async_run(diag, [&](atomcloud::error_code ec) { // connects, reconnects, until stop()
            if (ec != atomcloud::client_errc::session_stopped) {
                std::cerr << "session ended: " << ec.message() << ' ' << diag.to_string() << '\n';
                status = 1;
            }
            signals.cancel();
        });
        asio::co_spawn(io, watch_echo(s, *device, count),
                       [&](std::exception_ptr e, std::size_t echoed) {
                           if (e) {
                               status = 1;
                               try {
                                   std::rethrow_exception(e);
                               } catch (const std::exception& ex) {
                                   std::cerr << "error: " << ex.what() << '\n';
                               }
                           } else {
                               std::cout << echoed << " messages echoed\n";
                           }
                           s.stop();
                       });
        io.run();
        return status;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
}
