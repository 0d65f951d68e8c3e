// 08_request_presence: ask the devices that are online a question, and keep track of who
// comes and goes. A presence registry (seeded from the REST API, kept current from the
// session's events, re-seeded after a reconnect) says who is online; a requester sends
// each online device a command and waits for its answer. The application's own receive
// loop feeds both, and handles whatever is not an answer.
//
//   ATOMCLOUD_TOKEN=... 08_request_presence ORG_ID GROUP_ID [COMMAND] [--seconds N]
//
// ATOMCLOUD_BASE_URL and ATOMCLOUD_CA_FILE select another server (e.g. the emulator).
// Runs until Ctrl-C, or for N seconds.
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::int64_t org = 0, group = 0;
    std::string command = "AT+VER?";
    int seconds = 0;
    for (std::size_t i = 0, n = 0; i < args.size(); ++i) {
        if (args[i] == "--seconds" && i + 1 < args.size())
            seconds = std::atoi(args[++i].c_str());
        else if (n == 0 && ++n)
            org = std::atoll(args[i].c_str());
        else if (n == 1 && ++n)
            group = std::atoll(args[i].c_str());
        else
            command = args[i];
    }
    if (org <= 0 || group <= 0) {
        std::cerr << "usage: 08_request_presence ORG_ID GROUP_ID [COMMAND] [--seconds N]\n";
        return 2;
    }
    const atomcloud::config cfg = atomcloud::config::from_env();
    if (cfg.token.empty()) {
        std::cerr << "ATOMCLOUD_TOKEN is not set (the API token of your Atom Cloud account)\n";
        return 2;
    }
    try {
        asio::io_context io;
        atomcloud::rest_client api(io.get_executor(), cfg);
        atomcloud::session s(io.get_executor(), cfg, org);
        atomcloud::requester req(s);

        // Ask a device that is online; its answer, or why there is none, is printed.
        auto ask = [&](const std::string& number) {
            auto dev = atomcloud::device_number::parse(number);
            if (!dev)
                return; // an NB-IoT id: not asked here
            atomcloud::request_params params;
            params.timeout = std::chrono::seconds(3);
            req.async_request(*dev, atomcloud::as_bytes(command), params,
                              [number](atomcloud::error_code ec, atomcloud::bytes answer) {
                                  if (ec)
                                      std::cout << number << " did not answer: " << ec.message()
                                                << '\n';
                                  else
                                      std::cout << number << " answered \""
                                                << atomcloud::gbk_to_utf8(answer) << "\"\n";
                              });
        };

        atomcloud::presence_options opts;
        opts.groups = {group};
        opts.on_change = [&](const atomcloud::presence_change& c) {
            std::cout << c.number << " is " << to_string(c.new_state) << " (was "
                      << (c.old_state.raw.empty() ? "unknown" : to_string(c.old_state)) << ", "
                      << to_string(c.source) << ")\n";
            if (c.new_state.online())
                ask(c.number);
        };
        opts.on_seeded = [](atomcloud::error_code ec) {
            if (ec)
                std::cerr << "could not read the device states: " << ec.message() << '\n';
        };
        atomcloud::presence online(api, s, org, opts);

        // The application's receive loop: answers go to the requester, presence sees every
        // event (and seeds itself on each session_connected), the rest is the application's.
        std::function<void()> receive = [&] {
            s.async_receive([&](atomcloud::error_code ec, atomcloud::event_batch batch) {
                if (ec) // session_stopped
                    return;
                for (const atomcloud::event& ev : batch) {
                    online.on_event(ev);
                    if (req.on_event(ev))
                        continue; // an answer: already printed by its request
                    if (auto* m = std::get_if<atomcloud::device_message>(&ev))
                        std::cout << m->device << " says \"" << atomcloud::gbk_to_utf8(m->payload)
                                  << "\"\n";
                }
                receive();
            });
        };
        receive();

        asio::signal_set signals(io, SIGINT, SIGTERM);
        asio::steady_timer limit(io);
        int status = 0;
        s.async_run([&](atomcloud::error_code ec) {
            if (ec != atomcloud::client_errc::session_stopped) {
                std::cerr << "session ended: " << ec.message() << '\n';
                status = 1;
            }
            signals.cancel();
            limit.cancel();
        });
        signals.async_wait([&](auto ec, int) {
            if (!ec)
                s.stop();
        });
        if (seconds > 0) {
            limit.expires_after(std::chrono::seconds(seconds));
            limit.async_wait([&](auto ec) {
                if (!ec)
                    s.stop();
            });
        }
        io.run();
        std::size_t up = 0;
        for (const auto& d : online.devices())
            up += d.online();
        std::cout << up << " of " << online.devices().size() << " devices online\n";
        return status;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
}
