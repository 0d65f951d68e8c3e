// examples/01_list_devices runs against its own in-process emulator and prints the tree.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#ifdef ATOMCLOUD_EXAMPLE_01_list_devices

namespace {

// Runs `command`, returning its standard output and exit status.
std::pair<std::string, int> run(const std::string& command) {
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

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("example 01_list_devices: orgs, groups, devices, states, messages", "[rest][example]") {
    // Never the real platform here, whatever the environment says.
    const auto [out, status] =
        run(std::string("env -u ATOMCLOUD_TOKEN -u ATOMCLOUD_BASE_URL -u ATOMCLOUD_CA_FILE '") +
            ATOMCLOUD_EXAMPLE_01_list_devices + "'");
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
