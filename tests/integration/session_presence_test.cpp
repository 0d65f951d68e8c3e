// Presence against the emulator: the seed from REST matches the emulator's states, device
// events update the registry and report old and new states, and after a dropped link a
// change made during the outage is corrected by the re-seed.
//
// Everything runs on the test's thread (the io_context in short slices); the emulator runs
// on its own thread and plays the devices.
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/presence.hpp>
#include <atomcloud/rest_client.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

using namespace atomcloud;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

const char* const num_a = "18846494908532689575"; // group 45
const char* const num_b = "27309143566123801957"; // group 45
const char* const num_w = "60412895370864217395"; // group 44
const char* const num_nb = "b6d85634-9d34-4052-80cd-b840b75cb910";

// An emulator, a running session, a REST client and a presence object fed by the
// session's receive loop; the changes and seeds it reported.
class rig {
public:
    explicit rig(std::vector<std::int64_t> groups) {
        cfg = cloud.client_config();
        cfg.session.reconnect.initial_delay = 20ms;
        cfg.session.reconnect.max_delay = 200ms;
        cfg.session.reconnect.jitter = 0.0;
        api.emplace(io.get_executor(), cfg);
        s.emplace(io.get_executor(), cfg, 1);
        presence_options opts;
        opts.groups = std::move(groups);
        opts.on_change = [this](const presence_change& c) { changes.push_back(c); };
        opts.on_seeded = [this](error_code ec) {
            ++seeds;
            last_seed = ec;
        };
        online.emplace(*api, *s, 1, std::move(opts));
    }

    void start() {
        s->async_run([this](error_code ec) { run_result = ec; });
        receive();
    }

    ~rig() {
        online.reset();
        s->stop();
        until([&] { return run_result.has_value(); }, 5s);
        s.reset();
        api.reset();
        io.restart();
        io.run_for(20ms);
    }

    template <class Pred>
    bool until(Pred pred, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            io.restart();
            io.run_for(5ms);
        }
        return true;
    }

    // The registry's state of a device, as the API spells it ("" if not tracked).
    std::string state(const char* number) const {
        auto d = online->find(number);
        return d ? to_string(d->state) : std::string();
    }

    emulator::server cloud;
    config cfg;
    asio::io_context io;
    std::optional<rest_client> api;
    std::optional<session> s;
    std::optional<presence> online;
    std::optional<error_code> run_result;
    std::vector<presence_change> changes;
    std::size_t seeds = 0;
    error_code last_seed;
    std::size_t links = 0;

private:
    void receive() {
        s->async_receive([this](error_code ec, event_batch batch) {
            if (ec)
                return;
            for (const auto& ev : batch) {
                if (online)
                    online->on_event(ev);
                links += std::holds_alternative<session_connected>(ev);
            }
            receive();
        });
    }
};

} // namespace

TEST_CASE("presence: the seed from REST matches the emulator's states",
          "[session][presence][integration]") {
    rig r({45, 44});
    r.cloud.device(num_a).connect();
    r.cloud.device(num_w).connect();
    std::optional<error_code> seeded;
    r.online->async_seed([&](error_code ec) { seeded = ec; });
    REQUIRE(r.until([&] { return seeded.has_value(); }, 10s));
    CHECK_FALSE(*seeded);
    CHECK(r.seeds == 1);
    REQUIRE(r.online->devices().size() == r.cloud.device_numbers().size());
    for (const auto& n : r.cloud.device_numbers()) {
        INFO(n);
        CHECK(r.state(n.c_str()) == r.cloud.device(n).state());
    }
    CHECK(r.online->find(num_a)->online());
    CHECK(r.online->find(num_a)->group_id == 45);
    CHECK(r.online->find(num_w)->group_id == 44);
    CHECK(r.online->find(num_nb)->state.state == connection_state::notbind);
    CHECK(r.online->devices()[0].info.number == num_a); // group order, then the API's
    // Every first state is reported, from the seed.
    CHECK(r.changes.size() == r.online->devices().size());
    for (const auto& c : r.changes)
        CHECK(c.source == presence_source::seed);
}

TEST_CASE("presence: connect and disconnect events update the registry and report old and "
          "new state",
          "[session][presence][integration]") {
    rig r({45});
    r.start();
    // The first session_connected seeds it. (A seed asked for as well would run a second
    // one, and both could end within one wait: the count would skip 1.)
    REQUIRE(r.until([&] { return r.seeds == 1; }, 10s));
    // Only group 45: the other groups' devices are not tracked.
    CHECK(r.online->devices().size() == 2);
    CHECK_FALSE(r.online->find(num_w));
    REQUIRE(r.cloud.wait_subscribers(num_a, 1, 5s)); // the presence subscribed the session
    REQUIRE(r.cloud.wait_subscribers(num_b, 1, 5s));
    r.changes.clear();

    const auto before = std::chrono::system_clock::now();
    r.cloud.device(num_a).connect();
    REQUIRE(r.until([&] { return r.changes.size() == 1; }, 5s));
    CHECK(r.changes[0].number == num_a);
    CHECK(r.changes[0].old_state.state == connection_state::disconnected);
    CHECK(r.changes[0].new_state.state == connection_state::connected);
    CHECK(r.changes[0].source == presence_source::device_event);
    CHECK(r.changes[0].when >= before);
    CHECK(r.state(num_a) == "connected");
    CHECK(r.online->find(num_a)->since == r.changes[0].when);

    r.cloud.device(num_a).disconnect();
    REQUIRE(r.until([&] { return r.changes.size() == 2; }, 5s));
    CHECK(r.changes[1].old_state.state == connection_state::connected);
    CHECK(r.changes[1].new_state.state == connection_state::disconnected);
    CHECK(r.state(num_a) == "disconnected");
    CHECK(r.state(num_b) == "disconnected");
}

TEST_CASE("presence: after a dropped link, the re-seed corrects a change made during the "
          "outage",
          "[session][presence][integration]") {
    rig r({45, 44});
    r.cloud.device(num_a).connect();
    r.start();
    // The first session_connected seeds it (no async_seed needed).
    REQUIRE(r.until([&] { return r.seeds == 1; }, 10s));
    CHECK_FALSE(r.last_seed);
    CHECK(r.state(num_a) == "connected");
    CHECK(r.state(num_b) == "disconnected");
    REQUIRE(r.cloud.wait_subscribers(num_a, 1, 5s));
    r.changes.clear();

    // The link goes down; meanwhile A goes offline and B online (no 0x04/0x05 reach us).
    r.cloud.drop_connections(500ms);
    r.cloud.device(num_a).disconnect();
    r.cloud.device(num_b).connect();
    REQUIRE(r.until([&] { return r.links == 2 && r.seeds == 2; }, 10s));
    CHECK_FALSE(r.last_seed);
    CHECK(r.state(num_a) == "disconnected");
    CHECK(r.state(num_b) == "connected");
    REQUIRE(r.changes.size() == 2);
    CHECK(r.changes[0].number == num_a);
    CHECK(r.changes[0].old_state.state == connection_state::connected);
    CHECK(r.changes[0].new_state.state == connection_state::disconnected);
    CHECK(r.changes[0].source == presence_source::seed);
    CHECK(r.changes[1].number == num_b);
    CHECK(r.changes[1].new_state.state == connection_state::connected);
    for (const auto& n : r.cloud.device_numbers())
        CHECK(r.state(n.c_str()) == r.cloud.device(n).state());
}

TEST_CASE("presence: a failed seed reports its error and changes nothing",
          "[session][presence][integration]") {
    rig r({45});
    r.cloud.inject_fault({emulator::fault::kind::api_code, 503, 401, "no such group", 0ms}, 1);
    std::optional<error_code> seeded;
    r.online->async_seed([&](error_code ec) { seeded = ec; });
    REQUIRE(r.until([&] { return seeded.has_value(); }, 10s));
    CHECK(*seeded == api_errc::not_found);
    CHECK(r.last_seed == api_errc::not_found);
    CHECK(r.online->devices().empty());
    CHECK_FALSE(r.online->registry().seeded());
}
