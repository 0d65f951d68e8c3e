// The atomcloud-emulator program, fixtures, certificates, simulation and the C++ API's
// contract (thread rules, configuration).
#include "emulator_test_client.hpp"

#include <atomcloud/payload.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace emu_test;
namespace emulator = atomcloud::emulator;
namespace fs = std::filesystem;

namespace {

constexpr const char* dtu = "18846494908532689575";
constexpr const char* nbiot = "b6d85634-9d34-4052-80cd-b840b75cb910";

/// A fresh directory under the system's temporary directory, removed afterwards.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "atomcloud-emulator-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name, const std::string& content = {}) const {
        auto p = path / name;
        if (!content.empty()) {
            std::ofstream out(p, std::ios::binary);
            out << content;
        }
        return p.string();
    }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// The emulator program, its stdout and stderr read through one pipe.
class child {
public:
    explicit child(std::vector<std::string> args) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        args.insert(args.begin(), ATOMCLOUD_EMULATOR_EXECUTABLE);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::dup2(fds[1], 1);
            ::dup2(fds[1], 2);
            ::close(fds[0]);
            ::close(fds[1]);
            std::vector<char*> argv;
            for (auto& a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        out_ = fds[0];
    }
    ~child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
    }

    /// The next line of output, or nullopt at the end of output or after `limit`.
    std::optional<std::string> line(std::chrono::milliseconds limit = 20s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            auto nl = buffer_.find('\n');
            if (nl != std::string::npos) {
                auto l = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                return l;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return std::nullopt;
            pollfd p{out_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                return std::nullopt;
            char buf[4096];
            auto n = ::read(out_, buf, sizeof buf);
            if (n <= 0)
                return std::nullopt;
            buffer_.append(buf, static_cast<std::size_t>(n));
        }
    }

    /// Everything until the output ends.
    std::string rest() {
        std::string all;
        while (auto l = line())
            all += *l + "\n";
        return all + buffer_;
    }

    /// Sends `sig` and returns the exit status (-1 if it did not exit within `limit`).
    int stop(int sig, std::chrono::milliseconds limit = 10s) {
        ::kill(pid_, sig);
        return wait(limit);
    }

    int wait(std::chrono::milliseconds limit = 20s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        int status = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            auto r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(5ms);
        }
        return -1;
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::string buffer_;
};

struct started {
    std::string base_url, token, ca;
    std::string preamble; // other lines before the banner
    std::uint16_t port = 0;
};

/// Reads the key=value lines the program prints once it listens.
started read_banner(child& p, bool expect_ca) {
    started s;
    while (s.base_url.empty() || s.token.empty() || (expect_ca && s.ca.empty())) {
        auto l = p.line();
        REQUIRE(l);
        if (l->rfind("base_url=", 0) == 0)
            s.base_url = l->substr(9);
        else if (l->rfind("token=", 0) == 0)
            s.token = l->substr(6);
        else if (l->rfind("ca=", 0) == 0)
            s.ca = l->substr(3);
        else
            s.preamble += *l + "\n";
    }
    std::smatch m;
    REQUIRE(std::regex_match(s.base_url, m, std::regex(R"(https://127\.0\.0\.1:(\d+))")));
    s.port = static_cast<std::uint16_t>(std::stoi(m[1]));
    CHECK(s.port != 0);
    return s;
}

bool is_reading(atomcloud::bytes_view gbk) {
    atomcloud::error_code ec;
    auto text = atomcloud::gbk_to_utf8(gbk, ec);
    return !ec && std::regex_match(text, std::regex("温度:[0-9]+\\.[0-9]℃ 湿度:[0-9]+%"));
}

} // namespace

TEST_CASE("tool: atomcloud-emulator prints where it listens, serves, and exits 0 on SIGTERM") {
    temp_dir dir;
    const auto ca_path = dir.file("ca.pem");
    child p({"--listen", "127.0.0.1:0", "--write-ca", ca_path, "--token", "tool-test-token"});
    auto s = read_banner(p, true);
    CHECK(s.token == "tool-test-token");
    CHECK(s.ca == ca_path);
    const auto ca = slurp(ca_path);
    CHECK(ca.find("-----BEGIN CERTIFICATE-----") == 0);

    client_io io;
    https_client c(io, ca, s.port, s.token);
    auto orgs = c.get_json("/api/orgs");
    CHECK(orgs["code"] == 200);
    CHECK(orgs["data"][0]["name"] == "正点原子");
    auto r = c.try_request("GET", "/api/orgs", {}, "wrong");
    CHECK(json::parse(r.res.body)["code"] == 300);
    // The control API drives its devices.
    CHECK(c.post(std::string("/emulator/devices/") + dtu + "/connect").status == 200u);
    CHECK(c.get_json("/api/orgs/1/devicestate/146")["data"] == "connected");

    // A WebSocket session open while it stops.
    wss_client app(io, ca, s.port, s.token);
    const bool ws_ok = !app.try_connect(app.path());
    CHECK(ws_ok);

    // The README's example: curl with the written CA (scripts/install-deps.sh installs curl).
    INFO("curl is needed: scripts/install-deps.sh installs it");
    REQUIRE(std::system("curl --version >/dev/null 2>&1") == 0);
    const auto out = dir.file("curl.out");
    const std::string cmd = "curl -s --cacert " + ca_path + " -H 'token: " + s.token + "' " +
                            s.base_url + "/api/orgs > " + out;
    CHECK(std::system(cmd.c_str()) == 0);
    CHECK(slurp(out).find("\"name\":\"正点原子\"") != std::string::npos);

    CHECK(p.stop(SIGTERM) == 0);
    auto err = p.rest();
    CHECK(err.find("SIGTERM") != std::string::npos);
    CHECK(c.try_request("GET", "/api/orgs", {}, s.token).ec);
}

TEST_CASE("tool: SIGINT, verbose logs without the token, simulated traffic") {
    temp_dir dir;
    const auto ca_path = dir.file("ca.pem");
    child p({"--listen", "127.0.0.1:0", "--simulate", "--connect-all", "--heartbeat-interval",
             "0.05", "--reading-interval", "0.03", "-v", "--token", "tok-SECRET-77", "--write-ca",
             ca_path});
    auto s = read_banner(p, true);
    client_io io;

    // A client that does not trust the emulator's certificate cannot talk to it.
    https_client untrusted(io, "", s.port, s.token); // the system's trust store
    CHECK(untrusted.try_request("GET", "/api/orgs", {}, s.token).ec);

    https_client c(io, slurp(ca_path), s.port, s.token);
    CHECK(c.get_json("/api/orgs/1/devicestate/150")["data"] == "binded");
    const std::string packets = std::string("/api/orgs/1/devicepacket/") + dtu + "?limit=1000";
    bool heartbeat = false, reading = false;
    CHECK(eventually([&] {
        const auto j = c.get_json(packets);
        for (const auto& item : j["data"]["items"]) {
            auto b = atomcloud::parse_hex_packet(item["hex_packet"].get<std::string>());
            heartbeat = heartbeat || atomcloud::is_heartbeat(b);
            reading = reading || is_reading(b);
        }
        return heartbeat && reading;
    }));
    // NB-IoT devices send readings, never heartbeats: wait for a few messages (the DTU
    // above had time for many heartbeats meanwhile), then look at every one.
    const std::string nb_packets = std::string("/api/orgs/1/devicepacket/") + nbiot + "?limit=1000";
    json nb;
    CHECK(eventually([&] {
        nb = c.get_json(nb_packets);
        return nb["data"]["items"].size() >= 3;
    }));
    REQUIRE(nb["data"]["items"].size() >= 3);
    for (const auto& item : nb["data"]["items"])
        CHECK(is_reading(atomcloud::parse_hex_packet(item["hex_packet"].get<std::string>())));
    c.get("/connection/" + s.token + "/org/1?token=1"); // the token in a path gets logged
    // ... and so would a wrong one, which is often the right one mistyped.
    wss_client guess(io, slurp(ca_path), s.port, "tok-SECRET-78");
    CHECK(guess.try_connect("/connection/tok-SECRET-78/org/1?token=1"));

    CHECK(p.stop(SIGINT) == 0);
    auto log = s.preamble + p.rest();
    CHECK(log.find("SIGINT") != std::string::npos);
    CHECK(log.find("listening on https://127.0.0.1:") != std::string::npos);
    CHECK(log.find("GET /connection/") != std::string::npos);
    CHECK(log.find("WebSocket upgrade /connection/***/org/1") != std::string::npos);
    CHECK(log.find("tok-SECRET-77") == std::string::npos);
    CHECK(log.find("tok-SECRET-78") == std::string::npos);
}

TEST_CASE("tool: bad options, fixtures and ports fail with a message") {
    temp_dir dir;
    {
        child p({"--listen", "nonsense"});
        CHECK(p.wait() == 2);
        CHECK(p.rest().find("--listen") != std::string::npos);
    }
    {
        child p({"--fixture", dir.file("bad.json", "{\"orgs\": [ {\"id\": \"one\"} ]}")});
        CHECK(p.wait() == 1);
        auto out = p.rest();
        INFO(out);
        CHECK(out.find("fixture: orgs[0]: \"id\" must be an integer") != std::string::npos);
    }
    {
        child p({"--cert", dir.file("c.pem", "x")});
        CHECK(p.wait() == 2); // --cert needs --key
        CHECK(p.rest().find("--key") != std::string::npos);
    }
    {
        child p({"--no-such-option"});
        CHECK(p.wait() == 2);
    }
    // Numbers: out of range, not finite or not numbers at all are usage errors, never
    // wrapped, clamped or overflowing.
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"--listen", "127.0.0.1:99999999999999999999"},
                                               {"--listen", "127.0.0.1:65536"},
                                               {"--listen", "127.0.0.1:+80"},
                                               {"--heartbeat-interval", "inf"},
                                               {"--heartbeat-interval", "1e300"},
                                               {"--reading-interval", "nan"},
                                               {"--reading-interval", "-1"},
                                               {"--tls-handshake-timeout", "0"},
                                               {"--max-tls-handshakes", "99999999999999999999"},
                                               {"--max-tls-handshakes", "-1"}}) {
        INFO(args[0] << " " << args[1]);
        child p(args);
        CHECK(p.wait() == 2);
        CHECK(p.rest().find(args[0]) != std::string::npos);
    }
    {
        child p({"--help"});
        CHECK(p.wait() == 0);
        CHECK(p.rest().find("--write-ca") != std::string::npos);
    }
    {
        emulator::server busy;
        child p({"--listen", "127.0.0.1:" + std::to_string(busy.port())});
        CHECK(p.wait() == 1);
        CHECK(p.rest().find("cannot listen") != std::string::npos);
    }
    {
        child p({"--fixture", dir.file("two.json", R"({"orgs":[{"id":5,"name":"五","groups":[
            {"id":9,"devices":[{"id":1,"number":"ABCDEFGHIJKLMNOPQRST"}]}]}]})"),
                 "--listen", "127.0.0.1:0", "--write-ca", dir.file("ca.pem")});
        auto s = read_banner(p, true);
        client_io io;
        https_client c(io, slurp(s.ca), s.port, s.token);
        auto orgs = c.get_json("/api/orgs")["data"];
        REQUIRE(orgs.size() == 1);
        CHECK(orgs[0]["id"] == 5);
        CHECK(orgs[0]["device_counter"] == 1);
        CHECK(c.get_json("/api/orgs/5/groups/9/devices")["data"][0]["number"] ==
              "ABCDEFGHIJKLMNOPQRST");
        CHECK(p.stop(SIGTERM) == 0);
    }
}

TEST_CASE("api: fixtures are checked") {
    struct bad {
        const char* json;
        const char* words;
    };
    for (
        const auto& b : std::vector<bad>{
            {"not json", "not valid JSON"},
            {"[]", "top level"},
            {"{}", "missing \"orgs\""},
            {R"({"orgs":{}})", "must be an array"},
            {R"({"orgs":[{"name":"x"}]})", "missing \"id\""},
            {R"({"orgs":[{"id":1},{"id":1}]})", "duplicate org id 1"},
            {R"({"orgs":[{"id":1,"groups":[{"id":2},{"id":2}]}]})", "duplicate group id 2"},
            {R"({"orgs":[{"id":1,"groups":[{"id":2,"devices":[{"id":3}]}]}]})",
             "missing \"number\""},
            {R"({"orgs":[{"id":1,"groups":[{"id":2,"devices":[{"id":3,"number":"123"}]}]}]})",
             "not a device number"},
            {R"({"orgs":[{"id":1,"groups":[{"id":2,"devices":[{"id":3,"number":"12345678901234567890","device_type":"07"}]}]}]})",
             "unknown device_type"},
            {R"({"orgs":[{"id":1,"groups":[{"id":2,"devices":[{"id":3,"device_type":"03","number":"0123456789012345678901234567890123456789"}]}]}]})",
             "NB-IoT id"},
            {R"({"orgs":[{"id":1,"groups":[{"id":2,"devices":[{"id":3,"number":"12345678901234567890"},{"id":3,"number":"12345678901234567891"}]}]}]})",
             "duplicate device id 3"},
            {R"({"orgs":[{"id":1,"groups":[{"id":2,"devices":[{"id":3,"number":"12345678901234567890"},{"id":4,"number":"12345678901234567890"}]}]}]})",
             "duplicate device number"},
        }) {
        INFO(b.json);
        emulator::options opts;
        opts.fixture_json = b.json;
        try {
            emulator::server s(opts);
            FAIL("accepted a bad fixture");
        } catch (const std::runtime_error& e) {
            INFO(e.what());
            CHECK(std::string(e.what()).find(b.words) != std::string::npos);
        }
    }
    emulator::options missing;
    missing.fixture_file = "/nonexistent/fixture.json";
    CHECK_THROWS_WITH(emulator::server(missing), Catch::Contains("/nonexistent/fixture.json"));
    emulator::options empty_token;
    empty_token.token = "";
    CHECK_THROWS_AS(emulator::server(empty_token), std::runtime_error);
    emulator::options bad_address;
    bad_address.listen_address = "not an address";
    CHECK_THROWS_WITH(emulator::server(bad_address), Catch::Contains("listen address"));

    // An empty organisation list is a valid (if dull) cloud.
    emulator::options none;
    none.fixture_json = R"({"orgs":[]})";
    emulator::server s(none);
    client_io io;
    https_client c(io, s);
    CHECK(c.get_json("/api/orgs")["data"] == json::array());
    CHECK_THROWS_AS(s.device(dtu), std::out_of_range);
}

TEST_CASE("api: configuration, addresses, certificates") {
    emulator::server cloud;
    CHECK(cloud.base_url() == "https://127.0.0.1:" + std::to_string(cloud.port()));
    auto cfg = cloud.client_config();
    CHECK(cfg.base_url == cloud.base_url());
    CHECK(cfg.token == cloud.token());
    CHECK(cfg.tls.verify);
    CHECK(cfg.tls.ca_pem == cloud.ca_pem());
    CHECK(cloud.ca_pem().find("-----BEGIN CERTIFICATE-----") == 0);

    client_io io;
    // The certificate names localhost too.
    https_client by_name(io, cloud, "localhost");
    CHECK(by_name.get_json("/api/orgs")["code"] == 200);
    // Another emulator's certificate is not trusted: verification really is on.
    emulator::server other;
    https_client wrong_ca(io, other.ca_pem(), cloud.port(), cloud.token());
    auto r = wrong_ca.try_request("GET", "/api/orgs", {}, cloud.token());
    CHECK(r.ec);
    CHECK(is_tls_error(r.ec));

    // The same port twice.
    emulator::options same;
    same.port = cloud.port();
    CHECK_THROWS_WITH(emulator::server(same), Catch::Contains("cannot listen"));

    emulator::options local;
    local.listen_address = "localhost";
    emulator::server named(local);
    CHECK(named.base_url() == "https://127.0.0.1:" + std::to_string(named.port()));
}

TEST_CASE("api: certificate and key from files") {
    INFO("the openssl command is needed: scripts/install-deps.sh installs it");
    REQUIRE(std::system("openssl version >/dev/null 2>&1") == 0);
    temp_dir dir;
    const auto cert = dir.file("cert.pem");
    const auto key = dir.file("key.pem");
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=test -addext subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);

    emulator::options opts;
    opts.cert_file = cert;
    opts.key_file = key;
    emulator::server cloud(opts);
    CHECK(cloud.ca_pem() == slurp(cert));
    client_io io;
    https_client c(io, cloud);
    CHECK(c.get_json("/api/orgs")["code"] == 200);

    emulator::options with_ca = opts;
    with_ca.port = 0;
    with_ca.ca_file = cert;
    CHECK(emulator::server(with_ca).ca_pem() == slurp(cert));

    emulator::options mismatched = opts;
    mismatched.key_file = cert; // not a key
    CHECK_THROWS_WITH(emulator::server(mismatched), Catch::Contains("private key"));
    emulator::options half = opts;
    half.key_file.clear();
    CHECK_THROWS_AS(emulator::server(half), std::runtime_error);
}

TEST_CASE("api: simulation through the C++ options") {
    emulator::options opts;
    opts.simulate.enabled = true;
    opts.simulate.heartbeat_interval = 20ms;
    opts.simulate.reading_interval = 30ms;
    emulator::server cloud(opts);
    client_io io;
    wss_client app(io, cloud);
    app.connect();
    REQUIRE(!app.send(frame(0x01, dtu)));
    REQUIRE(cloud.wait_subscribers(dtu, 1, 5s));
    auto dev = cloud.device(dtu);
    CHECK(dev.history_size() == 0); // nothing while disconnected
    dev.connect();
    auto m = app.receive();
    REQUIRE(!m.ec);
    CHECK(m.data == frame(0x04, dtu));
    bool heartbeat = false, reading = false;
    for (int i = 0; i < 50 && !(heartbeat && reading); ++i) {
        auto msg = app.receive();
        REQUIRE(!msg.ec);
        REQUIRE(msg.data.size() > 21);
        REQUIRE(msg.data[0] == 0x06);
        atomcloud::bytes_view payload(msg.data.data() + 21, msg.data.size() - 21);
        heartbeat = heartbeat || atomcloud::is_heartbeat(payload);
        reading = reading || is_reading(payload);
    }
    CHECK(heartbeat);
    CHECK(reading);
    dev.disconnect();
}

TEST_CASE("api: simulated traffic is in the sent log, at the history's times") {
    emulator::options opts;
    opts.simulate.enabled = true;
    opts.simulate.heartbeat_interval = 15ms;
    opts.simulate.reading_interval = 25ms;
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);
    for (const char* number : {dtu, nbiot}) {
        INFO(number);
        auto dev = cloud.device(number);
        dev.connect();
        const bool dtu_device = number == std::string(dtu);
        REQUIRE(eventually([&] {
            bool beat = false, read = false;
            const auto all = dev.sent();
            for (const auto& m : all) {
                beat = beat || atomcloud::is_heartbeat(m.payload);
                read = read || is_reading(m.payload);
            }
            return all.size() >= 6 && read && (beat || !dtu_device);
        }));
        dev.disconnect(); // the simulation stops sending
        const auto sent = dev.sent();
        auto hist =
            c.get_json(std::string("/api/orgs/1/devicepacket/") + number + "?limit=1000")["data"];
        auto log = c.get_json(std::string("/emulator/devices/") + number + "/sent")["data"];
        CHECK(log["dropped"] == 0);
        REQUIRE(hist["items"].size() == sent.size());
        REQUIRE(log["items"].size() == sent.size());
        bool heartbeat = false, reading = false;
        for (std::size_t i = 0; i < sent.size(); ++i) {
            const auto& h = hist["items"][sent.size() - 1 - i]; // newest first
            CHECK(h["hex_packet"] == atomcloud::to_hex_packet(sent[i].payload));
            CHECK(log["items"][i]["hex"] == h["hex_packet"]);
            CHECK(log["items"][i]["time"] == h["time"]);
            heartbeat = heartbeat || atomcloud::is_heartbeat(sent[i].payload);
            reading = reading || is_reading(sent[i].payload);
        }
        CHECK(reading);
        CHECK(heartbeat == dtu_device); // NB-IoT devices: readings only
    }
}

TEST_CASE("api: thread rules") {
    std::atomic<emulator::server*> self{nullptr};
    std::atomic<bool> refused{false};
    emulator::options opts;
    opts.log.level = atomcloud::log_level::info;
    opts.log.sink = [&](atomcloud::log_level, std::string_view) {
        if (auto* s = self.load()) {
            try {
                s->status();
            } catch (const std::logic_error&) {
                refused = true;
            }
        }
    };
    emulator::server cloud(opts);
    self = &cloud;
    cloud.device(dtu).connect(); // logs on the server's thread
    CHECK(refused);
    self = nullptr;

    // Many threads at once.
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            try {
                for (int i = 0; i < 50; ++i) {
                    cloud.device(dtu).send("x");
                    (void)cloud.status();
                    (void)cloud.device(dtu).history_size();
                }
            } catch (...) {
                ++failures;
            }
        });
    for (auto& t : threads)
        t.join();
    CHECK(failures == 0);
    CHECK(cloud.device(dtu).history_size() == 200);
}
