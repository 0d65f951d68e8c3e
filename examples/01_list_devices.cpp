// Lists everything an account has: organisations -> groups -> devices, each device's
// connection state and its last 10 messages. Plain blocking calls; errors are exceptions.
//
// With ATOMCLOUD_TOKEN set (and optionally ATOMCLOUD_BASE_URL, ATOMCLOUD_CA_FILE) it talks
// to the real platform; without, to a local emulator started in this process.
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <optional>

namespace {

// What a message looks like to a person: heartbeats named, GBK text decoded, and the
// bytes in hex.
std::string describe(const atomcloud::packet& p) {
    if (atomcloud::is_heartbeat(p.payload))
        return "heartbeat";
    return "\"" + atomcloud::gbk_to_utf8(p.payload) + "\" [" + p.hex + "]";
}

} // namespace

int main() {
    atomcloud::config cfg = atomcloud::config::from_env();

    std::optional<atomcloud::emulator::server> local;
    if (cfg.token.empty()) {
        local.emplace();
        cfg = local->client_config();
        // Give the demo something to show.
        auto dev = local->device("18846494908532689575");
        dev.connect();
        dev.send("ALIENTEK-HRTDT");
        dev.send(atomcloud::parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4"));
        std::cout << "(ATOMCLOUD_TOKEN is not set: using a local emulator at " << cfg.base_url
                  << ")\n";
    }

    boost::asio::io_context io;
    atomcloud::rest_client api(io.get_executor(), cfg);

    try {
        for (const auto& org : api.list_orgs()) {
            std::cout << "org " << org.id << ": " << org.name << " (" << org.device_counter
                      << " of " << org.device_limit << " devices)\n";
            for (const auto& group : api.list_groups(org.id)) {
                std::cout << "  group " << group.id << ": " << group.name << '\n';
                for (const auto& dev : api.list_devices(org.id, group.id)) {
                    const auto state = api.device_state(org.id, dev.id);
                    std::cout << "    device " << dev.number << " \"" << dev.name << "\" ("
                              << atomcloud::to_string(dev.type) << "): " << to_string(state)
                              << '\n';
                    atomcloud::history_query last10;
                    last10.limit = 10;
                    for (const auto& p : api.packets(org.id, dev.number, last10).items)
                        std::cout << "      " << p.raw_time << "  " << describe(p) << '\n';
                }
            }
        }
    } catch (const atomcloud::error& e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
    return 0;
}
