// The emulator's WebSocket API, driven by a plain Beast client over verified TLS.
#include "emulator_test_client.hpp"

#include <catch2/catch.hpp>

using namespace emu_test;
namespace emulator = atomcloud::emulator;

namespace {
constexpr const char* dtu = "18846494908532689575";
}

TEST_CASE("websocket: subscribe, device events and data, send to a device") {
    emulator::server cloud;
    client_io io;
    wss_client app(io, cloud);
    app.connect();
    REQUIRE(cloud.wait_websocket_connections(1, 5s));
    REQUIRE(!app.send(frame(0x01, dtu)));
    REQUIRE(cloud.wait_subscribers(dtu, 1, 5s));

    auto dev = cloud.device(dtu);
    dev.connect();
    auto m = app.receive();
    REQUIRE(!m.ec);
    CHECK(m.data == frame(0x04, dtu));

    dev.send("ALIENTEK-HRTDT");
    m = app.receive();
    REQUIRE(!m.ec);
    CHECK(m.data == hex("06 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35 41 4C "
                        "49 45 4E 54 45 4B 2D 48 52 54 44 54"));

    REQUIRE(!app.send(frame(0x03, dtu, "hello")));
    REQUIRE(dev.wait_received(1, 5s));
    CHECK(dev.received() == std::vector<atomcloud::bytes>{atomcloud::to_bytes("hello")});
}
