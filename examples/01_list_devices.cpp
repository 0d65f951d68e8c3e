// 01_list_devices: everything an account has — organisations, their groups, each group's
// devices with their connection state and last 10 messages. Plain blocking calls; errors
// are exceptions.
//
//   ATOMCLOUD_TOKEN=... 01_list_devices
//
// ATOMCLOUD_BASE_URL and ATOMCLOUD_CA_FILE select another server (e.g. the emulator).
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>

namespace {

// A message as a person reads it: heartbeats named, device text (GBK) decoded, and the
// bytes in hex.
void print(const atomcloud::packet& p) {
    std::cout << "      " << p.raw_time << "  ";
    if (atomcloud::is_heartbeat(p.payload))
        std::cout << "heartbeat\n";
    else
        std::cout << '"' << atomcloud::gbk_to_utf8(p.payload) << "\" [" << p.hex << "]\n";
}

} // namespace

int main() {
    const atomcloud::config cfg = atomcloud::config::from_env();
    if (cfg.token.empty()) {
        std::cerr << "ATOMCLOUD_TOKEN is not set (the API token of your Atom Cloud account)\n";
        return 2;
    }
    try {
        boost::asio::io_context io;
        atomcloud::rest_client api(io.get_executor(), cfg);
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
                    atomcloud::packet_query last10;
                    last10.limit = 10;
                    if (auto id = dev.as_history_device())
                        for (const auto& p : api.packets(org.id, *id, last10).items)
                            print(p);
                }
            }
        }
    } catch (const std::exception& e) { // atomcloud::error: with the server's message
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
