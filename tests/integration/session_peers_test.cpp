// The session against servers that are not ours: Python's `websockets` library (fragmented
// messages, pings between fragments, a text message, frames of devices nobody subscribed
// to, a close with a code), a server that drops every link at once, a server that never
// answers a close frame, and TLS servers whose certificates must be rejected.
#include <atomcloud/session.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/beast/websocket/error.hpp>

#include <catch2/catch.hpp>

#include "../log_capture.hpp"
#include "../run_until.hpp"
#include "peer_process.hpp"
#include "test_certificates.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace atomcloud;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

const device_number dev_a{"18846494908532689575"};

// PEM files of a certificate and key in a temporary directory, and the CA to trust.
struct tls_files {
    std::filesystem::path dir;
    std::string ca_pem;
    std::string cert, key;

    explicit tls_files(const atomcloud_test::leaf_spec& spec,
                       atomcloud_test::test_ca* other_ca = nullptr) {
        atomcloud_test::test_ca ca;
        auto leaf = (other_ca ? *other_ca : ca).issue(spec);
        ca_pem = ca.pem();
        char tmpl[] = "/tmp/atomcloud-peer-XXXXXX";
        dir = ::mkdtemp(tmpl);
        cert = (dir / "cert.pem").string();
        key = (dir / "key.pem").string();
        std::ofstream(cert) << leaf.certificate;
        std::ofstream(key) << leaf.private_key;
    }
    ~tls_files() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
};

// Debian's Python: the one python3-websockets is installed for (scripts/install-deps.sh).
std::string peer_script() {
    return std::string(ATOMCLOUD_TEST_SOURCE_DIR) + "/integration/peers/ws_peer.py";
}

// A peer server and a session pointed at it.
struct peer_harness {
    tls_files files;
    atomcloud_test::peer_process peer;
    int port = 0;
    asio::io_context io;
    atomcloud_test::log_capture logs;
    config cfg;
    std::optional<session> s;
    std::optional<error_code> run_result;
    diagnostics diag;
    std::vector<std::string> seen; // to_string of every event, payloads appended
    std::vector<event_batch> batches;

    explicit peer_harness(const std::string& mode,
                          atomcloud_test::leaf_spec spec = {{}, {"127.0.0.1"}},
                          atomcloud_test::test_ca* other_ca = nullptr)
        : files(spec, other_ca), peer({"/usr/bin/python3", peer_script(), "--cert", files.cert,
                                       "--key", files.key, "--mode", mode}) {
        auto line = peer.wait_for("PORT ", 30s);
        REQUIRE(line);
        port = std::stoi(line->substr(5));
        cfg.base_url = "https://127.0.0.1:" + std::to_string(port);
        cfg.token = "peer-token-0123456789";
        cfg.tls.ca_pem = files.ca_pem;
        cfg.log = logs.make();
        if (std::getenv("ATOMCLOUD_TEST_LOGS")) { // for debugging: the log as it happens
            cfg.log.sink = [inner = cfg.log.sink](log_level l, std::string_view text) {
                std::fprintf(stderr, "log: %.*s\n", static_cast<int>(text.size()), text.data());
                inner(l, text);
            };
        }
        cfg.session.reconnect.initial_delay = 20ms;
        cfg.session.reconnect.jitter = 0.0;
    }

    ~peer_harness() {
        if (s && s->status().running) {
            s->stop();
            until([&] { return !s->status().running; }, 5s);
        }
        s.reset();
        io.restart();
        io.run_for(20ms);
    }

    void start() {
        s.emplace(io.get_executor(), cfg, 7);
        s->async_run(diag, [this](error_code ec) { run_result = ec; });
        receive();
    }

    void receive() {
        s->async_receive([this](error_code ec, event_batch b) {
            if (ec || !s) // (a batch posted before the session was destroyed)
                return;
            for (const event& ev : b) {
                std::string line = to_string(ev);
                if (auto* m = std::get_if<device_message>(&ev))
                    line += " " + std::string(as_chars(m->payload));
                seen.push_back(line);
            }
            batches.push_back(std::move(b));
            receive();
        });
    }

    template <class Pred>
    bool until(Pred p, std::chrono::milliseconds limit = 30s) {
        return atomcloud_test::run_until(io, p, limit);
    }

    // Waits for a line of the peer's output starting with `prefix`, running the session
    // meanwhile (the peer may be waiting for it).
    bool peer_says(const std::string& prefix, std::chrono::milliseconds limit = 30s) {
        return until(
            [&] {
                auto line = peer.read_line(1ms);
                return line && line->rfind(prefix, 0) == 0;
            },
            limit);
    }

    bool saw(const std::string& line) const {
        return std::find(seen.begin(), seen.end(), line) != seen.end();
    }
    std::size_t count_prefix(const std::string& prefix) const {
        return static_cast<std::size_t>(std::count_if(
            seen.begin(), seen.end(), [&](auto& l) { return l.rfind(prefix, 0) == 0; }));
    }
};

} // namespace

TEST_CASE("session: against Python's websockets: fragments, pings between fragments, text, "
          "devices not subscribed, a close with a code",
          "[session][peers]") {
    peer_harness h("script");
    h.start();
    bool subscribed = false;
    h.s->async_subscribe(dev_a, [&](error_code) { subscribed = true; });
    REQUIRE(h.until([&] { return subscribed && h.saw("session_connected"); }));
    REQUIRE(h.peer_says("SUBSCRIBED 18846494908532689575"));
    REQUIRE(h.until([&] { return h.saw("device_disconnected 18846494908532689575"); }));
    // Everything of A, in order: fragmented, single, fragmented with a ping inside.
    std::vector<std::string> messages;
    for (auto& l : h.seen)
        if (l.rfind("device_message", 0) == 0 || l.rfind("protocol_error", 0) == 0 ||
            l.rfind("device_", 0) == 0)
            messages.push_back(l);
    REQUIRE(messages.size() == 5);
    CHECK(messages[0] == "device_message 18846494908532689575 (3 bytes) one");
    CHECK(messages[1] == "device_message 18846494908532689575 (3 bytes) two");
    CHECK(messages[2] == "device_message 18846494908532689575 (5 bytes) three");
    CHECK(messages[3].rfind("protocol_error: ", 0) == 0); // the text message
    CHECK(messages[4] == "device_disconnected 18846494908532689575");
    // Device B's message and connect event were dropped and counted.
    CHECK(h.count_prefix("device_message 00000000000000000002") == 0);
    CHECK(h.count_prefix("device_connected") == 0);
    CHECK(h.s->status().dropped_unsubscribed == 2);
    // Our pong answered the library's ping.
    CHECK(h.peer_says("PONG hello"));

    // A send and its answer.
    bool sent = false;
    h.s->async_send(dev_a, as_bytes("echo"), [&](error_code ec) { sent = !ec; });
    REQUIRE(h.until(
        [&] { return sent && h.saw("device_message 18846494908532689575 (8 bytes) echo-ack"); }));

    // The server closes with 4000: reported, answered, and the link is replaced.
    h.s->async_send(dev_a, as_bytes("close-me"), [](error_code) {});
    REQUIRE(h.peer_says("CLOSED 4000"));
    REQUIRE(h.until([&] { return h.count_prefix("session_disconnected") == 1; }));
    CHECK(h.logs.count("close code 4000") == 1);
    REQUIRE(h.until([&] { return h.count_prefix("session_connected") == 2; }));
    CHECK(h.peer_says("SUBSCRIBED 18846494908532689575")); // replayed
    CHECK(h.logs.count("peer-token-0123456789") == 0);
}

TEST_CASE("session: a server that drops every link at once sees attempts spaced by the growing "
          "backoff",
          "[session][peers]") {
    peer_harness h("close-at-once");
    h.cfg.session.reconnect.initial_delay = 100ms;
    h.cfg.session.reconnect.multiplier = 2.0;
    h.cfg.session.reconnect.max_delay = 10s;
    h.start();
    std::vector<double> at;
    for (int i = 0; i < 5; ++i) {
        std::optional<std::string> line;
        REQUIRE(h.until([&] { return (line = h.peer.read_line(1ms)).has_value(); }, 30s));
        REQUIRE(line->rfind("CONN ", 0) == 0);
        at.push_back(std::stod(line->substr(5)));
    }
    // Gaps of about 100, 200, 400, 800 ms (plus connection set-up): never the quick retry
    // of a healthy link.
    for (std::size_t i = 1; i < at.size(); ++i) {
        INFO("gap " << i << ": " << at[i] - at[i - 1] << " s");
        CHECK(at[i] - at[i - 1] >= 0.1 * (1 << (i - 1)) * 0.95);
    }
    CHECK(h.s->status().connections >= 4);     // (the 5th may still be on its way)
    CHECK(h.s->status().failed_attempts >= 4); // links that never worked count as failures
    CHECK(h.logs.count("reconnecting in 800 ms") == 1);
}

TEST_CASE("session: stop() is not held up by a server that never answers the close frame",
          "[session][peers]") {
    SECTION("close_timeout bounds the close handshake") {
        peer_harness h("ignore-close");
        h.cfg.timeouts.websocket_handshake = 30s; // not what bounds the close
        h.cfg.session.close_timeout = 500ms;
        h.start();
        h.s->async_subscribe(dev_a, [](error_code) {});
        REQUIRE(h.until([&] { return h.saw("device_message 18846494908532689575 (2 bytes) hi"); }));
        const auto t0 = std::chrono::steady_clock::now();
        h.s->stop();
        REQUIRE(h.until([&] { return h.run_result.has_value(); }, 10s));
        const auto took = std::chrono::steady_clock::now() - t0;
        CHECK(took >= 450ms);
        CHECK(took < 5s);
        CHECK(*h.run_result == client_errc::session_stopped);
        CHECK(h.saw("session_disconnected: session stopped"));
        CHECK(h.peer_says("EOF", 10s));
    }
    SECTION("a second stop() closes at once") {
        peer_harness h("ignore-close");
        h.cfg.session.close_timeout = 30s;
        h.start();
        REQUIRE(h.until([&] { return h.saw("session_connected"); }));
        const auto t0 = std::chrono::steady_clock::now();
        h.s->stop();
        h.io.restart();
        h.io.run_for(20ms);
        h.s->stop();
        REQUIRE(h.until([&] { return h.run_result.has_value(); }, 10s));
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
        CHECK(*h.run_result == client_errc::session_stopped);
    }
}

TEST_CASE("session: a certificate that fails verification ends async_run, with the reason",
          "[session][peers][tls]") {
    struct variant {
        const char* name;
        atomcloud_test::leaf_spec spec;
        bool other_ca;
        const char* reason;
    };
    const variant variants[] = {
        {"another host name", {{"other.example"}, {}}, false, "address mismatch"},
        {"expired", {{}, {"127.0.0.1"}, -7200, -3600}, false, "expired"},
        {"an unknown issuer", {{}, {"127.0.0.1"}}, true, "issuer"},
    };
    for (const auto& v : variants) {
        DYNAMIC_SECTION(v.name) {
            atomcloud_test::test_ca stranger("a stranger's CA");
            peer_harness h("tls-only", v.spec, v.other_ca ? &stranger : nullptr);
            h.start();
            REQUIRE(h.until([&] { return h.run_result.has_value(); }));
            CHECK(*h.run_result == client_errc::certificate_rejected);
            INFO(h.diag.to_string());
            CHECK(h.diag.client_message().find(v.reason) != std::string::npos);
            CHECK(h.s->status().failed_attempts == 1);
            CHECK(h.logs.count(v.reason) >= 1);
        }
    }
    SECTION("retried when the configuration says so") {
        peer_harness h("tls-only", {{"other.example"}, {}});
        h.cfg.session.retry_tls_failures = true;
        h.start();
        REQUIRE(h.until([&] { return h.s->status().failed_attempts >= 3; }));
        CHECK_FALSE(h.run_result.has_value());
    }
}
