// 06_emulator_in_tests: testing your own code against the emulator, in a Catch2 test.
//
// Each test starts an emulator in-process (HTTPS and WSS on a free loopback port, with a
// fresh certificate), sets the scene from the device side (connect, send, fail), runs the
// code under test with verified TLS, and checks what it did, also from the device side.
// Link atomcloud::emulator (installed with the SDK) and Catch2; no network, no token.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// ---- The application's code under test --------------------------------------------------

// The names of the organisation's devices that are offline.
std::vector<std::string> offline_devices(atomcloud::rest_client& api, std::int64_t org) {
    std::vector<std::string> names;
    for (const auto& group : api.list_groups(org))
        for (const auto& dev : api.list_devices(org, group.id))
            if (!api.device_state(org, dev.id).online())
                names.push_back(dev.name);
    return names;
}

// The newest message of a device that is not a heartbeat, as text; nothing if none.
std::optional<std::string> latest_reading(atomcloud::rest_client& api, std::int64_t org,
                                          const std::string& number) {
    atomcloud::packet_query q;
    q.limit = 20;
    for (const auto& p : api.packets(org, atomcloud::device_number(number), q).items)
        if (!atomcloud::is_heartbeat(p.payload))
            return atomcloud::gbk_to_utf8(p.payload);
    return std::nullopt;
}

// Watches a thermometer; when it reports a value above `limit`, tells it "FAN ON". Returns
// once it did.
asio::awaitable<void> fan_control(atomcloud::session& s, atomcloud::device_number thermometer,
                                  double limit) {
    co_await s.async_subscribe(thermometer);
    for (;;) {
        auto [ec, batch] = co_await s.async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return;
        for (const auto& ev : batch) {
            auto* msg = std::get_if<atomcloud::device_message>(&ev);
            if (!msg || atomcloud::is_heartbeat(msg->payload))
                continue;
            if (std::stod(std::string(atomcloud::as_chars(msg->payload))) > limit) {
                co_await s.async_send(thermometer, atomcloud::as_bytes("FAN ON"));
                s.stop();
                co_return;
            }
        }
    }
}

// ---- The tests ----------------------------------------------------------------------------

constexpr const char* thermometer = "18846494908532689575"; // a device of the default fixture

TEST_CASE("offline_devices lists the devices that are not connected") {
    atomcloud::emulator::server cloud; // the default fixture: org 1, five devices
    for (const auto& number : cloud.device_numbers())
        cloud.device(number).connect();
    cloud.device("27309143566123801957").disconnect();

    asio::io_context io;
    atomcloud::rest_client api(io.get_executor(), cloud.client_config());
    CHECK(offline_devices(api, 1) == std::vector<std::string>{"DTU 设备 - 3"});
}

TEST_CASE("latest_reading skips heartbeats and decodes GBK") {
    atomcloud::emulator::server cloud;
    auto dev = cloud.device(thermometer);
    dev.connect();

    asio::io_context io;
    atomcloud::rest_client api(io.get_executor(), cloud.client_config());
    CHECK_FALSE(latest_reading(api, 1, thermometer).has_value());

    dev.send(atomcloud::utf8_to_gbk("温度 21.5℃"));
    dev.send("ALIENTEK-HRTDT");
    CHECK(latest_reading(api, 1, thermometer) == "温度 21.5℃");
}

TEST_CASE("platform failures reach the caller as atomcloud::error") {
    atomcloud::emulator::server cloud;
    atomcloud::config cfg = cloud.client_config();
    cfg.retry.max_attempts = 1; // no retries: the first failure is the answer

    asio::io_context io;
    atomcloud::rest_client api(io.get_executor(), cfg);

    atomcloud::emulator::fault unavailable;
    unavailable.what = atomcloud::emulator::fault::kind::http_status;
    unavailable.status = 503;
    cloud.inject_fault(unavailable);
    CHECK_THROWS_AS(offline_devices(api, 1), atomcloud::error);

    try {
        latest_reading(api, 1, "00000000000000000000");
        FAIL("an unknown device was not reported");
    } catch (const atomcloud::error& e) {
        CHECK(e.boost_code() == atomcloud::api_errc::not_found); // the platform's code 401
        CHECK_FALSE(e.get_diagnostics().server_message().empty());
    }
}

TEST_CASE("fan_control switches the fan on above the limit, and only then") {
    atomcloud::emulator::server cloud;
    auto dev = cloud.device(thermometer);
    dev.connect();

    asio::io_context io;
    atomcloud::session s(io.get_executor(), cloud.client_config(), 1);
    s.async_run([](atomcloud::error_code) {});
    asio::co_spawn(io, fan_control(s, atomcloud::device_number(thermometer), 30.0),
                   [](std::exception_ptr e) {
                       if (e)
                           std::rethrow_exception(e);
                   });

    std::thread device_side([&] {
        if (!cloud.wait_subscribers(thermometer, 1, 10s))
            return;
        dev.send("24.5");
        dev.send("ALIENTEK-HRTDT");
        dev.send("29.9");
        dev.send("31.2");
    });
    io.run_for(20s); // returns as soon as fan_control stopped the session
    device_side.join();

    REQUIRE(dev.wait_received(1, 5s));
    CHECK(dev.received() == std::vector<atomcloud::bytes>{atomcloud::to_bytes("FAN ON")});
}
