// Presence without sockets: how seeds and device events change the registry, and which
// changes are reported.
#include <atomcloud/presence.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace atomcloud;
using namespace std::chrono_literals;

namespace {

const char* const num_a = "18846494908532689575";
const char* const num_b = "27309143566123801957";
const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));

device_presence dev(const char* number, connection_state s,
                    std::chrono::system_clock::time_point at, std::int64_t group = 45) {
    device_presence p;
    p.info.number = number;
    p.group_id = group;
    p.state = device_state{s, to_string(s)};
    p.since = at;
    return p;
}

event connected(const char* number) {
    return device_connected{device_number{number}};
}
event disconnected(const char* number) {
    return device_disconnected{device_number{number}};
}

} // namespace

TEST_CASE("presence registry: the first seed reports every known state", "[session][presence]") {
    presence_registry r;
    CHECK_FALSE(r.seeded());
    r.begin_seed();
    const auto changes = r.apply_seed({dev(num_a, connection_state::connected, t0),
                                       dev(num_b, connection_state::disconnected, t0)});
    CHECK(r.seeded());
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].number == num_a);
    CHECK(changes[0].old_state.state == connection_state::unknown);
    CHECK(changes[0].new_state.state == connection_state::connected);
    CHECK(changes[0].source == presence_source::seed);
    CHECK(changes[0].when == t0);
    REQUIRE(r.devices().size() == 2);
    CHECK(r.devices()[1].info.number == num_b);
    REQUIRE(r.find(num_a));
    CHECK(r.find(num_a)->online());
    CHECK_FALSE(r.find("00000000000000000000"));
}

TEST_CASE("presence registry: events change known devices, with old and new state",
          "[session][presence]") {
    presence_registry r;
    r.begin_seed();
    r.apply_seed({dev(num_a, connection_state::connected, t0)});

    CHECK_FALSE(r.apply(connected(num_a), t0 + 1s)); // already connected: no change
    auto c = r.apply(disconnected(num_a), t0 + 2s);
    REQUIRE(c);
    CHECK(c->old_state.state == connection_state::connected);
    CHECK(c->new_state.state == connection_state::disconnected);
    CHECK(c->new_state.raw == "disconnected");
    CHECK(c->when == t0 + 2s);
    CHECK(c->source == presence_source::device_event);
    CHECK(r.find(num_a)->since == t0 + 2s);
    CHECK_FALSE(r.apply(connected(num_b), t0 + 3s)); // not tracked
    CHECK_FALSE(r.apply(session_connected{}, t0 + 3s));
}

TEST_CASE("presence registry: a re-seed corrects, and keeps `since` of unchanged devices",
          "[session][presence]") {
    presence_registry r;
    r.begin_seed();
    r.apply_seed(
        {dev(num_a, connection_state::connected, t0), dev(num_b, connection_state::connected, t0)});
    r.begin_seed();
    const auto changes = r.apply_seed({dev(num_a, connection_state::connected, t0 + 10s),
                                       dev(num_b, connection_state::disconnected, t0 + 10s)});
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].number == num_b);
    CHECK(changes[0].old_state.state == connection_state::connected);
    CHECK(changes[0].new_state.state == connection_state::disconnected);
    CHECK(r.find(num_a)->since == t0);
    CHECK(r.find(num_b)->since == t0 + 10s);

    // A device no longer listed is forgotten.
    r.begin_seed();
    CHECK(r.apply_seed({dev(num_a, connection_state::connected, t0 + 20s)}).empty());
    CHECK_FALSE(r.find(num_b));
}

TEST_CASE("presence registry: an event during a seed is newer than the seed's answer",
          "[session][presence]") {
    presence_registry r;
    r.begin_seed();
    r.apply_seed({dev(num_a, connection_state::disconnected, t0)});

    r.begin_seed();
    REQUIRE(r.apply(connected(num_a), t0 + 1s)); // reported at once
    // The seed's answer was read before the event: it is not taken.
    CHECK(r.apply_seed({dev(num_a, connection_state::disconnected, t0 + 2s)}).empty());
    CHECK(r.find(num_a)->state.state == connection_state::connected);
    CHECK(r.find(num_a)->since == t0 + 1s);

    // Also for a device the registry did not know yet (the first seed).
    presence_registry fresh;
    fresh.begin_seed();
    CHECK_FALSE(fresh.apply(connected(num_b), t0 + 1s));
    const auto changes = fresh.apply_seed({dev(num_b, connection_state::disconnected, t0 + 2s)});
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].new_state.state == connection_state::connected);
    CHECK(changes[0].source == presence_source::device_event);

    // A failed seed changes nothing, and later events are not held for the next one.
    r.begin_seed();
    r.cancel_seed();
    REQUIRE(r.apply(disconnected(num_a), t0 + 3s));
    r.begin_seed();
    CHECK(r.apply_seed({dev(num_a, connection_state::connected, t0 + 4s)}).size() == 1);
}
