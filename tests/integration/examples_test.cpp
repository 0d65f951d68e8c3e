// Every program in examples/ runs against its own in-process emulator (never the real
// platform, whatever the environment says) and reports what it did; the tests check that.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <utility>

namespace {

// Runs the example at `path` with the platform's variables unset; returns its standard
// output and error, merged, and its exit status (0: success).
[[maybe_unused]] std::pair<std::string, int> run_example(const std::string& path) {
    const std::string command =
        "env -u ATOMCLOUD_TOKEN -u ATOMCLOUD_BASE_URL -u ATOMCLOUD_CA_FILE '" + path + "' 2>&1";
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
        out.append(buf, n);
    const int status = ::pclose(pipe);
    return {out, status};
}

[[maybe_unused]] bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

#ifdef ATOMCLOUD_EXAMPLE_01_list_devices
TEST_CASE("example 01_list_devices: orgs, groups, devices, states, messages", "[example]") {
    // Never the real platform here, whatever the environment says.
    const auto [out, status] = run_example(ATOMCLOUD_EXAMPLE_01_list_devices);
    INFO(out);
    CHECK(status == 0);
    CHECK(contains(out, "using a local emulator at https://127.0.0.1:"));
    CHECK(contains(out, "org 1: 正点原子"));
    CHECK(contains(out, "  group 45: 官方设备"));
    CHECK(contains(out, "  group 44: 默认分组"));
    CHECK(contains(out, "    device 18846494908532689575 \"官方设备 - 2\" (unknown): connected"));
    CHECK(contains(out, "    device 27309143566123801957 \"DTU 设备 - 3\" (dtu): disconnected"));
    CHECK(contains(out, "(nbiot): notbind"));
    // The device's two messages, newest first: GBK text decoded, then the heartbeat.
    const auto text = out.find("\"正点原子数据测试\" [D5 FD B5 E3");
    const auto heartbeat = out.find("  heartbeat\n");
    CHECK(text != std::string::npos);
    CHECK(heartbeat != std::string::npos);
    CHECK(text < heartbeat);
    CHECK(contains(out, "+08:00  heartbeat"));
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_02_watch_echo
TEST_CASE("example 02_watch_echo: every message comes back to the device", "[example]") {
    const auto [out, status] = run_example(ATOMCLOUD_EXAMPLE_02_watch_echo);
    INFO(out);
    CHECK(status == 0);
    CHECK(contains(out, "connected; watching 18846494908532689575"));
    CHECK(contains(out, "18846494908532689575: hello\n"));
    CHECK(contains(out, "18846494908532689575: 正点原子\n")); // GBK payload shown as UTF-8
    CHECK_FALSE(contains(out, "ALIENTEK-HRTDT"));             // heartbeats are not echoed
    CHECK(contains(out, "the device got all 3 messages back"));
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_03_history_paging
TEST_CASE("example 03_history_paging: every packet once, heartbeats left out", "[example]") {
    const auto [out, status] = run_example(ATOMCLOUD_EXAMPLE_03_history_paging);
    INFO(out);
    CHECK(status == 0);
    CHECK(contains(out, "using a local emulator"));
    // 250 readings and 25 heartbeats were sent: 275 packets, pages of 40 -> 7 batches.
    CHECK(contains(out, "250 packets in 7 batches\n"));
    CHECK(contains(out, "batch 1: 37 packets, newest ")); // 40 less the 3 heartbeats
    CHECK(contains(out, "+08:00 \"reading 249\"\n"));     // newest first
    CHECK(contains(out, "batch 7: 31 packets, newest "));
    CHECK_FALSE(contains(out, "ALIENTEK-HRTDT"));
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_04_callbacks
TEST_CASE("example 04_callbacks: REST and session with plain callbacks", "[example]") {
    const auto [out, status] = run_example(ATOMCLOUD_EXAMPLE_04_callbacks);
    INFO(out);
    CHECK(status == 0);
    CHECK(contains(out, "org 1: 正点原子\n"));
    CHECK(contains(out, "subscribed to 18846494908532689575\n"));
    CHECK(contains(out, "18846494908532689575 is online\n"));
    CHECK(contains(out, "18846494908532689575 says \"temperature 21.5\" [74 65 6D"));
    CHECK(contains(out, "says \"温度22℃\" [CE C2 B6 C8 32 32 A1 E6]\n"));
    CHECK(contains(out, "[01 02 FF]\n"));
    CHECK_FALSE(contains(out, "ALIENTEK-HRTDT")); // heartbeats are not counted or shown
    CHECK(contains(out, "3 messages received\n"));
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_05_send_nbiot
TEST_CASE("example 05_send_nbiot: a command reaches the NB-IoT device, its answer comes back",
          "[example]") {
    const auto [out, status] = run_example(ATOMCLOUD_EXAMPLE_05_send_nbiot);
    INFO(out);
    CHECK(status == 0);
    CHECK(contains(out, "sent \"LED ON\" to b6d85634-9d34-4052-80cd-b840b75cb910\n"));
    CHECK(contains(out, "b6d85634-9d34-4052-80cd-b840b75cb910 answered \"OK: LED ON\"\n"));
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_06_emulator_in_tests
TEST_CASE("example 06_emulator_in_tests: its Catch2 tests pass", "[example]") {
    const auto [out, status] = run_example(ATOMCLOUD_EXAMPLE_06_emulator_in_tests);
    INFO(out);
    CHECK(status == 0);
    CHECK(contains(out, "All tests passed"));
    CHECK(contains(out, "4 test cases"));
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_07_gapless_stream
#include <atomcloud/emulator/server.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

namespace {

// Runs 07_gapless_stream against `cloud` for `seconds` (in the background).
std::future<std::pair<std::string, int>> start_gapless(const atomcloud::emulator::server& cloud,
                                                       const std::string& ca,
                                                       const std::string& cursors, int seconds) {
    const std::string command = "env ATOMCLOUD_BASE_URL='" + cloud.base_url() +
                                "' ATOMCLOUD_TOKEN='" + cloud.token() + "' ATOMCLOUD_CA_FILE='" +
                                ca + "' '" + ATOMCLOUD_EXAMPLE_07_gapless_stream +
                                "' 1 18846494908532689575 --cursors '" + cursors + "' --seconds " +
                                std::to_string(seconds) + " 2>&1";
    return std::async(std::launch::async, [command] {
        std::string out;
        FILE* pipe = ::popen(command.c_str(), "r");
        if (!pipe)
            return std::make_pair(std::string("popen failed"), -1);
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
            out.append(buf, n);
        return std::make_pair(out, ::pclose(pipe));
    });
}

// The "m<N>" payloads printed, in order, and how many of them were backfilled.
std::vector<int> printed(const std::string& out, std::size_t& backfilled) {
    std::vector<int> nums;
    std::istringstream in(out);
    backfilled = 0;
    for (std::string line; std::getline(in, line);) {
        const auto at = line.find(" m");
        if (line.rfind("18846494908532689575 ", 0) != 0 || at == std::string::npos)
            continue;
        nums.push_back(std::atoi(line.c_str() + at + 2));
        backfilled += line.find(" backfill ") != std::string::npos;
    }
    return nums;
}

} // namespace

TEST_CASE("example 07_gapless_stream: an outage is backfilled, a restart continues from the "
          "saved cursors, each message once",
          "[example]") {
    using namespace std::chrono_literals;
    atomcloud::emulator::server cloud;
    const auto dir = std::filesystem::temp_directory_path() /
                     ("atomcloud-gapless-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string ca = (dir / "ca.pem").string(), cursors = (dir / "cursors").string();
    std::ofstream(ca) << cloud.ca_pem();
    auto dev = cloud.device("18846494908532689575");
    dev.connect();

    auto first = start_gapless(cloud, ca, cursors, 5);
    REQUIRE(cloud.wait_subscribers("18846494908532689575", 1, 10s));
    std::this_thread::sleep_for(300ms); // the stream's first (empty) backfill
    for (int i = 1; i <= 40; ++i) {
        dev.send("m" + std::to_string(i));
        if (i == 15)
            cloud.drop_connections(800ms); // m16.. are sent while the link is down
        std::this_thread::sleep_for(20ms);
    }
    auto [out1, status1] = first.get();
    INFO(out1);
    CHECK(status1 == 0);
    std::size_t backfilled1 = 0;
    std::vector<int> want;
    for (int i = 1; i <= 40; ++i)
        want.push_back(i);
    CHECK(printed(out1, backfilled1) == want);
    CHECK(backfilled1 > 0);
    CHECK(out1.find("GAP") == std::string::npos);

    // Sent while the program is not running: the restart prints them, and only them.
    for (int i = 41; i <= 50; ++i)
        dev.send("m" + std::to_string(i));
    auto second = start_gapless(cloud, ca, cursors, 3);
    auto [out2, status2] = second.get();
    INFO(out2);
    CHECK(status2 == 0);
    std::size_t backfilled2 = 0;
    CHECK(printed(out2, backfilled2) == std::vector<int>{41, 42, 43, 44, 45, 46, 47, 48, 49, 50});
    CHECK(backfilled2 == 10);
    std::filesystem::remove_all(dir);
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_08_request_presence
#include <atomcloud/emulator/server.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

TEST_CASE("example 08_request_presence: online devices are asked and answer, arrivals are "
          "seen and asked, other messages pass through",
          "[example]") {
    using namespace std::chrono_literals;
    atomcloud::emulator::server cloud;
    const auto ca = std::filesystem::temp_directory_path() /
                    ("atomcloud-08-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(ca) << cloud.ca_pem();
    auto a = cloud.device("18846494908532689575");
    auto b = cloud.device("27309143566123801957");
    a.connect();
    const std::string command = "env ATOMCLOUD_BASE_URL='" + cloud.base_url() +
                                "' ATOMCLOUD_TOKEN='" + cloud.token() + "' ATOMCLOUD_CA_FILE='" +
                                ca.string() + "' '" + ATOMCLOUD_EXAMPLE_08_request_presence +
                                "' 1 45 'AT+VER?' --seconds 8 2>&1";
    auto run = std::async(std::launch::async, [command] {
        std::string out;
        FILE* pipe = ::popen(command.c_str(), "r");
        if (!pipe)
            return std::make_pair(std::string("popen failed"), -1);
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
            out.append(buf, n);
        return std::make_pair(out, ::pclose(pipe));
    });
    // A is online at the start: asked, it answers, then says something else.
    REQUIRE(a.wait_received(1, 20s));
    a.send("VER 1.0");
    a.send("temperature 21.5");
    // B comes online later: the presence sees it, and it is asked too.
    REQUIRE(cloud.wait_subscribers("27309143566123801957", 1, 20s));
    b.connect();
    REQUIRE(b.wait_received(1, 20s));
    b.send("VER 2.0");
    auto [out, status] = run.get();
    std::filesystem::remove(ca);
    INFO(out);
    CHECK(status == 0);
    CHECK(a.received().at(0) == atomcloud::to_bytes("AT+VER?"));
    CHECK(contains(out, "18846494908532689575 is connected (was unknown, seed)\n"));
    CHECK(contains(out, "27309143566123801957 is disconnected (was unknown, seed)\n"));
    CHECK(contains(out, "18846494908532689575 answered \"VER 1.0\"\n"));
    CHECK(contains(out, "18846494908532689575 says \"temperature 21.5\"\n"));
    CHECK(contains(out, "27309143566123801957 is connected (was disconnected, device_event)\n"));
    CHECK(contains(out, "27309143566123801957 answered \"VER 2.0\"\n"));
    CHECK_FALSE(contains(out, "says \"VER")); // answers do not reach the application's loop
    CHECK(contains(out, "2 of 2 devices online\n"));
}
#endif
