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
