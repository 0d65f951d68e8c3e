// 04_callbacks: the same SDK without coroutines. Every operation takes a plain callback
// (any completion token works; a lambda is the simplest), and one io_context runs them all.
//
// It lists the organisations (REST), then watches a device (WebSocket) and prints what it
// sends until COUNT messages (10 unless given) arrived.
//
//   ATOMCLOUD_TOKEN=... 04_callbacks ORG_ID DEVICE_NUMBER [COUNT]
//
// ATOMCLOUD_BASE_URL and ATOMCLOUD_CA_FILE select another server (e.g. the emulator).
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <iostream>
#include <optional>
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

private:
    void receive() {
        session_.async_receive([this](atomcloud::error_code ec, atomcloud::event_batch batch) {
            if (ec) // client_errc::session_stopped: nothing more will arrive
                return;
            for (const atomcloud::event& ev : batch)
                on_event(ev);
            session_.recycle(std::move(batch));
            if (seen_ >= wanted_)
                session_.stop(); // async_run completes, and the io_context runs out of work
            else
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
    const bool args_ok = argc == 3 || argc == 4;
    const std::int64_t org = args_ok ? std::atoll(argv[1]) : 0;
    const auto device = args_ok ? atomcloud::device_number::parse(argv[2]) : std::nullopt;
    const std::size_t count = argc == 4 ? std::strtoul(argv[3], nullptr, 10) : 10;
    if (org <= 0 || !device || count == 0) {
        std::cerr << "usage: 04_callbacks ORG_ID DEVICE_NUMBER [COUNT] (a device number has 20 "
                     "characters)\n";
        return 2;
    }
    const atomcloud::config cfg = atomcloud::config::from_env();
    if (cfg.token.empty()) {
        std::cerr << "ATOMCLOUD_TOKEN is not set (the API token of your Atom Cloud account)\n";
        return 2;
    }

    asio::io_context io;
    atomcloud::rest_client api(io.get_executor(), cfg);
    atomcloud::session session(io.get_executor(), cfg, org);
    watcher watch(session, *device, count);
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
        if (ec != atomcloud::client_errc::session_stopped) {
            std::cerr << "session ended: " << ec.message() << ' ' << diag.to_string() << '\n';
            status = 1;
        }
    });
    watch.start();

    io.run(); // returns when the session stopped and the REST request completed
    std::cout << watch.messages() << " messages received\n";
    return watch.messages() >= count ? status : 1;
}
