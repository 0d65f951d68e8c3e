// rest_client and session through a real HTTP CONNECT proxy (Debian's tinyproxy, started
// here on a free loopback port) in front of the in-process emulator: every REST call, a
// session's reconnect, Basic credentials right and wrong, a proxy that is not there, and
// no_proxy. tinyproxy's own log shows that the traffic went through it.
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

#include "../log_capture.hpp"
#include "peer_process.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace emu = atomcloud::emulator;
using atomcloud::client_errc;
using atomcloud::diagnostics;
using atomcloud::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr std::int64_t org_id = 1;
constexpr std::int64_t group_official = 45;
const atomcloud::device_number dev{"18846494908532689575"};

// A loopback port nothing listens on (just now).
std::uint16_t free_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

std::string find_tinyproxy() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/usr/sbin");
    for (std::string dir; std::getline(dirs, dir, ':');)
        if (!dir.empty() && ::access((dir + "/tinyproxy").c_str(), X_OK) == 0)
            return dir + "/tinyproxy";
    for (const char* p : {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"})
        if (::access(p, X_OK) == 0)
            return p;
    return {};
}

// tinyproxy on a free loopback port, allowing CONNECT to `target_port` only, optionally
// with Basic credentials; stopped when the object goes away.
class tinyproxy {
public:
    explicit tinyproxy(std::uint16_t target_port, std::string user = {}, std::string pass = {}) {
        const std::string exe = find_tinyproxy();
        if (exe.empty())
            FAIL("tinyproxy is not installed: run scripts/install-deps.sh (Debian package "
                 "tinyproxy)");
        char tmpl[] = "/tmp/atomcloud-proxy-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        port_ = free_port();
        std::ofstream conf(dir_ + "/tinyproxy.conf");
        conf << "Port " << port_ << "\nListen 127.0.0.1\nAllow 127.0.0.1\nConnectPort "
             << target_port << "\nLogLevel Connect\nLogFile \"" << log_path()
             << "\"\nMaxClients 64\nTimeout 60\n";
        if (!user.empty())
            conf << "BasicAuth " << user << " " << pass << "\n";
        conf.close();
        process_.emplace(std::vector<std::string>{exe, "-d", "-c", dir_ + "/tinyproxy.conf"});
        // Ready once it accepts connections.
        asio::io_context io;
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        for (;;) {
            tcp::socket s(io);
            error_code ec;
            s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
            if (!ec)
                break;
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(20ms);
        }
    }

    ~tinyproxy() {
        process_.reset();
        std::remove(log_path().c_str());
        std::remove((dir_ + "/tinyproxy.conf").c_str());
        ::rmdir(dir_.c_str());
    }

    std::uint16_t port() const { return port_; }
    std::string url(const std::string& credentials = {}) const {
        return "http://" + (credentials.empty() ? "" : credentials + "@") +
               "127.0.0.1:" + std::to_string(port_);
    }

    std::string log() const {
        std::ifstream in(log_path());
        std::ostringstream out;
        out << in.rdbuf();
        return out.str();
    }
    // tinyproxy's log lines of CONNECT requests to `target`.
    std::size_t connects(const std::string& target) const {
        const std::string l = log();
        const std::string needle = "CONNECT " + target + " HTTP/1.1";
        std::size_t n = 0;
        for (auto at = l.find(needle); at != std::string::npos; at = l.find(needle, at + 1))
            ++n;
        return n;
    }

private:
    std::string log_path() const { return dir_ + "/tinyproxy.log"; }

    std::string dir_;
    std::uint16_t port_ = 0;
    std::optional<atomcloud_test::peer_process> process_;
};

struct env {
    env() : cfg(cloud.client_config()) {
        cfg.retry.backoff.initial_delay = 5ms;
        cfg.retry.backoff.max_delay = 20ms;
        cfg.log = logs.make();
    }
    std::string target() const { return "127.0.0.1:" + std::to_string(cloud.port()); }

    emu::server cloud;
    atomcloud::config cfg;
    atomcloud_test::log_capture logs;
    asio::io_context io;
};

} // namespace

TEST_CASE("proxy: every REST call goes through tinyproxy", "[rest][proxy][integration]") {
    env e;
    tinyproxy proxy(e.cloud.port());
    e.cfg.proxy = proxy.url();
    e.cfg.no_proxy = "example.com, localhost"; // not the target
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);

    CHECK(api.list_orgs().size() == 1);
    CHECK(api.list_groups(org_id).size() == 2);
    CHECK(api.list_devices(org_id, group_official).size() == 2);
    e.cloud.device(dev.view()).connect();
    CHECK(api.device_state(org_id, 146).online());
    e.cloud.device(dev.view()).send("through the proxy");
    const auto page = api.packets(org_id, dev, {});
    REQUIRE(page.items.size() == 1);
    CHECK(atomcloud::as_chars(page.items[0].payload) == "through the proxy");

    // Keep-alive: one tunnel carried them all.
    CHECK(proxy.connects(e.target()) == 1);
    CHECK(e.logs.count(e.cloud.token()) == 0);
}

TEST_CASE("proxy: a session connects, receives, and reconnects through tinyproxy",
          "[session][proxy][integration]") {
    env e;
    tinyproxy proxy(e.cloud.port());
    e.cfg.proxy = proxy.url();
    e.cfg.session.reconnect.initial_delay = 20ms;
    e.cfg.session.reconnect.jitter = 0;
    std::optional<atomcloud::session> s;
    s.emplace(e.io.get_executor(), e.cfg, org_id);
    std::optional<error_code> run_result;
    s->async_run([&](error_code ec) { run_result = ec; });

    std::size_t connected = 0, disconnected = 0;
    std::vector<std::string> messages;
    std::function<void()> receive = [&] {
        s->async_receive([&](error_code ec, atomcloud::event_batch batch) {
            if (ec)
                return;
            for (const auto& ev : batch) {
                if (std::holds_alternative<atomcloud::session_connected>(ev))
                    ++connected;
                else if (std::holds_alternative<atomcloud::session_disconnected>(ev))
                    ++disconnected;
                else if (auto* m = std::get_if<atomcloud::device_message>(&ev))
                    messages.emplace_back(atomcloud::as_chars(m->payload));
            }
            s->recycle(std::move(batch));
            receive();
        });
    };
    receive();
    auto until = [&](auto done) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            e.io.restart();
            e.io.run_for(5ms);
        }
        return done();
    };
    std::optional<error_code> sub;
    s->async_subscribe(dev, [&](error_code ec) { sub = ec; });
    REQUIRE(until([&] { return sub.has_value(); }));
    REQUIRE_FALSE(*sub);
    REQUIRE(until([&] { return e.cloud.subscribers(dev.view()) == 1; }));
    e.cloud.device(dev.view()).connect();
    e.cloud.device(dev.view()).send("first");
    REQUIRE(until([&] { return messages.size() == 1; }));
    CHECK(connected == 1);

    e.cloud.drop_connections();
    REQUIRE(until([&] { return connected == 2; }));
    CHECK(disconnected == 1);
    REQUIRE(until([&] { return e.cloud.subscribers(dev.view()) == 1; }));
    e.cloud.device(dev.view()).send("second");
    REQUIRE(until([&] { return messages.size() == 2; }));
    CHECK(messages == std::vector<std::string>{"first", "second"});

    // (A reconnect attempt made while the emulator was still closing may add one.)
    CHECK(proxy.connects(e.target()) >= 2);
    CHECK(e.logs.count("through the proxy " + proxy.url().substr(7)) == proxy.connects(e.target()));
    CHECK(e.logs.count(e.cloud.token()) == 0);
    s->stop();
    REQUIRE(until([&] { return run_result.has_value(); }));
    s.reset();
}

TEST_CASE("proxy: Basic credentials, right and wrong", "[rest][session][proxy][integration]") {
    env e;
    // (tinyproxy's configuration takes no ':' or '@' in a password; percent-decoding is
    // still exercised: %2D is '-'.)
    tinyproxy proxy(e.cloud.port(), "gateway", "pa-ss.w0rd");

    SECTION("the right ones open the tunnel") {
        e.cfg.proxy = proxy.url("gateway:pa%2Dss.w0rd");
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        CHECK(api.list_orgs().size() == 1);
        CHECK(proxy.connects(e.target()) == 1);
    }

    SECTION("none: 407") {
        e.cfg.proxy = proxy.url();
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        CHECK(ec == client_errc::proxy_rejected);
        CHECK(diag.http_status() == 407);
        INFO(diag.to_string());
        CHECK(diag.client_message().find("Proxy Authentication Required") != std::string::npos);
        CHECK(diag.client_message().find("authentication required (give the credentials") !=
              std::string::npos);
    }

    SECTION("wrong ones: refused at once, not retried, never shown") {
        e.cfg.proxy = proxy.url("gateway:wr0ngpassw0rd");
        e.cfg.retry.max_attempts = 3;
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        diagnostics diag;
        error_code ec;
        const auto started = std::chrono::steady_clock::now();
        api.list_orgs(ec, diag);
        CHECK(std::chrono::steady_clock::now() - started < 3s);
        CHECK(ec == client_errc::proxy_rejected);
        // tinyproxy answers wrong credentials with 401 Unauthorized (407 when there are none).
        CHECK((diag.http_status() == 401 || diag.http_status() == 407));
        const std::string text = diag.to_string();
        INFO(text);
        CHECK(text.find("authentication required (the credentials were not accepted)") !=
              std::string::npos);
        CHECK(proxy.connects(e.target()) == 1); // not retried

        // The session: a permanent failure, async_run ends with it.
        std::optional<error_code> run_result;
        diagnostics run_diag;
        atomcloud::session s(e.io.get_executor(), e.cfg, org_id);
        s.async_run(run_diag, [&](error_code r) { run_result = r; });
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!run_result && std::chrono::steady_clock::now() < deadline) {
            e.io.restart();
            e.io.run_for(5ms);
        }
        REQUIRE(run_result);
        CHECK(*run_result == client_errc::proxy_rejected);
        CHECK(run_diag.http_status() == diag.http_status());
        CHECK(proxy.connects(e.target()) == 2);

        const std::string everything =
            text + run_diag.to_string() + e.logs.all() + run_result->message();
        for (const std::string& secret :
             {std::string("wr0ngpassw0rd"), e.cloud.token(),
              std::string("Z2F0ZXdheTp3cjBuZ3Bhc3N3MHJk")}) // base64 of gateway:wr0ngpassw0rd
            CHECK(everything.find(secret) == std::string::npos);
    }
}

TEST_CASE("proxy: a proxy that cannot reach the server: 5xx, retried",
          "[rest][session][proxy][integration]") {
    env e;
    const std::uint16_t nowhere = free_port();
    tinyproxy proxy(nowhere); // tinyproxy answers 500 Unable to connect
    e.cfg.proxy = proxy.url();
    e.cfg.base_url = "https://127.0.0.1:" + std::to_string(nowhere);
    const std::string target = "127.0.0.1:" + std::to_string(nowhere);

    e.cfg.retry.max_attempts = 2;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    diagnostics diag;
    error_code ec;
    api.list_orgs(ec, diag);
    CHECK(ec == client_errc::proxy_rejected);
    CHECK(diag.http_status() >= 500);
    INFO(diag.to_string());
    CHECK(diag.client_message().find("could not reach the server") != std::string::npos);
    CHECK(proxy.connects(target) == 2); // retried

    // The session keeps trying.
    e.cfg.session.reconnect.initial_delay = 10ms;
    e.cfg.session.reconnect.max_delay = 20ms;
    std::optional<error_code> run_result;
    atomcloud::session s(e.io.get_executor(), e.cfg, org_id);
    s.async_run([&](error_code r) { run_result = r; });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (proxy.connects(target) < 5 && !run_result &&
           std::chrono::steady_clock::now() < deadline) {
        e.io.restart();
        e.io.run_for(5ms);
    }
    CHECK_FALSE(run_result);
    CHECK(proxy.connects(target) >= 5);
    s.stop();
    while (!run_result && std::chrono::steady_clock::now() < deadline + 5s) {
        e.io.restart();
        e.io.run_for(5ms);
    }
    CHECK(run_result);
}

TEST_CASE("proxy: a proxy that is not listening is a connect error", "[rest][proxy][integration]") {
    env e;
    e.cfg.proxy = "http://u:s3cr3t@127.0.0.1:" + std::to_string(free_port());
    e.cfg.retry.max_attempts = 1;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    diagnostics diag;
    error_code ec;
    api.list_orgs(ec, diag);
    CHECK(ec == asio::error::connection_refused);
    INFO(diag.to_string());
    CHECK(diag.client_message().find("to the proxy 127.0.0.1:") != std::string::npos);
    CHECK(diag.to_string().find("s3cr3t") == std::string::npos);
    CHECK(e.logs.all().find("s3cr3t") == std::string::npos);
}

TEST_CASE("proxy: NO_PROXY bypasses the proxy", "[rest][proxy][integration]") {
    env e;
    tinyproxy proxy(e.cloud.port());
    ::setenv("HTTPS_PROXY", proxy.url().c_str(), 1);
    ::setenv("NO_PROXY", "example.com,127.0.0.1", 1);
    const auto from_env = atomcloud::config::from_env();
    ::unsetenv("HTTPS_PROXY");
    ::unsetenv("NO_PROXY");
    e.cfg.proxy = from_env.proxy;
    e.cfg.no_proxy = from_env.no_proxy;
    CHECK(e.cfg.proxy == proxy.url());
    {
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        CHECK(api.list_orgs().size() == 1);
    }
    CHECK(proxy.connects(e.target()) == 0);

    // Without the entry, the same config goes through the proxy.
    e.cfg.no_proxy = "example.com";
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    CHECK(api.list_orgs().size() == 1);
    CHECK(proxy.connects(e.target()) == 1);
}

TEST_CASE("proxy: an invalid proxy URL fails before any I/O", "[rest][proxy][integration]") {
    env e;
    e.cfg.proxy = "socks5://u:s3cr3t@127.0.0.1:1080";
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    diagnostics diag;
    error_code ec;
    api.list_orgs(ec, diag);
    CHECK(ec == client_errc::invalid_config);
    CHECK(diag.client_message().find("config.proxy") != std::string::npos);
    CHECK(diag.to_string().find("s3cr3t") == std::string::npos);
}
