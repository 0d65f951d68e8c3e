// 04_callbacks: the same SDK without coroutines. Every operation takes a plain callback
// (any completion token works; a lambda is the simplest), and one io_context runs them all.
//
// It lists the organisations (REST), then watches a device (WebSocket) and prints what it
// sends until `count` messages arrived.
//
//   04_callbacks                               against a local emulator started here, whose
//                                              device sends three messages
//   ATOMCLOUD_TOKEN=... 04_callbacks <org_id> <device_number> [count]
//                                              against Atom Cloud (or ATOMCLOUD_BASE_URL)
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;

// Watches one device: subscribes, then receives batch after batch, each receive started by
// the previous one's callback, until `wanted` messages were printed; then stops.
class watcher {
public:
    watcher(atomcloud::session& s, atomcloud::device_number device, std::size_t wanted)
        : session_(s), device_(std::move(device)), wanted_(wanted) {}

    void start() {
        session_.async_subscribe(device_, [this](atomcloud::error_code ec) {
            if (ec) {
                std::cerr << "subscribe failed: " << ec.message() << '\n';
                session_.stop();
                return;
            }
            std::cout << "subscribed to " << device_ << '\n';
        });
        receive();
    }

    std::size_t messages() const { return seen_; }

    std::function<void()> on_done; ///< called once `wanted` messages arrived

private:
    void receive() {
        session_.async_receive([this](atomcloud::error_code ec, atomcloud::event_batch batch) {
            if (ec) // client_errc::session_stopped: nothing more will arrive
                return;
            for (const atomcloud::event& ev : batch)
                on_event(ev);
            session_.recycle(std::move(batch));
            if (seen_ >= wanted_) {
                session_.stop(); // async_run completes, and the io_context runs out of work
                if (on_done)
                    on_done();
            } else
                receive();
        });
    }

    void on_event(const atomcloud::event& ev) {
        if (auto* msg = std::get_if<atomcloud::device_message>(&ev)) {
            if (atomcloud::is_heartbeat(msg->payload))
                return;
            ++seen_;
            std::cout << msg->device << " says \"" << atomcloud::gbk_to_utf8(msg->payload) << "\" ["
                      << atomcloud::to_hex_packet(msg->payload) << "]\n";
        } else if (auto* up = std::get_if<atomcloud::device_connected>(&ev)) {
            std::cout << up->device << " is online\n";
        } else if (auto* down = std::get_if<atomcloud::session_disconnected>(&ev)) {
            std::cout << "link lost (" << down->reason.message() << "), reconnecting\n";
        }
    }

    atomcloud::session& session_;
    atomcloud::device_number device_;
    std::size_t wanted_;
    std::size_t seen_ = 0;
};

int main(int argc, char** argv) {
    atomcloud::config cfg = atomcloud::config::from_env();
    std::int64_t org_id = 1;
    std::string number = "18846494908532689575";
    std::size_t count = 3;

    std::optional<atomcloud::emulator::server> local;
    if (cfg.token.empty()) {
        local.emplace();
        cfg = local->client_config();
        std::cout << "(ATOMCLOUD_TOKEN is not set: using a local emulator)\n";
    } else if (argc == 3 || argc == 4) {
        org_id = std::stoll(argv[1]);
        number = argv[2];
        count = argc == 4 ? std::stoul(argv[3]) : 10;
    } else {
        std::cerr << "usage: ATOMCLOUD_TOKEN=... 04_callbacks <org_id> <device_number> [count]\n";
        return 2;
    }
    auto device = atomcloud::device_number::parse(number);
    if (!device) {
        std::cerr << "not a device number (20 characters): " << number << '\n';
        return 2;
    }

    asio::io_context io;
    atomcloud::rest_client api(io.get_executor(), cfg);
    atomcloud::session session(io.get_executor(), cfg, org_id);
    watcher watch(session, *device, count);
    asio::steady_timer deadline(io);
    int status = 0;

    // REST: one request, answered in a callback.
    api.async_list_orgs([&](atomcloud::error_code ec, std::vector<atomcloud::org> orgs) {
        if (ec) {
            std::cerr << "listing organisations failed: " << ec.message() << '\n';
            status = 1;
            return;
        }
        for (const auto& o : orgs)
            std::cout << "org " << o.id << ": " << o.name << '\n';
    });

    // WebSocket: the session runs (and reconnects) until stop(); the watcher drives it.
    atomcloud::diagnostics diag;
    session.async_run(diag, [&](atomcloud::error_code ec) {
        deadline.cancel();
        if (ec != atomcloud::client_errc::session_stopped) {
            std::cerr << "session ended: " << ec.message() << ' ' << diag.to_string() << '\n';
            status = 1;
        }
    });
    watch.on_done = [&] { deadline.cancel(); };
    watch.start();

    // The emulated device, on its own thread, talks once the app listens; should it not,
    // a timer ends the example instead of waiting forever.
    std::thread device_side;
    if (local) {
        deadline.expires_after(std::chrono::seconds(20));
        deadline.async_wait([&](atomcloud::error_code ec) {
            if (!ec)
                session.stop();
        });
        device_side = std::thread([&cloud = *local, number] {
            auto dev = cloud.device(number);
            if (!cloud.wait_subscribers(number, 1, std::chrono::seconds(10)))
                return;
            dev.connect();
            dev.send("ALIENTEK-HRTDT"); // heartbeats are not counted
            dev.send("temperature 21.5");
            dev.send(atomcloud::parse_hex_packet("CE C2 B6 C8 32 32 A1 E6")); // 温度22℃ (GBK)
            dev.send(atomcloud::bytes{0x01, 0x02, 0xFF});
        });
    }

    io.run(); // returns when the session stopped and the REST request completed
    if (device_side.joinable())
        device_side.join();

    std::cout << watch.messages() << " messages received\n";
    return watch.messages() >= count ? status : 1;
}
