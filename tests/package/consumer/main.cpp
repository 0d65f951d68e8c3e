// A consumer of the installed (or embedded) atomcloud, compiled as C++17: the codec, and,
// pointed at an emulator by ATOMCLOUD_BASE_URL / _TOKEN / _CA_FILE, one REST call and one
// session that connects, subscribes and stops.
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int fail(const char* what) {
    std::printf("consumer failed: %s\n", what);
    return 1;
}

// Lists the organisations and runs a session until it is connected.
int against_the_emulator() {
    using namespace atomcloud;
    const config cfg = config::from_env();
    boost::asio::io_context io;
    rest_client api(io.get_executor(), cfg);
    const auto orgs = api.list_orgs();
    if (orgs.empty() || orgs.front().id != 1)
        return fail("REST: organisation 1 expected");
    std::printf("consumer rest ok: %zu organisation(s)\n", orgs.size());

    session s(io.get_executor(), cfg, 1);
    bool connected = false;
    error_code run_result = make_error_code(client_errc::not_connected);
    s.async_subscribe(device_number("18846494908532689575"), [](error_code) {});
    s.async_run([&](error_code ec) { run_result = ec; });
    s.async_receive([&](error_code ec, event_batch batch) {
        for (const auto& ev : batch)
            connected = connected || std::holds_alternative<session_connected>(ev);
        if (!ec)
            s.stop();
    });
    io.restart();
    io.run_for(std::chrono::seconds(60));
    if (!connected || run_result != client_errc::session_stopped)
        return fail("session: connected, then stopped, expected");
    std::printf("consumer session ok: connected, then stopped\n");
    return 0;
}

} // namespace

int main() {
    using namespace atomcloud;
    const bytes wire = encode_frame(subscribe_frame{device_number("18846494908532689575")});
    error_code ec;
    auto f = decode_frame(wire, frame_origin::cloud, ec);
    if (f || ec != client_errc::wrong_direction)
        return fail("wrong_direction expected");
    if (gbk_to_utf8(parse_hex_packet("D5 FD B5 E3")) != "正点")
        return fail("GBK");
    if (std::getenv("ATOMCLOUD_BASE_URL")) {
        try {
            if (int rc = against_the_emulator(); rc != 0)
                return rc;
        } catch (const std::exception& e) {
            std::printf("consumer failed: %s\n", e.what());
            return 1;
        }
    }
    const std::string hex = to_hex_packet(wire);
    std::printf("consumer ok: %s\n", hex.c_str());
    return 0;
}
