// The atomcloud command, as installed, against the in-process emulator over verified TLS:
// every command, its table and JSON output, and every exit status.
//
// ATOMCLOUD_CLI (environment) is the path of the binary under test.
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/payload.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_process.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using namespace atomcloud_cli_test;
using fixture = cli_fixture;
using nlohmann::json;

constexpr const char* dtu = "18846494908532689575";
constexpr const char* nbiot = "b6d85634-9d34-4052-80cd-b840b75cb910";

std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        if (end > start)
            out.push_back(json::parse(text.substr(start, end - start)));
        start = end + 1;
    }
    return out;
}

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// What a device or server sends to take over a terminal: set the window title, clear the
// screen, forge a line.
constexpr std::string_view escapes = "\x1b]0;pwned\x07\x1b[2J\r\nFAKE";
// ... and as the command shows it.
constexpr std::string_view escapes_shown = "\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x0aFAKE";

// True if `text` holds nothing a terminal acts on: no C0 control but LF (which ends the
// command's own lines), no DEL, no C1 control, and no line that starts with the forged one.
bool terminal_safe(const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c < 0x20 && c != '\n') || c == 0x7F)
            return false;
        if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
            static_cast<unsigned char>(text[i + 1]) <= 0x9F)
            return false;
        if (text.compare(i, 4, "FAKE") == 0 && (i == 0 || text[i - 1] == '\n'))
            return false;
    }
    return atomcloud::is_valid_utf8(text);
}

// The hostile server of tests/integration/hostile/hostile_cloud.py, and a directory for
// its certificate.
struct hostile_cloud {
    std::filesystem::path dir;
    std::optional<process> server;
    std::string base_url;
    std::string ca_file;

    hostile_cloud() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "atomcloud-cli-hostile-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
        server.emplace(
            std::vector<std::string>{ATOMCLOUD_HOSTILE_DIR "/hostile_cloud.py", dir.string()},
            std::vector<std::string>{}, "/usr/bin/python3");
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (!contains(server->so_far().out, "\n")) {
            INFO("stderr of hostile_cloud.py: " << server->so_far().err);
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            server->pump(100ms);
        }
        const std::string line = server->so_far().out;
        REQUIRE(line.rfind("port=", 0) == 0);
        base_url = "https://127.0.0.1:" + line.substr(5, line.find('\n') - 5);
        ca_file = (dir / "cert.pem").string();
    }
    ~hostile_cloud() {
        server.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::vector<std::string> env() const {
        return {"ATOMCLOUD_BASE_URL=" + base_url, "ATOMCLOUD_TOKEN=hostile-token",
                "ATOMCLOUD_CA_FILE=" + ca_file};
    }
};

// VmRSS of a process, in KiB.
long resident_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return -1;
}

} // namespace

TEST_CASE("cli: --help and --version", "[cli]") {
    fixture f;
    auto help = f.run({"--help"});
    CHECK(help.status == 0);
    for (const char* cmd : {"orgs", "groups", "devices", "state", "history", "watch", "send"})
        CHECK(contains(help.out, cmd));
    auto version = f.run({"--version"});
    CHECK(version.status == 0);
    CHECK(contains(version.out, "atomcloud 0."));
}

TEST_CASE("cli: orgs as a table and as JSON", "[cli]") {
    fixture f;
    auto table = f.run({"orgs"});
    REQUIRE(table.status == 0);
    CHECK(contains(table.out, "ID"));
    CHECK(contains(table.out, "正点原子"));
    CHECK(table.err.empty());

    auto r = f.run({"--json", "orgs"});
    REQUIRE(r.status == 0);
    const json orgs = json::parse(r.out);
    REQUIRE(orgs.is_array());
    REQUIRE(orgs.size() == 1);
    CHECK(orgs[0]["id"] == 1);
    CHECK(orgs[0]["name"] == "正点原子");
    CHECK(orgs[0]["device_limit"] == 1000);
    CHECK(orgs[0]["created_at"] == "2018-04-14T15:30:52+08:00");
    // --json after the command works too
    auto after = f.run({"orgs", "--json"});
    CHECK(json::parse(after.out) == orgs);
}

TEST_CASE("cli: groups and devices, JSON with normalised types", "[cli]") {
    fixture f;
    auto groups = f.run({"--json", "groups", "--org", "1"});
    REQUIRE(groups.status == 0);
    const json g = json::parse(groups.out);
    std::vector<std::int64_t> ids;
    for (const auto& item : g)
        ids.push_back(item["id"].get<std::int64_t>());
    CHECK(std::find(ids.begin(), ids.end(), 44) != ids.end());
    CHECK(std::find(ids.begin(), ids.end(), 45) != ids.end());

    bool found = false;
    for (std::int64_t group : ids) {
        auto r = f.run({"--json", "devices", "--org", "1", "--group", std::to_string(group)});
        REQUIRE(r.status == 0);
        for (const auto& d : json::parse(r.out)) {
            CHECK(d["id"].is_number_integer());
            CHECK(d["show_id"].is_string()); // the API sends a number for some devices
            CHECK((
                d["device_type"].is_null() ||
                (d["device_type"].is_string() && d["device_type"].get<std::string>().size() == 2)));
            if (d["number"] == dtu) {
                found = true;
                CHECK(d["id"] == 146);
                CHECK(d["show_id"] == "1007");
                CHECK(d["name"] == "官方设备 - 2");
                CHECK(d["device_type"].is_null()); // absent in the API's example
            }
            if (d["number"] == nbiot)
                CHECK(d["device_type"] == "03");
        }
    }
    CHECK(found);

    auto table = f.run({"devices", "--org", "1", "--group", "44"});
    REQUIRE(table.status == 0);
    CHECK(contains(table.out, "NUMBER"));
}

TEST_CASE("cli: state follows the device", "[cli]") {
    fixture f;
    auto before = f.run({"state", "--org", "1", "--device-id", "146"});
    REQUIRE(before.status == 0);
    CHECK(before.out == "disconnected\n");
    f.cloud.device(dtu).connect();
    auto after = f.run({"--json", "state", "--org", "1", "--device-id", "146"});
    REQUIRE(after.status == 0);
    CHECK(json::parse(after.out) == "connected");
    auto missing = f.run({"state", "--org", "1", "--device-id", "999999"});
    CHECK(missing.status == 1);
}

TEST_CASE("cli: history pages, encodings, filters and --all", "[cli]") {
    fixture f;
    auto dev = f.cloud.device(dtu);
    dev.connect();
    dev.send(atomcloud::default_heartbeat);
    dev.send(atomcloud::parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3")); // 正点原子 in GBK
    dev.send("plain");

    auto r = f.run(
        {"--json", "history", "--org", "1", "--number", dtu, "--limit", "2", "--encoding", "gbk"});
    REQUIRE(r.status == 0);
    json page = json::parse(r.out);
    CHECK(page["current_page"] == 1);
    CHECK(page["total_item"] == 3);
    CHECK(page["total_page"] == 2);
    CHECK(page["page_limit"] == 2);
    REQUIRE(page["items"].size() == 2);
    CHECK(page["items"][0]["hex_packet"] == "70 6C 61 69 6E"); // newest first
    CHECK(page["items"][0]["text"] == "plain");
    CHECK(page["items"][1]["hex_packet"] == "D5 FD B5 E3 D4 AD D7 D3");
    CHECK(page["items"][1]["text"] == "正点原子");
    CHECK(page["items"][1]["length"] == 8);
    CHECK(page["items"][1]["number"] == dtu);

    auto hex_only = f.run({"--json", "history", "--org", "1", "--number", dtu});
    REQUIRE(hex_only.status == 0);
    const json hex_page = json::parse(hex_only.out);
    CHECK(hex_page["items"].size() == 3);
    for (const auto& item : hex_page["items"])
        CHECK_FALSE(item.contains("text"));

    auto all = f.run({"--json", "history", "--org", "1", "--number", dtu, "--all", "--no-heartbeat",
                      "--limit", "1", "--encoding", "utf8"});
    REQUIRE(all.status == 0);
    json everything = json::parse(all.out);
    CHECK(everything["total_item"] == 2);
    REQUIRE(everything["items"].size() == 2);
    CHECK(everything["items"][0]["text"] == "plain");
    CHECK(everything["items"][1]["hex_packet"] == "D5 FD B5 E3 D4 AD D7 D3");

    auto table = f.run({"history", "--org", "1", "--number", dtu, "--encoding", "gbk"});
    REQUIRE(table.status == 0);
    CHECK(contains(table.out, "正点原子"));
    CHECK(contains(table.out, "ALIENTEK-HRTDT"));

    // A window in the past holds nothing.
    auto window = f.run({"--json", "history", "--org", "1", "--number", dtu, "--start",
                         "2018-08-11 17:00:00", "--end", "2018-08-11 18:00:00"});
    REQUIRE(window.status == 0);
    CHECK(json::parse(window.out)["total_item"] == 0);

    CHECK(f.run({"history", "--org", "1", "--number", dtu, "--start", "yesterday"}).status == 2);
    CHECK(f.run({"history", "--org", "1", "--number", dtu, "--all", "--page", "2"}).status == 2);
    CHECK(f.run({"history", "--org", "1", "--number", dtu, "--encoding", "latin1"}).status == 2);
}

TEST_CASE("cli: watch prints events as JSON lines and stops at --count", "[cli]") {
    fixture f;
    process watch(
        {"--json", "watch", "--org", "1", "--number", dtu, "--count", "3", "--encoding", "gbk"},
        f.env);
    f.wait_subscribers(dtu, 1);
    auto dev = f.cloud.device(dtu);
    dev.connect();
    dev.send(atomcloud::parse_hex_packet("D5 FD B5 E3"));
    dev.disconnect();
    auto r = watch.wait();
    REQUIRE(r.status == 0);
    auto lines = json_lines(r.out);
    std::vector<json> device_lines;
    for (const auto& l : lines)
        if (l["event"] != "session_connected" && l["event"] != "session_disconnected")
            device_lines.push_back(l);
    REQUIRE(device_lines.size() == 3);
    CHECK(device_lines[0] == json{{"event", "device_connected"}, {"device", dtu}});
    CHECK(device_lines[1] == json{{"event", "device_message"},
                                  {"device", dtu},
                                  {"hex", "D5 FD B5 E3"},
                                  {"text", "正点"}});
    CHECK(device_lines[2] == json{{"event", "device_disconnected"}, {"device", dtu}});
    CHECK(lines.front() == json{{"event", "session_connected"}});
}

TEST_CASE("cli: watch --duration ends quietly, table output", "[cli]") {
    fixture f;
    // The duration covers start-up, TLS and subscribing too: long enough for a loaded
    // machine under sanitizers; the message is awaited, not assumed.
    constexpr auto duration = 10s;
    const auto started = std::chrono::steady_clock::now();
    process watch({"watch", "--org", "1", "--number", dtu, "--duration", "10"}, f.env);
    f.wait_subscribers(dtu, 1);
    f.cloud.device(dtu).connect();
    f.cloud.device(dtu).send("hello");
    while (!contains(watch.so_far().out, "68 65 6C 6C 6F")) {
        REQUIRE(std::chrono::steady_clock::now() - started < duration);
        watch.pump(50ms);
    }
    auto r = watch.wait();
    CHECK(std::chrono::steady_clock::now() - started >= duration);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "device_message"));
    CHECK(contains(r.out, "68 65 6C 6C 6F"));
    CHECK(contains(r.err, "connected"));
}

TEST_CASE("cli: watch reconnects by itself and says so", "[cli]") {
    fixture f;
    f.cloud.device(dtu).connect(); // before the watch: only the two messages count
    process watch({"--json", "watch", "--org", "1", "--number", dtu, "--count", "2"}, f.env);
    f.wait_subscribers(dtu, 1);
    f.cloud.device(dtu).send("before");
    // Wait for the first message to be printed, then cut every connection.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!contains(watch.so_far().out, "device_message")) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        watch.pump(50ms);
    }
    f.cloud.drop_connections();
    // The session subscribes again after reconnecting.
    while (f.cloud.subscribers(dtu) < 1 || !contains(watch.so_far().err, "reconnected")) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        watch.pump(50ms);
    }
    f.cloud.device(dtu).send("after");
    auto r = watch.wait();
    REQUIRE(r.status == 0);
    CHECK(contains(r.err, "connection lost"));
    CHECK(contains(r.err, "reconnected"));
    std::vector<std::string> hexes;
    std::size_t connects = 0;
    for (const auto& l : json_lines(r.out)) {
        if (l["event"] == "device_message")
            hexes.push_back(l["hex"]);
        if (l["event"] == "session_connected")
            ++connects;
    }
    CHECK(connects == 2);
    CHECK(hexes ==
          std::vector<std::string>{atomcloud::to_hex_packet(atomcloud::as_bytes("before")),
                                   atomcloud::to_hex_packet(atomcloud::as_bytes("after"))});
}

TEST_CASE("cli: watch an NB-IoT device, SIGINT ends it cleanly", "[cli]") {
    fixture f;
    process watch({"--json", "watch", "--org", "1", "--nbiot-id", nbiot}, f.env);
    // No subscribe frame exists for NB-IoT ids: wait for the connection instead.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!contains(watch.so_far().out, "session_connected")) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        watch.pump(50ms);
    }
    const std::uint8_t data[] = {0x00, 0x01, 0xFF};
    f.cloud.device(nbiot).connect();
    f.cloud.device(nbiot).send(atomcloud::bytes_view(data));
    while (!contains(watch.so_far().out, "nbiot_message")) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        watch.pump(50ms);
    }
    watch.signal(SIGINT);
    auto r = watch.wait();
    CHECK(r.status == 0);
    bool seen = false;
    for (const auto& l : json_lines(r.out))
        if (l["event"] == "nbiot_message") {
            CHECK(l["device"] == nbiot);
            CHECK(l["hex"] == "00 01 FF");
            seen = true;
        }
    CHECK(seen);
}

TEST_CASE("cli: watch --stats prints a metrics line at the interval", "[cli]") {
    fixture f;
    process watch({"watch", "--org", "1", "--number", dtu, "--stats", "0.2"}, f.env);
    f.wait_subscribers(dtu, 1);
    f.cloud.device(dtu).connect();
    f.cloud.device(dtu).send("hello");
    f.cloud.device(dtu).send("world!");
    // 0x04 (21 bytes), then two 0x06 frames (21 + 5 and 21 + 6 bytes).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    // Two lines with every message: the line comes again at the interval.
    auto seen_twice = [](const std::string& err) {
        const std::string needle = "received 3 msgs 74 bytes";
        const auto first = err.find(needle);
        return first != std::string::npos && err.find(needle, first + 1) != std::string::npos;
    };
    while (!seen_twice(watch.so_far().err)) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        watch.pump(50ms);
    }
    watch.signal(SIGINT);
    auto r = watch.wait(); // the metrics timer does not keep it alive
    CHECK(r.status == 0);
    std::size_t lines = 0;
    std::istringstream err(r.err);
    for (std::string l; std::getline(err, l);)
        if (l.rfind("atomcloud: stats: received ", 0) == 0) {
            ++lines;
            CHECK(contains(l, "reconnects 0"));
            CHECK(contains(l, "last failure: none"));
        }
    CHECK(lines >= 2);
    CHECK(contains(r.err, " msg/s, "));
    CHECK(contains(r.err, "pending 0"));

    auto bad = f.run({"watch", "--org", "1", "--number", dtu, "--stats", "0"});
    CHECK(bad.status == 2);
}

TEST_CASE("cli: send text, GBK text, hex and to NB-IoT, the device receives the bytes", "[cli]") {
    fixture f;
    auto dev = f.cloud.device(dtu);
    dev.connect(); // the cloud delivers to connected devices only
    auto r1 = f.run({"send", "--org", "1", "--number", dtu, "--text", "hello"});
    REQUIRE(r1.status == 0);
    CHECK(contains(r1.out, "sent 5 bytes"));
    auto r2 =
        f.run({"send", "--org", "1", "--number", dtu, "--text", "正点原子", "--encoding", "gbk"});
    REQUIRE(r2.status == 0);
    auto r3 = f.run({"--json", "send", "--org", "1", "--number", dtu, "--hex", "00 ff 10"});
    REQUIRE(r3.status == 0);
    CHECK(json::parse(r3.out)["bytes"] == 3);
    REQUIRE(dev.wait_received(3, 10s));
    const auto got = dev.received();
    REQUIRE(got.size() == 3);
    CHECK(got[0] == atomcloud::to_bytes("hello"));
    CHECK(got[1] == atomcloud::parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3"));
    CHECK(got[2] == atomcloud::parse_hex_packet("00 FF 10"));

    auto nb = f.cloud.device(nbiot);
    nb.connect();
    auto r4 = f.run({"send", "--org", "1", "--nbiot-id", nbiot, "--hex", "01 02"});
    REQUIRE(r4.status == 0);
    REQUIRE(nb.wait_received(1, 10s));
    CHECK(nb.received().at(0) == atomcloud::parse_hex_packet("01 02"));
}

TEST_CASE("cli: exit status 1 when the API refuses", "[cli]") {
    fixture f;
    auto bad_token = f.run({"orgs"}, {"ATOMCLOUD_TOKEN=not-the-token"});
    CHECK(bad_token.status == 1);
    CHECK(contains(bad_token.err, "API code 300"));
    CHECK_FALSE(contains(bad_token.err, "not-the-token"));

    auto unknown = f.run({"groups", "--org", "77"});
    CHECK(unknown.status == 1);
    CHECK(contains(unknown.err, "API code 401"));
    CHECK(contains(unknown.err, "指定对象不存在")); // the server's own message

    f.cloud.inject_fault(
        {.what = atomcloud::emulator::fault::kind::api_code, .code = 302, .message = "账号已锁定"},
        1);
    auto locked = f.run({"orgs"});
    CHECK(locked.status == 1);
    CHECK(contains(locked.err, "API code 302"));
    CHECK(contains(locked.err, "账号已锁定"));

    auto ws_token =
        f.run({"watch", "--org", "1", "--number", dtu}, {"ATOMCLOUD_TOKEN=wrong-token-x"});
    CHECK(ws_token.status == 1);
    CHECK(contains(ws_token.err, "API code 300"));
    CHECK_FALSE(contains(ws_token.err, "wrong-token-x"));

    auto ws_org = f.run({"send", "--org", "5", "--number", dtu, "--text", "x"});
    CHECK(ws_org.status == 1);
    CHECK(contains(ws_org.err, "API code 401"));
}

TEST_CASE("cli: exit status 2 for usage errors", "[cli]") {
    fixture f;
    const std::vector<std::vector<std::string>> cases = {
        {},
        {"frobnicate"},
        {"groups"},                                                     // --org missing
        {"--bogus", "orgs"},                                            // unknown option
        {"groups", "--org", "one"},                                     // not a number
        {"history", "--org", "1", "--number", "1884649490853268957 x"}, // malformed number
        {"send", "--org", "1", "--number", dtu, "--hex", "4G"},         // bad hex
        {"send", "--org", "1", "--number", dtu, "--hex", "414"},        // odd digits
        {"send", "--org", "1", "--number", dtu},                        // nothing to send
        {"send", "--org", "1", "--number", dtu, "--nbiot-id", nbiot, "--text", "x"},
        {"send", "--org", "1", "--number", dtu, "--text", "😀", "--encoding", "gbk"},
        {"send", "--org", "1", "--nbiot-id", std::string(38, 'x'), "--text", "x"},
        {"watch", "--org", "1"}, // nothing to watch
        {"watch", "--org", "1", "--number", "short"},
        {"--timeout", "-1", "orgs"},
        {"--base-url", "http://insecure.example", "orgs"},
    };
    for (const auto& args : cases) {
        std::string joined;
        for (const auto& a : args)
            joined += a + " ";
        INFO(joined);
        auto r = f.run(args);
        CHECK(r.status == 2);
        CHECK_FALSE(r.err.empty());
    }
    auto no_token = f.run({"orgs"}, {"ATOMCLOUD_TOKEN="});
    CHECK(no_token.status == 2);
    CHECK(contains(no_token.err, "token"));
}

TEST_CASE("cli: exit status 3 for network, TLS and protocol failures", "[cli]") {
    fixture f;
    // Nothing listens on the port after the emulator stops.
    const std::string closed = "https://127.0.0.1:" + std::to_string(f.cloud.port());
    {
        auto untrusted =
            f.run({"orgs"}, {"ATOMCLOUD_CA_FILE="}); // the system store does not trust it
        CHECK(untrusted.status == 3);
        CHECK(contains(untrusted.err, "TLS certificate rejected: self-signed certificate"));
    }
    f.cloud.inject_fault({.what = atomcloud::emulator::fault::kind::malformed_body}, 1);
    auto garbage = f.run({"orgs"});
    CHECK(garbage.status == 3);
    CHECK(contains(garbage.err, "JSON"));

    f.cloud.inject_fault({.what = atomcloud::emulator::fault::kind::http_status, .status = 503},
                         10);
    auto unavailable = f.run({"orgs"});
    CHECK(unavailable.status == 3);
    CHECK(contains(unavailable.err, "HTTP 503"));
    f.cloud.clear_faults();

    f.cloud.stop();
    auto refused = f.run({"--timeout", "5", "orgs"}, {"ATOMCLOUD_BASE_URL=" + closed});
    CHECK(refused.status == 3);
    auto send_refused =
        f.run({"--timeout", "2", "send", "--org", "1", "--number", dtu, "--text", "x"},
              {"ATOMCLOUD_BASE_URL=" + closed});
    CHECK(send_refused.status == 3);
    CHECK(contains(send_refused.err, "no connection"));
}

TEST_CASE("cli: watch ends with status 3 and the reason when the certificate is rejected",
          "[cli]") {
    fixture f;
    process watch({"watch", "--org", "1", "--number", dtu},
                  f.with({"ATOMCLOUD_CA_FILE="})); // the system store does not trust it
    auto r = watch.wait(30s);                      // no retrying for ever
    CHECK(r.status == 3);
    CHECK(contains(r.err, "TLS certificate rejected: self-signed certificate"));
}

TEST_CASE("cli: watch ends within about a second of SIGINT or SIGTERM, in any state", "[cli]") {
    fixture f;
    const std::string closed = "https://127.0.0.1:1"; // nothing listens there
    struct state {
        const char* name;
        std::vector<std::string> env;
        int sig;
    };
    const state states[] = {
        {"connected", {}, SIGINT},
        {"connected", {}, SIGTERM},
        {"reconnecting", {"ATOMCLOUD_BASE_URL=" + closed}, SIGINT},
        {"reconnecting", {"ATOMCLOUD_BASE_URL=" + closed}, SIGTERM},
    };
    for (const auto& st : states) {
        INFO(st.name << ", signal " << st.sig);
        process watch({"-v", "watch", "--org", "1", "--number", dtu}, f.with(st.env));
        // Wait for the state: connected (the subscription arrived) or a failed attempt.
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        const char* mark = st.env.empty() ? "connected to" : "reconnecting in";
        while (!contains(watch.so_far().err, mark)) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            watch.pump(20ms);
        }
        const auto t0 = std::chrono::steady_clock::now();
        watch.signal(st.sig);
        auto r = watch.wait(10s);
        const auto took = std::chrono::steady_clock::now() - t0;
        CHECK(r.status == 0);
        CHECK(took < 2500ms); // about a second, with room for a loaded machine
    }
}

TEST_CASE("cli: --insecure works without a CA and warns, -v never shows the token", "[cli]") {
    fixture f;
    auto insecure = f.run({"--insecure", "orgs"}, {"ATOMCLOUD_CA_FILE="});
    CHECK(insecure.status == 0);
    CHECK(contains(insecure.out, "正点原子"));
    CHECK(contains(insecure.err, "verification is DISABLED"));
    // Once, however many connections the command opens.
    const auto first = insecure.err.find("verification is DISABLED");
    CHECK(insecure.err.find("verification is DISABLED", first + 1) == std::string::npos);

    auto verbose = f.run({"-v", "--json", "orgs"});
    CHECK(verbose.status == 0);
    CHECK(contains(verbose.err, "/api/orgs"));
    CHECK_FALSE(contains(verbose.err, f.cloud.token()));

    process watch({"-v", "watch", "--org", "1", "--number", dtu}, f.env);
    f.wait_subscribers(dtu, 1);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!contains(watch.so_far().err, "connection/***/org/1")) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        watch.pump(50ms);
    }
    watch.signal(SIGINT);
    auto r = watch.wait();
    CHECK(r.status == 0);
    CHECK(contains(r.err, "connection/***/org/1"));
    CHECK_FALSE(contains(r.err, f.cloud.token()));
}

TEST_CASE("cli: device payloads cannot drive the terminal (watch, history)", "[cli][hardening]") {
    fixture f;
    auto dev = f.cloud.device(dtu);
    dev.connect();
    // The escapes, then C1 CSI (U+009B) and a byte that is not UTF-8.
    const std::string payload = std::string(escapes) + "\xC2\x9B" + "2J\xFF";
    process watch({"watch", "--org", "1", "--number", dtu, "--count", "1", "--encoding", "utf8"},
                  f.env);
    f.wait_subscribers(dtu, 1);
    dev.send(payload);
    auto w = watch.wait();
    REQUIRE(w.status == 0);
    INFO(w.out);
    CHECK(terminal_safe(w.out));
    CHECK(terminal_safe(w.err));
    CHECK(contains(w.out, escapes_shown));
    CHECK(contains(w.out, "\\u{009b}2J"));

    for (const char* enc : {"utf8", "gbk"}) {
        auto h = f.run({"history", "--org", "1", "--number", dtu, "--encoding", enc});
        REQUIRE(h.status == 0);
        INFO(h.out);
        CHECK(terminal_safe(h.out));
        CHECK(contains(h.out, escapes_shown));
        auto all = f.run({"history", "--org", "1", "--number", dtu, "--all", "--encoding", enc});
        REQUIRE(all.status == 0);
        CHECK(terminal_safe(all.out));
        CHECK(contains(all.out, escapes_shown));
    }
    // JSON keeps the bytes, escaped by JSON itself.
    auto j = f.run({"--json", "history", "--org", "1", "--number", dtu, "--encoding", "utf8"});
    REQUIRE(j.status == 0);
    CHECK(json::parse(j.out)["items"][0]["text"].get<std::string>().rfind(std::string(escapes),
                                                                          0) == 0);
}

TEST_CASE("cli: names, numbers, states and server messages cannot drive the terminal",
          "[cli][hardening]") {
    const std::string e = json(std::string(escapes)).dump(); // as a JSON string
    atomcloud::emulator::options opts;
    opts.fixture_json = R"({"orgs":[{"id":1,"name":)" + e + R"(,"groups":[{"id":44,"name":)" + e +
                        R"(,"devices":[{"id":146,"show_id":)" + e + R"(,"name":)" + e +
                        R"(,"number":"18846494908532689575"}]}]}]})";
    fixture f(opts);
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"orgs"}, {"groups", "--org", "1"}, {"devices", "--org", "1", "--group", "44"}}) {
        auto r = f.run(args);
        INFO(args[0] << ": " << r.out);
        REQUIRE(r.status == 0);
        CHECK(terminal_safe(r.out));
        CHECK(contains(r.out, escapes_shown));
    }
    // The server's message, on stderr.
    f.cloud.inject_fault({.what = atomcloud::emulator::fault::kind::api_code,
                          .code = 201,
                          .message = std::string(escapes)},
                         1);
    auto refused = f.run({"orgs"});
    CHECK(refused.status == 1);
    INFO(refused.err);
    CHECK(terminal_safe(refused.err));
    CHECK(contains(refused.err, escapes_shown));

    // A server that sends them where the emulator cannot: the state string, the device
    // number, and a message of a failed call.
    hostile_cloud h;
    auto state = f.run({"state", "--org", "1", "--device-id", "1"}, h.env());
    REQUIRE(state.status == 0);
    CHECK(terminal_safe(state.out));
    CHECK(contains(state.out, escapes_shown));
    auto devices = f.run({"devices", "--org", "1", "--group", "1"}, h.env());
    REQUIRE(devices.status == 0);
    CHECK(terminal_safe(devices.out));
    CHECK(contains(devices.out, "1234567890\\x1b[2J\\x0d\\x0aFAKE"));
    auto failed = f.run({"orgs"}, h.env());
    CHECK(failed.status == 1);
    CHECK(terminal_safe(failed.err));
    CHECK(contains(failed.err, escapes_shown));
}

TEST_CASE("cli: history --all streams a server's endless pages in bounded memory",
          "[cli][hardening]") {
    hostile_cloud h;
    std::vector<std::string> env = h.env();
    // A small quarantine, so that what AddressSanitizer keeps of freed memory does not
    // hide (or fake) growth.
    const char* asan = std::getenv("ASAN_OPTIONS");
    env.push_back(std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                  "quarantine_size_mb=4");
    constexpr std::size_t page = 1000;

    SECTION("table rows as each page arrives, memory bounded by a page") {
        process p({"history", "--org", "1", "--number", dtu, "--all", "--limit", "1000"}, env);
        std::size_t lines = 0;
        auto read_until = [&](std::size_t want) {
            const auto deadline = std::chrono::steady_clock::now() + 120s;
            while (lines < want) {
                INFO("stderr: " << p.so_far().err);
                REQUIRE(std::chrono::steady_clock::now() < deadline);
                p.pump(50ms);
                const std::string out = p.take_out();
                lines += static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n'));
            }
        };
        read_until(5 * page); // the first pages come out while the walk goes on
        const long early = resident_kib(p.pid());
        read_until(65 * page);
        const long late = resident_kib(p.pid());
        INFO("VmRSS after 5 pages: " << early << " KiB, after 65: " << late << " KiB");
        REQUIRE(early > 0);
        // 60 pages kept would be 60 000 packets, far more than this.
        CHECK(late - early < 24 * 1024);
        p.signal(SIGTERM);
        p.wait();
    }
    SECTION("--json: the items are written as they arrive") {
        process p({"--json", "history", "--org", "1", "--number", dtu, "--all", "--limit", "1000"},
                  env);
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        while (static_cast<std::size_t>(
                   std::count(p.so_far().out.begin(), p.so_far().out.end(), '\n')) < 3 * page) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            p.pump(50ms);
        }
        const std::string out = p.so_far().out;
        CHECK(out.rfind("{\n  \"items\": [\n    {\"time\":\"2018-08-11T17:00:00.000000+08:00\"",
                        0) == 0);
        // Every complete line is one item.
        std::size_t start = out.find("\n    ") + 1;
        for (int i = 0; i < 3; ++i) {
            const std::size_t end = out.find('\n', start);
            std::string item = out.substr(start, end - start);
            if (item.back() == ',')
                item.pop_back();
            CHECK(json::parse(item)["length"] == 128);
            start = end + 1;
        }
        p.signal(SIGTERM);
        p.wait();
    }
}

TEST_CASE("cli: --all with --json is the page object, whole at the end", "[cli]") {
    fixture f;
    auto dev = f.cloud.device(dtu);
    dev.connect();
    for (const char* m : {"a", "b", "c"})
        dev.send(m);
    auto r = f.run({"--json", "history", "--org", "1", "--number", dtu, "--all", "--limit", "2"});
    REQUIRE(r.status == 0);
    const json page = json::parse(r.out);
    CHECK(page["current_page"] == 1);
    CHECK(page["total_page"] == 1);
    CHECK(page["total_item"] == 3);
    CHECK(page["page_limit"] == 3);
    REQUIRE(page["items"].size() == 3);
    CHECK(page["items"][0]["hex_packet"] == "63");
    auto none =
        f.run({"--json", "history", "--org", "1", "--number", "27309143566123801957", "--all"});
    REQUIRE(none.status == 0);
    CHECK(json::parse(none.out) == json{{"items", json::array()},
                                        {"current_page", 1},
                                        {"total_page", 0},
                                        {"total_item", 0},
                                        {"page_limit", 0}});
    auto table = f.run({"history", "--org", "1", "--number", dtu, "--all", "--limit", "2"});
    REQUIRE(table.status == 0);
    CHECK(contains(table.out, "TIME"));
    CHECK(contains(table.out, "3 packets"));
}

TEST_CASE("cli: numbers and durations out of range are usage errors", "[cli][hardening]") {
    fixture f;
    const std::vector<std::vector<std::string>> cases = {
        {"groups", "--org", "9999999999999999999"},  // 19 digits, above INT64_MAX
        {"groups", "--org", "99999999999999999999"}, // 20 digits
        {"groups", "--org", "0x1"},
        {"groups", "--org", "+1"},
        {"groups", "--org", "-1"},
        {"groups", "--org", "1.5"},
        {"devices", "--org", "1", "--group", "18446744073709551661"},
        {"state", "--org", "1", "--device-id", "9223372036854775954"},
        {"history", "--org", "1", "--number", dtu, "--page", "-18446744073709551615"},
        {"history", "--org", "1", "--number", dtu, "--page", "4294967296"},
        {"history", "--org", "1", "--number", dtu, "--limit", "1001"},
        {"history", "--org", "1", "--number", dtu, "--limit", "-4294967295"},
        {"watch", "--org", "1", "--number", dtu, "--count", "-18446744073709551615"},
        {"watch", "--org", "1", "--number", dtu, "--count", "0"},
    };
    for (const auto& args : cases) {
        INFO(args[args.size() - 2] << " " << args.back());
        auto r = f.run(args);
        CHECK(r.status == 2);
        CHECK(contains(r.err, args[args.size() - 2]));
        CHECK(contains(r.err, "expected an integer from"));
    }
    // The largest id is an id, not an error of the command line.
    CHECK(f.run({"groups", "--org", "9223372036854775807"}).status == 1);

    const std::vector<std::string> bad_seconds = {"1e10", "inf",  "-inf", "nan", "-1",
                                                  "0",    "1e-9", "0x10", "",    "2s"};
    for (const auto& v : bad_seconds) {
        INFO("--timeout '" << v << "'");
        const auto started = std::chrono::steady_clock::now();
        auto r = f.run({"--timeout", v, "orgs"});
        CHECK(r.status == 2);
        CHECK(contains(r.err, "0.001 to 86400"));
        CHECK_FALSE(contains(r.err, "timed out"));
        CHECK(std::chrono::steady_clock::now() - started < 30s);
    }
    for (const auto& v : bad_seconds) {
        INFO("--duration '" << v << "'");
        auto r = f.run({"watch", "--org", "1", "--number", dtu, "--duration", v});
        CHECK(r.status == 2);
        CHECK(contains(r.err, "0.001 to 31622400"));
    }
    CHECK(f.run({"--timeout", "86400", "orgs"}).status == 0);
    CHECK(f.run({"--timeout", "0.5", "orgs"}).status == 0);
}

TEST_CASE("cli: a base URL's user-info is not echoed", "[cli][hardening]") {
    fixture f;
    auto r = f.run({"--base-url", "https://user:s3cr3t-pw@127.0.0.1:1/api x", "orgs"});
    CHECK(r.status == 2);
    INFO(r.err);
    CHECK(contains(r.err, "--base-url"));
    CHECK(contains(r.err, "https://***@127.0.0.1:1"));
    CHECK_FALSE(contains(r.err, "s3cr3t-pw"));
    CHECK_FALSE(contains(r.err, "user:"));
}

TEST_CASE("cli: send --wait-reply prints the device's answer, or fails after --reply-timeout",
          "[cli]") {
    fixture f;
    auto dev = f.cloud.device(dtu);
    dev.connect();
    process p({"send", "--org", "1", "--number", dtu, "--text", "AT+VER?", "--wait-reply",
               "--reply-timeout", "30"},
              f.env);
    REQUIRE(dev.wait_received(1, 30s));
    CHECK(dev.received().at(0) == atomcloud::to_bytes("AT+VER?"));
    // A heartbeat is no answer.
    dev.send("ALIENTEK-HRTDT");
    dev.send(atomcloud::parse_hex_packet("D5 FD B5 E3 1B 5B 32 4A")); // GBK "正点" + ESC [2J
    auto r = p.wait();
    CHECK(r.status == 0);
    CHECK(contains(r.out, "sent 7 bytes to 18846494908532689575\n"));
    // Shown as UTF-8 text (the --encoding of --text), made terminal-safe.
    CHECK(contains(r.out, "reply (8 bytes): "));
    CHECK(terminal_safe(r.out));

    dev.clear_received();
    process gbk({"--json", "send", "--org", "1", "--number", dtu, "--text", "读", "--encoding",
                 "gbk", "--wait-reply"},
                f.env);
    REQUIRE(dev.wait_received(1, 30s));
    dev.send(atomcloud::parse_hex_packet("D5 FD B5 E3"));
    auto j = gbk.wait();
    REQUIRE(j.status == 0);
    const auto out = json::parse(j.out);
    CHECK(out["reply_hex"] == "D5 FD B5 E3");
    CHECK(out["reply_text"] == "正点");

    auto late = f.run({"send", "--org", "1", "--number", dtu, "--hex", "01", "--wait-reply",
                       "--reply-timeout", "0.5"});
    CHECK(late.status == 3);
    CHECK(contains(late.err, "no reply from 18846494908532689575 within 0.5 s"));
    auto bad = f.run({"send", "--org", "1", "--number", dtu, "--hex", "01", "--wait-reply",
                      "--reply-timeout", "0"});
    CHECK(bad.status == 2);
}

TEST_CASE("cli: devices --watch prints a line per change when stdout is not a terminal", "[cli]") {
    fixture f;
    f.cloud.device(dtu).connect();
    process p({"devices", "--org", "1", "--group", "45", "--watch", "--duration", "60"}, f.env);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    // The seed: every device of the group with its first state.
    while (!contains(p.so_far().out, "27309143566123801957  unknown -> disconnected  (seed)")) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        p.pump(50ms);
    }
    CHECK(contains(p.so_far().out, "18846494908532689575  unknown -> connected  (seed)"));
    f.wait_subscribers("27309143566123801957", 1);
    f.cloud.device("27309143566123801957").connect();
    while (!contains(p.so_far().out,
                     "27309143566123801957  disconnected -> connected  (device_event)")) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        p.pump(50ms);
    }
    p.signal(SIGINT);
    auto r = p.wait();
    CHECK(r.status == 0);
    CHECK_FALSE(contains(r.out, "\x1b")); // no redrawing into a pipe
    CHECK(contains(r.out, "DTU 设备 - 3"));

    auto missing = f.run({"devices", "--org", "1", "--group", "999", "--watch"});
    CHECK(missing.status == 1);
}
