// examples/02_watch_echo runs against its own in-process emulator: a device sends messages
// and the example echoes each back to it.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#ifdef ATOMCLOUD_EXAMPLE_02_watch_echo

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

TEST_CASE("example 02_watch_echo: every message comes back to the device", "[session][example]") {
    // Never the real platform here, whatever the environment says.
    const auto [out, status] =
        run(std::string("env -u ATOMCLOUD_TOKEN -u ATOMCLOUD_BASE_URL -u ATOMCLOUD_CA_FILE '") +
            ATOMCLOUD_EXAMPLE_02_watch_echo + "' 2>&1");
    INFO(out);
    CHECK(status == 0);
    CHECK(contains(out, "connected; watching 18846494908532689575"));
    CHECK(contains(out, "18846494908532689575: hello\n"));
    CHECK(contains(out, "18846494908532689575: 正点原子\n")); // GBK payload shown as UTF-8
    CHECK_FALSE(contains(out, "ALIENTEK-HRTDT"));             // heartbeats are not echoed
    CHECK(contains(out, "the device got all 3 messages back"));
}

#endif
