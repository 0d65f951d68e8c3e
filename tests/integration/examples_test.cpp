// Every program in examples/ runs as its user runs it: a process of its own, configured by
// ATOMCLOUD_BASE_URL, ATOMCLOUD_TOKEN and ATOMCLOUD_CA_FILE, here pointed at an in-process
// emulator. The test plays the devices while the example runs, then checks the example's
// output against what the emulator saw (what the devices sent and received).
#include "cli_process.hpp"

#include <atomcloud/atomcloud.hpp>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using atomcloud_cli_test::cli_fixture;
using atomcloud_cli_test::process;

[[maybe_unused]] bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

[[maybe_unused]] std::size_t occurrences(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

[[maybe_unused]] std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// What a device sent but its heartbeats, as text, oldest first.
[[maybe_unused]] std::vector<std::string> sent_texts(const atomcloud::emulator::device_handle& d) {
    std::vector<std::string> out;
    for (const auto& m : d.sent())
        if (!atomcloud::is_heartbeat(m.payload))
            out.emplace_back(atomcloud::as_chars(m.payload));
    return out;
}

constexpr const char* dtu = "18846494908532689575";   // devices of the emulator's default
constexpr const char* other = "27309143566123801957"; // fixture, organisation 1
constexpr const char* nbiot = "b6d85634-9d34-4052-80cd-b840b75cb910";

} // namespace

TEST_CASE("examples without ATOMCLOUD_TOKEN say so and fail", "[example]") {
    std::vector<std::pair<std::string, std::vector<std::string>>> runs;
#ifdef ATOMCLOUD_EXAMPLE_01_list_devices
    runs.push_back({ATOMCLOUD_EXAMPLE_01_list_devices, {}});
#endif
#ifdef ATOMCLOUD_EXAMPLE_02_watch_echo
    runs.push_back({ATOMCLOUD_EXAMPLE_02_watch_echo, {"1", dtu, "3"}});
#endif
#ifdef ATOMCLOUD_EXAMPLE_03_history_paging
    runs.push_back({ATOMCLOUD_EXAMPLE_03_history_paging, {"1", dtu}});
#endif
#ifdef ATOMCLOUD_EXAMPLE_04_callbacks
    runs.push_back({ATOMCLOUD_EXAMPLE_04_callbacks, {"1", dtu, "3"}});
#endif
#ifdef ATOMCLOUD_EXAMPLE_05_send_nbiot
    runs.push_back({ATOMCLOUD_EXAMPLE_05_send_nbiot, {"1", nbiot, "LED ON"}});
#endif
#ifdef ATOMCLOUD_EXAMPLE_07_gapless_stream
    runs.push_back({ATOMCLOUD_EXAMPLE_07_gapless_stream, {"1", dtu, "--seconds", "1"}});
#endif
#ifdef ATOMCLOUD_EXAMPLE_08_request_presence
    runs.push_back({ATOMCLOUD_EXAMPLE_08_request_presence, {"1", "45", "--seconds", "1"}});
#endif
    for (const auto& [example, args] : runs) {
        INFO(example);
        process p(args, {"ATOMCLOUD_BASE_URL=https://127.0.0.1:1"}, example);
        const auto r = p.wait(30s);
        CHECK(r.status == 2);
        CHECK(contains(r.err, "ATOMCLOUD_TOKEN is not set"));
        CHECK(r.out.empty());
    }
}

#ifdef ATOMCLOUD_EXAMPLE_01_list_devices
TEST_CASE("example 01_list_devices: orgs, groups, devices, states, messages", "[example]") {
    cli_fixture fx;
    auto dev = fx.cloud.device(dtu);
    dev.connect();
    dev.send("ALIENTEK-HRTDT");
    dev.send(atomcloud::parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4"));

    process p({}, fx.env, ATOMCLOUD_EXAMPLE_01_list_devices);
    const auto r = p.wait();
    const std::string& out = r.out;
    INFO(out << r.err);
    CHECK(r.status == 0);
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

    // Every device of the fixture is listed once, with the state the emulator has for it,
    // followed by as many messages as it sent (at most the last 10).
    const auto lines = lines_of(out);
    for (const auto& number : fx.cloud.device_numbers()) {
        INFO(number);
        const auto handle = fx.cloud.device(number);
        std::size_t listed = 0;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            if (lines[i].rfind("    device " + number + " ", 0) != 0)
                continue;
            ++listed;
            CHECK(lines[i].size() > handle.state().size());
            CHECK(lines[i].substr(lines[i].size() - handle.state().size() - 2) ==
                  ": " + handle.state());
            std::size_t messages = 0;
            while (i + 1 + messages < lines.size() &&
                   lines[i + 1 + messages].rfind("      ", 0) == 0)
                ++messages;
            CHECK(messages == std::min<std::size_t>(handle.sent_count(), 10));
        }
        CHECK(listed == 1);
    }
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_02_watch_echo
TEST_CASE("example 02_watch_echo: every message comes back to the device", "[example]") {
    cli_fixture fx;
    auto dev = fx.cloud.device(dtu);
    dev.connect();
    const std::vector<atomcloud::bytes> messages = {
        atomcloud::to_bytes("hello"),
        atomcloud::parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3"), // 正点原子 in GBK
        atomcloud::bytes{0x00, 0x01, 0xFE, 0xFF},
    };

    process p({"1", dtu, "3"}, fx.env, ATOMCLOUD_EXAMPLE_02_watch_echo);
    fx.wait_subscribers(dtu, 1);
    dev.send("ALIENTEK-HRTDT"); // a heartbeat: not echoed
    for (const auto& m : messages)
        dev.send(m);
    const auto r = p.wait();
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "connected; watching 18846494908532689575"));
    CHECK(contains(r.out, "18846494908532689575: hello\n"));
    CHECK(contains(r.out, "18846494908532689575: 正点原子\n")); // GBK payload shown as UTF-8
    CHECK_FALSE(contains(r.out, "ALIENTEK-HRTDT"));             // heartbeats are not echoed
    CHECK(occurrences(r.out, "18846494908532689575: ") == messages.size());
    CHECK(contains(r.out, "3 messages echoed\n"));
    // What the device got back: exactly its messages, in order.
    CHECK(dev.wait_received(messages.size(), 10s));
    CHECK(dev.received() == messages);
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_03_history_paging
TEST_CASE("example 03_history_paging: every packet once, heartbeats left out", "[example]") {
    cli_fixture fx;
    auto dev = fx.cloud.device(dtu);
    dev.connect();
    for (int i = 0; i < 250; ++i) {
        dev.send("reading " + std::to_string(i));
        if (i % 10 == 0)
            dev.send(atomcloud::default_heartbeat);
    }

    process p({"1", dtu}, fx.env, ATOMCLOUD_EXAMPLE_03_history_paging);
    const auto r = p.wait();
    const std::string& out = r.out;
    INFO(out << r.err);
    CHECK(r.status == 0);
    // 250 readings and 25 heartbeats were sent: 275 packets, pages of 40 -> 7 batches.
    CHECK(contains(out, "250 packets in 7 batches\n"));
    CHECK(contains(out, "batch 1: 37 packets, newest "));    // 40 less the 3 heartbeats
    CHECK(contains(out, "+08:00 \"reading 249\", oldest ")); // newest first
    CHECK(contains(out, "batch 7: 31 packets, newest "));
    CHECK_FALSE(contains(out, "ALIENTEK-HRTDT"));

    // The batches, one after the other, are exactly what the device sent, newest first:
    // each starts right after the previous one ends, and none leaves anything out.
    auto truth = sent_texts(dev);
    std::reverse(truth.begin(), truth.end());
    const std::regex batch_line(
        R"re(batch (\d+): (\d+) packets, newest .* "(.*)", oldest .* "(.*)")re");
    std::size_t at = 0, batches = 0;
    for (const auto& line : lines_of(out)) {
        std::smatch m;
        if (!std::regex_match(line, m, batch_line))
            continue;
        INFO(line);
        CHECK(std::stoul(m[1]) == ++batches);
        const std::size_t n = std::stoul(m[2]);
        REQUIRE(n > 0);
        REQUIRE(at + n <= truth.size());
        CHECK(m[3] == truth[at]);
        CHECK(m[4] == truth[at + n - 1]);
        at += n;
    }
    CHECK(batches == 7);
    CHECK(at == truth.size());
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_04_callbacks
TEST_CASE("example 04_callbacks: REST and session with plain callbacks", "[example]") {
    cli_fixture fx;
    auto dev = fx.cloud.device(dtu);

    process p({"1", dtu, "3"}, fx.env, ATOMCLOUD_EXAMPLE_04_callbacks);
    fx.wait_subscribers(dtu, 1);
    dev.connect();              // seen by the subscribed example
    dev.send("ALIENTEK-HRTDT"); // heartbeats are not counted
    dev.send("temperature 21.5");
    dev.send(atomcloud::parse_hex_packet("CE C2 B6 C8 32 32 A1 E6")); // 温度22℃ (GBK)
    dev.send(atomcloud::bytes{0x01, 0x02, 0xFF});
    const auto r = p.wait();
    const std::string& out = r.out;
    INFO(out << r.err);
    CHECK(r.status == 0);
    CHECK(contains(out, "org 1: 正点原子\n"));
    CHECK(contains(out, "subscribed to 18846494908532689575\n"));
    CHECK(contains(out, "18846494908532689575 is online\n"));
    CHECK(contains(out, "18846494908532689575 says \"temperature 21.5\" [74 65 6D"));
    CHECK(contains(out, "says \"温度22℃\" [CE C2 B6 C8 32 32 A1 E6]\n"));
    CHECK(contains(out, "[01 02 FF]\n"));
    CHECK_FALSE(contains(out, "ALIENTEK-HRTDT")); // heartbeats are not counted or shown
    CHECK(contains(out, "3 messages received\n"));
    // Each message the device sent (but its heartbeat) printed once.
    std::size_t messages = 0;
    for (const auto& m : dev.sent()) {
        if (atomcloud::is_heartbeat(m.payload))
            continue;
        ++messages;
        CHECK(occurrences(out, " says \"" + atomcloud::gbk_to_utf8(m.payload) + "\" [" +
                                   atomcloud::to_hex_packet(m.payload) + "]\n") == 1);
    }
    CHECK(messages == 3);
    CHECK(occurrences(out, " says ") == messages);
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_05_send_nbiot
TEST_CASE("example 05_send_nbiot: a command reaches the NB-IoT device, its answer comes back",
          "[example]") {
    cli_fixture fx;
    auto dev = fx.cloud.device(nbiot);
    dev.connect();

    process p({"1", nbiot, "LED ON"}, fx.env, ATOMCLOUD_EXAMPLE_05_send_nbiot);
    // The device answers the command it receives.
    REQUIRE(dev.wait_received(1, 30s));
    dev.send("OK: " + std::string(atomcloud::as_chars(dev.received().front())));
    const auto r = p.wait();
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(dev.received() == std::vector<atomcloud::bytes>{atomcloud::to_bytes("LED ON")});
    CHECK(contains(r.out, "sent \"LED ON\" to b6d85634-9d34-4052-80cd-b840b75cb910\n"));
    CHECK(contains(r.out, "b6d85634-9d34-4052-80cd-b840b75cb910 answered \"OK: LED ON\"\n"));
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_06_emulator_in_tests
TEST_CASE("example 06_emulator_in_tests: its Catch2 tests pass", "[example]") {
    process p({}, {}, ATOMCLOUD_EXAMPLE_06_emulator_in_tests); // no ATOMCLOUD_* variables
    const auto r = p.wait();
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "All tests passed"));
    CHECK(contains(r.out, "4 test cases"));
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_07_gapless_stream
#include <filesystem>
#include <thread>

namespace {

// The "m<N>" payloads printed for the device, in order, and how many were backfilled.
std::vector<std::string> printed(const std::string& out, std::size_t& backfilled) {
    std::vector<std::string> payloads;
    backfilled = 0;
    for (const auto& line : lines_of(out)) {
        const auto at = line.find(" m");
        if (line.rfind(std::string(dtu) + " ", 0) != 0 || at == std::string::npos)
            continue;
        payloads.push_back(line.substr(at + 1));
        backfilled += line.find(" backfill ") != std::string::npos;
    }
    return payloads;
}

} // namespace

TEST_CASE("example 07_gapless_stream: an outage is backfilled, a restart continues from the "
          "saved cursors, each message once",
          "[example]") {
    cli_fixture fx;
    const auto cursors = std::filesystem::temp_directory_path() /
                         ("atomcloud-gapless-" + std::to_string(::getpid()));
    std::filesystem::remove(cursors);
    auto dev = fx.cloud.device(dtu);
    dev.connect();
    auto run = [&](int seconds) {
        return std::vector<std::string>{
            "1", dtu, "--cursors", cursors.string(), "--seconds", std::to_string(seconds)};
    };

    std::vector<std::string> sent_before;
    {
        process first(run(5), fx.env, ATOMCLOUD_EXAMPLE_07_gapless_stream);
        fx.wait_subscribers(dtu, 1);
        std::this_thread::sleep_for(300ms); // the stream's first (empty) backfill
        for (int i = 1; i <= 40; ++i) {
            dev.send("m" + std::to_string(i));
            if (i == 15)
                fx.cloud.drop_connections(800ms); // m16.. are sent while the link is down
            std::this_thread::sleep_for(20ms);
        }
        const auto r = first.wait();
        INFO(r.out << r.err);
        CHECK(r.status == 0);
        std::size_t backfilled = 0;
        sent_before = sent_texts(dev);
        REQUIRE(sent_before.size() == 40);
        CHECK(printed(r.out, backfilled) == sent_before); // each once, in order
        CHECK(backfilled > 0);
        CHECK_FALSE(contains(r.out, "GAP"));
    }

    // Sent while the program is not running: the restart prints them, and only them.
    for (int i = 41; i <= 50; ++i)
        dev.send("m" + std::to_string(i));
    process second(run(3), fx.env, ATOMCLOUD_EXAMPLE_07_gapless_stream);
    const auto r = second.wait();
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    auto sent_after = sent_texts(dev);
    sent_after.erase(sent_after.begin(), sent_after.begin() + 40);
    CHECK(sent_after == std::vector<std::string>{"m41", "m42", "m43", "m44", "m45", "m46", "m47",
                                                 "m48", "m49", "m50"});
    std::size_t backfilled = 0;
    CHECK(printed(r.out, backfilled) == sent_after);
    CHECK(backfilled == 10);
    std::filesystem::remove(cursors);
}
#endif

#ifdef ATOMCLOUD_EXAMPLE_08_request_presence
TEST_CASE("example 08_request_presence: online devices are asked and answer, arrivals are "
          "seen and asked, other messages pass through",
          "[example]") {
    cli_fixture fx;
    auto a = fx.cloud.device(dtu);
    auto b = fx.cloud.device(other);
    a.connect();

    process p({"1", "45", "AT+VER?", "--seconds", "8"}, fx.env,
              ATOMCLOUD_EXAMPLE_08_request_presence);
    // A is online at the start: asked, it answers, then says something else.
    REQUIRE(a.wait_received(1, 20s));
    a.send("VER 1.0");
    a.send("temperature 21.5");
    // B comes online later: the presence sees it, and it is asked too.
    fx.wait_subscribers(other, 1);
    b.connect();
    REQUIRE(b.wait_received(1, 20s));
    b.send("VER 2.0");
    const auto r = p.wait();
    const std::string& out = r.out;
    INFO(out << r.err);
    CHECK(r.status == 0);
    // Each device was asked once, with the command given.
    CHECK(a.received() == std::vector<atomcloud::bytes>{atomcloud::to_bytes("AT+VER?")});
    CHECK(b.received() == std::vector<atomcloud::bytes>{atomcloud::to_bytes("AT+VER?")});
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
