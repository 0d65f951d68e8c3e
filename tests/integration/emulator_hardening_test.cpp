// Hostile clients against the emulator: TCP connections that never start TLS, and numbers
// out of range in paths, query strings and control bodies.
#include "emulator_test_client.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

using namespace emu_test;
namespace emulator = atomcloud::emulator;

namespace {

constexpr const char* dtu = "18846494908532689575";

/// A TCP connection to the emulator that never sends a byte.
class silent_tcp {
public:
    explicit silent_tcp(std::uint16_t port)
        : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    }
    ~silent_tcp() { ::close(fd_); }
    silent_tcp(const silent_tcp&) = delete;
    silent_tcp& operator=(const silent_tcp&) = delete;

    /// True if the server closed the connection within `limit`.
    bool closed_by_server(std::chrono::milliseconds limit) const {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0)
            return false;
        char c;
        return ::recv(fd_, &c, 1, 0) <= 0;
    }

private:
    int fd_;
};

} // namespace

TEST_CASE("hardening: TCP connections that never start TLS do not lock other clients out") {
    emulator::options opts;
    opts.max_connections = 100; // fewer than the flood, as 1024 is fewer than a real one
    emulator::server cloud(opts);
    client_io io;
    https_client established(io, cloud);
    REQUIRE(established.get_json("/api/orgs")["code"] == 200);
    wss_client app(io, cloud);
    app.connect();

    std::vector<std::unique_ptr<silent_tcp>> flood;
    for (int i = 0; i < 200; ++i)
        flood.push_back(std::make_unique<silent_tcp>(cloud.port()));
    // The emulator takes them all in: at most max_tls_handshakes stay, the oldest go.
    REQUIRE(
        eventually([&] { return cloud.status().tls_handshakes == opts.max_tls_handshakes; }, 60s));
    CHECK(flood.front()->closed_by_server(10s));

    // New clients are served (each request on a new connection: a new handshake) ...
    for (int i = 0; i < 5; ++i) {
        https_client fresh(io, cloud);
        auto r = fresh.try_request("GET", "/api/orgs", {}, cloud.token(), 20s);
        INFO("request " << i << ": " << r.ec.message());
        REQUIRE(!r.ec);
        CHECK(json::parse(r.res.body)["code"] == 200);
    }
    // ... and so are the clients that were there before.
    CHECK(established.get_json("/api/orgs")["code"] == 200);
    CHECK(established.connects() == 1);
    REQUIRE(!app.send(frame(0x01, dtu)));
    REQUIRE(cloud.wait_subscribers(dtu, 1, 20s));
    cloud.device(dtu).connect();
    auto m = app.receive(20s);
    REQUIRE(!m.ec);
    CHECK(m.data == frame(0x04, dtu));

    // The handshakes that never start end after tls_handshake_timeout.
    CHECK(eventually([&] { return cloud.status().tls_handshakes == 0; }, 60s));
    CHECK(flood.back()->closed_by_server(10s));
}

TEST_CASE("hardening: numbers out of range are refused, never wrapped") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);
    auto code_of = [&](const std::string& target) {
        auto r = c.get(target);
        INFO(target << " -> " << r.body);
        CHECK(r.status == 200u);
        return json::parse(r.body)["code"].get<int>();
    };
    // Ids: 19 and 20 digits, one past the largest int64, a sign or a base prefix.
    for (const char* target :
         {"/api/orgs/9999999999999999999/grouplist", "/api/orgs/99999999999999999999/grouplist",
          "/api/orgs/9223372036854775808/grouplist", "/api/orgs/+1/grouplist",
          "/api/orgs/0x1/grouplist", "/api/orgs/1/groups/18446744073709551661/devices",
          "/api/orgs/1/devicestate/9223372036854775954"}) {
        const int code = code_of(target);
        CHECK((code == 400 || code == 401));
    }
    const std::string packets = std::string("/api/orgs/1/devicepacket/") + dtu;
    for (const char* query : {"?page=99999999999999999999", "?limit=99999999999999999999",
                              "?page=-1", "?limit=0x10", "?page=1e3"})
        CHECK(code_of(packets + query) == 400);
    CHECK(code_of(packets + "?page=1&limit=1000") == 200);

    // Control bodies: a JSON number above INT64_MAX must not wrap to a negative one.
    for (const char* body : {R"({"kind":"api_code","code":18446744073709551615})",
                             R"({"kind":"api_code","code":9223372036854775808})",
                             R"({"kind":"delay","delay_ms":18446744073709551615})",
                             R"({"kind":"http_status","count":18446744073709551615})"}) {
        INFO(body);
        CHECK(c.post("/emulator/faults", body).status == 400u);
    }
    CHECK(cloud.status().pending_faults == 0);
    CHECK(c.post("/emulator/suspend", R"({"duration_ms":18446744073709551615})").status == 400u);
    CHECK(cloud.status().listening);
}
