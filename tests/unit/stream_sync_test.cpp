// The gapless stream's machine (detail/stream_sync.hpp) driven by events with a fake
// clock: exact cases first, then a simulated cloud with random outages, delays and
// repeated payloads against which every message must come out exactly once.
#include <atomcloud/detail/stream_sync.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using atomcloud::device_number;
using atomcloud::gap_reason;
using atomcloud::packet_time;
using atomcloud::stream_cursor;
using atomcloud::detail::clock_model;
using atomcloud::detail::device_sync;
using atomcloud::detail::held_message;
using atomcloud::detail::history_entry;
using atomcloud::detail::payload_hash;
using atomcloud::detail::sync_limits;
using atomcloud::detail::sync_step;
using atomcloud::detail::sys_time;

namespace {

const device_number dev("18846494908532689575");

// Cloud times and local times share an epoch here; the offset is what the test adds.
const sys_time t0 = sys_time(std::chrono::seconds(1'700'000'000));

struct stored {
    packet_time time;
    std::string payload;
};

// The cloud side of one device: what it stored, oldest first.
struct fake_cloud {
    std::vector<stored> items;

    void store(sys_time at, std::string payload) {
        items.push_back(
            {std::chrono::time_point_cast<std::chrono::microseconds>(at), std::move(payload)});
    }
    // The history from `from` (whole seconds, as the API answers) up to `until`.
    std::vector<history_entry> history(sys_time from, sys_time until,
                                       std::vector<std::size_t>* ids = nullptr) const {
        std::vector<history_entry> h;
        const auto floor = std::chrono::floor<std::chrono::seconds>(from);
        for (std::size_t i = 0; i < items.size(); ++i) {
            const auto t = sys_time(items[i].time.time_since_epoch());
            if (t >= floor && t <= until) {
                h.push_back({items[i].time, payload_hash(atomcloud::as_bytes(items[i].payload))});
                if (ids)
                    ids->push_back(i);
            }
        }
        return h;
    }
};

// A live message whose storage carries the cloud index it came from.
held_message live(const fake_cloud& c, std::size_t i, sys_time received) {
    auto id = std::make_shared<std::size_t>(i);
    const auto& p = c.items[i].payload;
    return held_message{atomcloud::as_bytes(p), payload_hash(atomcloud::as_bytes(p)), received, id};
}

std::size_t id_of(const held_message& m) {
    return *static_cast<const std::size_t*>(m.storage.get());
}

// The delivered cloud indices (and gaps) of a finish_fetch.
struct outcome {
    std::vector<std::size_t> delivered;
    std::vector<sync_step> gaps;
};

outcome apply(const device_sync& s, const std::vector<sync_step>& steps,
              const std::vector<std::size_t>& hist_ids) {
    outcome o;
    for (const auto& st : steps) {
        if (st.what == sync_step::kind::backfill)
            o.delivered.push_back(hist_ids[st.index]);
        else if (st.what == sync_step::kind::held)
            o.delivered.push_back(id_of(s.held()[st.index]));
        else
            o.gaps.push_back(st);
    }
    return o;
}

// What a restarted process does with a saved cursor: the cursor through its text, a new
// machine whose link comes up at `at`, the history from `from` to `at` read at once.
outcome restart_from(const stream_cursor& c, const fake_cloud& cloud, sys_time from, sys_time at,
                     clock_model& clock, const sync_limits& lim) {
    auto saved = stream_cursor::parse(c.to_string());
    REQUIRE(saved);
    REQUIRE(*saved == c);
    device_sync s(*saved);
    s.link_up(at);
    s.begin_fetch(at, clock);
    std::vector<std::size_t> ids;
    auto steps = s.finish_fetch(cloud.history(from, at, &ids), true, at, clock, lim);
    return apply(s, steps, ids);
}

stream_cursor since_cursor(sys_time since) {
    stream_cursor c{dev};
    c.since = std::chrono::time_point_cast<std::chrono::microseconds>(since);
    return c;
}

} // namespace

TEST_CASE("stream cursor: text round trip, and anything else is refused", "[stream][cursor]") {
    stream_cursor c{dev};
    c.anchor_time = packet_time(std::chrono::microseconds(1723367019300928));
    c.anchor_hash = 0x0123456789abcdefULL;
    c.anchor_rank = 2;
    c.after = 17;
    c.last_hash = 0xfedcba9876543210ULL;
    const std::string text = c.to_string();
    CHECK(text == "v1 d 3138383436343934393038353332363839353735 1723367019300928 "
                  "0123456789abcdef 2 17 fedcba9876543210 -");
    auto back = stream_cursor::parse(text);
    REQUIRE(back);
    CHECK(*back == c);

    stream_cursor n{atomcloud::nbiot_id("b6d85634-9d34-4052-80cd-b840b75cb910")};
    n.since = packet_time(std::chrono::microseconds(5));
    auto nb = stream_cursor::parse(n.to_string());
    REQUIRE(nb);
    CHECK(*nb == n);
    CHECK(std::holds_alternative<atomcloud::nbiot_id>(nb->device));

    for (const char* bad :
         {"", "v1", "v2 d 31 - 0000000000000000 0 0 0000000000000000 -",
          "v1 d 3138 - 0000000000000000 0 0 0000000000000000 -", // not a 20-char number
          "v1 x 3138383436343934393038353332363839353735 - 0000000000000000 0 0 "
          "0000000000000000 -",
          "v1 d 3138383436343934393038353332363839353735 12x 0000000000000000 0 0 "
          "0000000000000000 -",
          "v1 d 3138383436343934393038353332363839353735 - 0000000000000001 0 0 "
          "0000000000000000 -", // a hash without an anchor
          "v1 d 3138383436343934393038353332363839353735 1 00000000000000000 0 0 "
          "0000000000000000 -",
          "v1 d 3138383436343934393038353332363839353735 1 0000000000000000 0 -1 "
          "0000000000000000 -",
          "v1 d 3138383436343934393038353332363839353735  1 0000000000000000 0 0 "
          "0000000000000000 -"})
        CHECK_FALSE(stream_cursor::parse(bad));
}

TEST_CASE("stream sync: settles on enough held messages or on time", "[stream][sync]") {
    sync_limits lim;
    lim.settle_messages = 3;
    lim.settle_time = 1000ms;
    fake_cloud cloud;
    for (int i = 0; i < 5; ++i)
        cloud.store(t0 + std::chrono::milliseconds(100 * i), "m" + std::to_string(i));
    device_sync s(since_cursor(t0));
    CHECK(s.state() == device_sync::phase::down);
    CHECK_FALSE(s.on_live(live(cloud, 0, t0))); // nothing arrives while down
    CHECK(s.held().empty());
    s.link_up(t0);
    CHECK(s.settle_deadline(lim) == t0 + 1000ms);
    CHECK_FALSE(s.ready_to_fetch(t0 + 10ms, lim));
    CHECK_FALSE(s.on_live(live(cloud, 0, t0 + 1ms)));
    CHECK_FALSE(s.on_live(live(cloud, 1, t0 + 101ms)));
    CHECK_FALSE(s.ready_to_fetch(t0 + 150ms, lim));
    CHECK_FALSE(s.on_live(live(cloud, 2, t0 + 201ms)));
    CHECK(s.ready_to_fetch(t0 + 202ms, lim)); // three held
    CHECK(s.held_bytes() == 6);

    device_sync quiet(since_cursor(t0));
    quiet.link_up(t0);
    CHECK_FALSE(quiet.ready_to_fetch(t0 + 999ms, lim));
    CHECK(quiet.ready_to_fetch(t0 + 1000ms, lim));
}

TEST_CASE("stream sync: from a start time, backfill then the held live messages, each once",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    // Before the start, after the start (missed), then live once subscribed at +10 s.
    cloud.store(t0 - 5s, "old");
    for (int i = 0; i < 4; ++i)
        cloud.store(t0 + std::chrono::seconds(i), "B" + std::to_string(i));
    device_sync s(since_cursor(t0));
    const sys_time up = t0 + 10s;
    s.link_up(up);
    for (int i = 0; i < 3; ++i) {
        cloud.store(up + std::chrono::milliseconds(10 + 10 * i), "L" + std::to_string(i));
        s.on_live(live(cloud, cloud.items.size() - 1, up + std::chrono::milliseconds(11 + 10 * i)));
    }
    const sys_time fetch_at = up + 40ms;
    REQUIRE(s.begin_fetch(fetch_at, clock) == t0);
    // One more is stored and received while the request is in flight: in both.
    cloud.store(up + 45ms, "L3");
    s.on_live(live(cloud, cloud.items.size() - 1, up + 46ms));
    std::vector<std::size_t> ids;
    auto h = cloud.history(t0, up + 48ms, &ids);
    auto steps = s.finish_fetch(h, true, up + 50ms, clock, lim);
    auto o = apply(s, steps, ids);
    CHECK(o.gaps.empty());
    CHECK(o.delivered == std::vector<std::size_t>{1, 2, 3, 4, 5, 6, 7, 8});
    // The held ones got the history's times.
    for (const auto& st : steps)
        if (st.what == sync_step::kind::held)
            CHECK(st.cloud_time);
    CHECK(s.state() == device_sync::phase::live);
    CHECK(clock.calibrated());
    CHECK(clock.offset() == 1ms);
    // The cursor: the history's newest, nothing after it.
    CHECK(s.cursor().anchor_time == cloud.items.back().time);
    CHECK(s.cursor().after == 0);
    s.clear_held();
    cloud.store(up + 60ms, "L4");
    CHECK(s.on_live(live(cloud, 9, up + 61ms)));
    CHECK(s.cursor().after == 1);
}

TEST_CASE("stream sync: after an outage the anchor and the count place delivery exactly, "
          "however alike the payloads",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    // Every payload is the heartbeat: only counting can tell them apart.
    const std::string hb = "ALIENTEK-HRTDT";
    device_sync s(since_cursor(t0));
    s.link_up(t0);
    auto h = cloud.history(t0, t0 + 1ms);
    s.begin_fetch(t0 + 1ms, clock);
    s.finish_fetch(h, true, t0 + 2ms, clock, lim);
    s.clear_held();
    REQUIRE(s.state() == device_sync::phase::live);
    // 20 ms apart, live until +1 s (50 delivered), then an outage of 2 s.
    sys_time t = t0 + 20ms;
    std::size_t delivered_live = 0;
    for (; t < t0 + 1s; t += 20ms) {
        cloud.store(t, hb);
        CHECK(s.on_live(live(cloud, cloud.items.size() - 1, t + 1ms)));
        ++delivered_live;
    }
    CHECK(s.cursor().after == delivered_live);
    CHECK_FALSE(s.cursor().anchor_time); // nothing was in the history at the start
    s.link_down();
    for (; t < t0 + 3s; t += 20ms)
        cloud.store(t, hb);
    const std::size_t missed_end = cloud.items.size();
    s.link_up(t0 + 3s);
    for (; t < t0 + 3s + 200ms; t += 20ms) {
        cloud.store(t, hb);
        s.on_live(live(cloud, cloud.items.size() - 1, t + 1ms));
    }
    const sys_time fetch_at = t;
    s.begin_fetch(fetch_at, clock);
    std::vector<std::size_t> ids;
    auto hist = cloud.history(t0, fetch_at, &ids);
    auto o = apply(s, s.finish_fetch(hist, true, fetch_at + 5ms, clock, lim), ids);
    CHECK(o.gaps.empty());
    std::vector<std::size_t> want;
    for (std::size_t i = delivered_live; i < cloud.items.size(); ++i)
        want.push_back(i);
    CHECK(o.delivered == want);
    CHECK(missed_end > delivered_live);
}

TEST_CASE("stream sync: when the overlap fits several ways, the largest is taken and a gap "
          "reported, nothing is delivered twice",
          "[stream][sync]") {
    sync_limits lim;
    // An uncalibrated clock with a wide tolerance: times cannot separate 5 ms steps.
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    device_sync s(since_cursor(t0));
    s.link_up(t0);
    // The link came up at t0; identical messages stored 5 ms apart from t0 - 50 ms (missed,
    // still in the connect) on; the subscription took effect at t0 + 12 ms.
    for (int i = 0; i < 20; ++i)
        cloud.store(t0 - 50ms + std::chrono::milliseconds(5 * i), "X");
    // Three arrive before the history is asked for, four while it is read; the history
    // is served at +36 ms, so it has two of those four: the true overlap is 5.
    std::vector<std::size_t> later;
    bool fetching = false;
    for (std::size_t i = 0; i < cloud.items.size(); ++i) {
        const auto at = sys_time(cloud.items[i].time.time_since_epoch());
        if (at < t0 + 12ms)
            continue;
        if (!fetching && at > t0 + 26ms) {
            s.begin_fetch(t0 + 27ms, clock);
            fetching = true;
        }
        s.on_live(live(cloud, i, at + 1ms));
    }
    const std::size_t n_held = s.held().size();
    REQUIRE(n_held == 7);
    std::vector<std::size_t> ids;
    auto h = cloud.history(t0 - 1s, t0 + 36ms, &ids);
    auto steps = s.finish_fetch(h, true, t0 + 61ms, clock, lim);
    auto o = apply(s, steps, ids);
    REQUIRE(o.gaps.size() == 1);
    CHECK(o.gaps[0].reason == gap_reason::ambiguous_overlap);
    REQUIRE(o.gaps[0].from);
    REQUIRE(o.gaps[0].to);
    CHECK(*o.gaps[0].from <= *o.gaps[0].to);
    // No index twice, in order.
    CHECK(std::is_sorted(o.delivered.begin(), o.delivered.end()));
    CHECK(std::adjacent_find(o.delivered.begin(), o.delivered.end()) == o.delivered.end());
    // The largest overlap (7) was taken: what it may have skipped is inside the gap.
    std::vector<std::size_t> missing; // of those from the start on (t0: index 10)
    for (std::size_t i = 10; i < cloud.items.size(); ++i)
        if (std::find(o.delivered.begin(), o.delivered.end(), i) == o.delivered.end())
            missing.push_back(i);
    CHECK(missing == std::vector<std::size_t>{11, 12});
    for (std::size_t i : missing) {
        CHECK(cloud.items[i].time >= *o.gaps[0].from);
        CHECK(cloud.items[i].time <= *o.gaps[0].to);
    }
    CHECK(o.delivered.size() >= n_held);
}

TEST_CASE("stream sync: distinct payloads and a calibrated clock place the overlap exactly",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    clock.sample(2ms);
    fake_cloud cloud;
    device_sync s(since_cursor(t0 - 10s));
    s.link_up(t0);
    for (int i = 0; i < 30; ++i)
        cloud.store(t0 - 100ms + std::chrono::milliseconds(10 * i), "P" + std::to_string(i % 7));
    for (std::size_t i = 0; i < cloud.items.size(); ++i) {
        const auto at = sys_time(cloud.items[i].time.time_since_epoch());
        if (at >= t0 + 3ms)
            s.on_live(live(cloud, i, at + 2ms));
    }
    s.begin_fetch(t0 + 100ms, clock);
    std::vector<std::size_t> ids;
    auto h = cloud.history(t0 - 10s, t0 + 200ms, &ids);
    auto o = apply(s, s.finish_fetch(h, true, t0 + 201ms, clock, lim), ids);
    CHECK(o.gaps.empty());
    std::vector<std::size_t> want(cloud.items.size());
    for (std::size_t i = 0; i < want.size(); ++i)
        want[i] = i;
    CHECK(o.delivered == want);
}

TEST_CASE("stream sync: an anchor the history no longer has is a retention gap", "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    cloud.store(t0, "a");
    cloud.store(t0 + 1s, "b");
    stream_cursor c{dev};
    c.anchor_time = cloud.items[0].time;
    c.anchor_hash = payload_hash(atomcloud::as_bytes(std::string("a")));
    device_sync s(c);
    // The retention evicted "a"; "c" and "d" came while the device was not watched.
    cloud.items.erase(cloud.items.begin());
    cloud.items.erase(cloud.items.begin());
    cloud.store(t0 + 7h, "c");
    cloud.store(t0 + 7h + 1s, "d");
    s.link_up(t0 + 8h);
    s.begin_fetch(t0 + 8h + 2s, clock);
    std::vector<std::size_t> ids;
    auto h = cloud.history(t0, t0 + 8h + 2s, &ids);
    auto o = apply(s, s.finish_fetch(h, true, t0 + 8h + 2s, clock, lim), ids);
    REQUIRE(o.gaps.size() == 1);
    CHECK(o.gaps[0].reason == gap_reason::retention);
    CHECK(o.gaps[0].from == c.anchor_time);
    CHECK(o.gaps[0].to == cloud.items[0].time - std::chrono::microseconds(1));
    CHECK(o.delivered == std::vector<std::size_t>{0, 1});
}

TEST_CASE("stream sync: a start older than the retention with the history not reaching back "
          "is a gap, one the history reaches is not",
          "[stream][sync]") {
    sync_limits lim;
    lim.retention = 6h;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    cloud.store(t0 + 1h, "x");
    {
        device_sync s(since_cursor(t0 - 1h));
        s.link_up(t0 + 6h);
        s.begin_fetch(t0 + 6h + 1s, clock);
        std::vector<std::size_t> ids;
        auto o = apply(
            s,
            s.finish_fetch(cloud.history(t0 - 1h, t0 + 6h, &ids), true, t0 + 6h + 1s, clock, lim),
            ids);
        REQUIRE(o.gaps.size() == 1);
        CHECK(o.gaps[0].reason == gap_reason::retention);
        CHECK(o.delivered == std::vector<std::size_t>{0});
    }
    {
        device_sync s(since_cursor(t0 + 1h));
        s.link_up(t0 + 2h);
        s.begin_fetch(t0 + 2h + 1s, clock);
        std::vector<std::size_t> ids;
        auto o = apply(
            s,
            s.finish_fetch(cloud.history(t0 + 1h, t0 + 2h, &ids), true, t0 + 2h + 1s, clock, lim),
            ids);
        CHECK(o.gaps.empty());
        CHECK(o.delivered == std::vector<std::size_t>{0});
    }
}

TEST_CASE("stream sync: a history that lacks what was received before it was read is a "
          "mismatch gap, and the live messages still come",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    device_sync s(since_cursor(t0));
    s.link_up(t0);
    cloud.store(t0 + 10ms, "q");
    s.on_live(live(cloud, 0, t0 + 11ms));
    s.begin_fetch(t0 + 20ms, clock);
    // A history that does not have "q" (e.g. of another device with the same number).
    auto o = apply(s, s.finish_fetch({}, true, t0 + 30ms, clock, lim), {});
    REQUIRE(o.gaps.size() == 1);
    CHECK(o.gaps[0].reason == gap_reason::history_mismatch);
    CHECK(o.delivered == std::vector<std::size_t>{0});
}

TEST_CASE("stream sync: a history newer than the live messages leaves the rest to the link, and "
          "the cursor is the last delivered message's place",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    device_sync s(since_cursor(t0));
    s.link_up(t0);
    // a0..a4 are stored 10 ms apart; live delivery lags: only a0..a2 have arrived when the
    // history, which has all five, is answered.
    for (int i = 0; i < 5; ++i)
        cloud.store(t0 + std::chrono::milliseconds(10 * (i + 1)), "a" + std::to_string(i));
    s.on_live(live(cloud, 0, t0 + 15ms));
    s.on_live(live(cloud, 1, t0 + 25ms));
    s.begin_fetch(t0 + 30ms, clock);
    s.on_live(live(cloud, 2, t0 + 35ms));
    std::vector<std::size_t> ids;
    auto o = apply(
        s, s.finish_fetch(cloud.history(t0, t0 + 60ms, &ids), true, t0 + 62ms, clock, lim), ids);
    CHECK(o.gaps.empty());
    CHECK(o.delivered == std::vector<std::size_t>{0, 1, 2});
    CHECK(s.cursor().anchor_time == cloud.items[2].time);
    CHECK(s.cursor().after == 0);
    s.clear_held();
    // a3 and a4 arrive over the link, once.
    CHECK(s.on_live(live(cloud, 3, t0 + 70ms)));
    CHECK(s.on_live(live(cloud, 4, t0 + 71ms)));
    CHECK(s.cursor().after == 2);

    // Saved and restarted: it continues exactly after a4.
    cloud.store(t0 + 1s, "a5");
    auto o2 = restart_from(s.cursor(), cloud, t0, t0 + 2s, clock, lim);
    CHECK(o2.gaps.empty());
    CHECK(o2.delivered == std::vector<std::size_t>{5});
}

TEST_CASE("stream sync: held messages the history cannot place leave the cursor without a "
          "place: a restart reports a gap and repeats nothing",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    device_sync s(since_cursor(t0));
    s.link_up(t0 + 1s);
    cloud.store(t0 + 100ms, "h0");
    cloud.store(t0 + 200ms, "h1");
    // "q" arrives live, but the history answered has it nowhere.
    cloud.store(t0 + 1100ms, "q");
    s.on_live(live(cloud, 2, t0 + 1101ms));
    s.begin_fetch(t0 + 1200ms, clock);
    std::vector<std::size_t> ids;
    auto o = apply(
        s, s.finish_fetch(cloud.history(t0, t0 + 300ms, &ids), true, t0 + 1300ms, clock, lim), ids);
    REQUIRE(o.gaps.size() == 1);
    CHECK(o.gaps[0].reason == gap_reason::history_mismatch);
    CHECK(o.delivered == std::vector<std::size_t>{2});
    CHECK_FALSE(s.cursor().anchor_time);
    CHECK_FALSE(s.cursor().since);
    CHECK(s.cursor().after == 0);

    auto o2 = restart_from(s.cursor(), cloud, t0, t0 + 5s, clock, lim);
    REQUIRE(o2.gaps.size() == 1);
    CHECK(o2.delivered.empty()); // "q" is not delivered again
}

TEST_CASE("stream sync: a cursor whose count disagrees with the history skips what it counted: "
          "a gap, never a message twice",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    for (int i = 0; i < 8; ++i)
        cloud.store(t0 + std::chrono::milliseconds(10 * i), "m" + std::to_string(i));
    // Anchored on m1, three delivered after it, but the last of them was not m4.
    stream_cursor c{dev};
    c.anchor_time = cloud.items[1].time;
    c.anchor_hash = payload_hash(atomcloud::as_bytes(cloud.items[1].payload));
    c.after = 3;
    c.last_hash = 0x0123456789abcdefULL;
    device_sync s(c);
    s.link_up(t0 + 1s);
    s.begin_fetch(t0 + 1s, clock);
    std::vector<std::size_t> ids;
    auto o =
        apply(s, s.finish_fetch(cloud.history(t0, t0 + 1s, &ids), true, t0 + 1s, clock, lim), ids);
    REQUIRE(o.gaps.size() == 1);
    CHECK(o.gaps[0].reason == gap_reason::history_mismatch);
    CHECK(o.delivered == std::vector<std::size_t>{5, 6, 7});
}

TEST_CASE("stream sync: abandoning a backfill reports a gap, delivers the held messages and "
          "finds its place again from what was delivered",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    device_sync s(since_cursor(t0));
    s.link_up(t0);
    for (int i = 0; i < 3; ++i) {
        cloud.store(t0 + std::chrono::milliseconds(10 * (i + 1)), "v" + std::to_string(i));
        s.on_live(
            live(cloud, cloud.items.size() - 1, t0 + std::chrono::milliseconds(10 * (i + 1) + 1)));
    }
    auto steps =
        s.abandon(gap_reason::history_error, make_error_code(atomcloud::api_errc::not_found));
    auto o = apply(s, steps, {});
    REQUIRE(o.gaps.size() == 1);
    CHECK(o.gaps[0].reason == gap_reason::history_error);
    CHECK(o.gaps[0].ec == atomcloud::api_errc::not_found);
    CHECK(o.delivered == std::vector<std::size_t>{0, 1, 2});
    s.clear_held();
    CHECK_FALSE(s.cursor().anchor_time);
    CHECK_FALSE(s.cursor().since);
    // Later: an outage; the delivered messages (distinct payloads) are found in the history.
    s.link_down();
    cloud.store(t0 + 100ms, "v3");
    s.link_up(t0 + 1s);
    s.begin_fetch(t0 + 2s, clock);
    std::vector<std::size_t> ids;
    auto again = apply(
        s, s.finish_fetch(cloud.history(t0 - 5s, t0 + 2s, &ids), true, t0 + 2s, clock, lim), ids);
    CHECK(again.gaps.empty());
    CHECK(again.delivered == std::vector<std::size_t>{3});
}

TEST_CASE("stream sync: a cursor carried to a new machine continues exactly after it",
          "[stream][sync]") {
    sync_limits lim;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    for (int i = 0; i < 10; ++i)
        cloud.store(t0 + std::chrono::milliseconds(i), "same"); // identical, 1 ms apart
    device_sync first(since_cursor(t0));
    first.link_up(t0 + 100ms);
    first.begin_fetch(t0 + 2s, clock);
    std::vector<std::size_t> ids;
    auto o1 =
        apply(first,
              first.finish_fetch(cloud.history(t0, t0 + 2s, &ids), true, t0 + 2s, clock, lim), ids);
    CHECK(o1.delivered.size() == 10);
    first.clear_held();
    for (int i = 0; i < 5; ++i) {
        cloud.store(t0 + 3s + std::chrono::milliseconds(i), "same");
        first.on_live(live(cloud, cloud.items.size() - 1, t0 + 3s + 1ms * (i + 1)));
    }
    // Saved, the process ends; five more are sent meanwhile.
    auto saved = stream_cursor::parse(first.cursor().to_string());
    REQUIRE(saved);
    CHECK(saved->after == 5);
    for (int i = 0; i < 5; ++i)
        cloud.store(t0 + 4s + std::chrono::milliseconds(i), "same");
    auto o2 = restart_from(*saved, cloud, t0, t0 + 11s, clock, lim);
    CHECK(o2.gaps.empty());
    CHECK(o2.delivered == std::vector<std::size_t>{15, 16, 17, 18, 19});
}

namespace {

// A whole run against a simulated cloud: a device sending at `hz` with payloads from a
// small alphabet (heartbeats among them), links that drop at random and come back after
// 0.1-30 s, deliveries 0-3 ms late, history requests taking 5-80 ms. Returns the delivered
// indices and the gaps.
struct sim_result {
    std::vector<std::size_t> delivered;
    std::size_t gaps = 0;
    std::size_t stored = 0;
    std::size_t outages = 0;
};

sim_result simulate(std::uint64_t seed, int hz, std::chrono::seconds length,
                    std::int64_t jitter_us = 3000) {
    std::mt19937_64 rng(seed);
    auto uni = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    sync_limits lim;
    lim.settle_messages = 8;
    lim.settle_time = 1500ms;
    clock_model clock(2000ms, 50ms);
    fake_cloud cloud;
    const std::vector<std::string> alphabet = {"ALIENTEK-HRTDT", "t=21", "t=22",
                                               "t=23",           "ok",   "t=21 h=40"};
    device_sync s(since_cursor(t0));
    sim_result r;

    const auto period = std::chrono::microseconds(1'000'000 / hz);
    sys_time next_msg = t0 + std::chrono::milliseconds(uni(0, 20));
    sys_time link_change = t0;
    bool up = false;
    sys_time sub_effective = sys_time::max();
    std::optional<sys_time> fetch_done;
    sys_time fetch_served{};
    sys_time fetch_from{};
    sys_time last_received = t0;
    const sys_time end = t0 + length;

    auto deliver = [&](const std::vector<sync_step>& steps, const std::vector<std::size_t>& ids) {
        auto o = apply(s, steps, ids);
        r.delivered.insert(r.delivered.end(), o.delivered.begin(), o.delivered.end());
        r.gaps += o.gaps.size();
        s.clear_held();
    };

    for (sys_time now = t0; now < end;) {
        // The next event: a message, a link change, or the end of a history request.
        sys_time next = std::min(next_msg, link_change);
        if (fetch_done)
            next = std::min(next, *fetch_done);
        if (s.state() == device_sync::phase::settling)
            next = std::min(next, *s.settle_deadline(lim));
        now = std::max(now, next);
        if (now >= end)
            break;
        if (now == link_change) {
            if (up) {
                s.link_down();
                up = false;
                fetch_done.reset();
                ++r.outages;
                link_change = now + std::chrono::milliseconds(uni(100, 30'000));
            } else {
                s.link_up(now);
                up = true;
                sub_effective = now + std::chrono::microseconds(uni(0, 5000 + jitter_us));
                link_change = now + std::chrono::milliseconds(uni(200, 20'000));
            }
        }
        if (now == next_msg) {
            cloud.store(now, alphabet[static_cast<std::size_t>(uni(0, 5))]);
            next_msg = now + period;
            if (up && now >= sub_effective) {
                const sys_time rec =
                    std::max(last_received, now + std::chrono::microseconds(uni(0, jitter_us)));
                last_received = rec;
                if (s.on_live(live(cloud, cloud.items.size() - 1, rec)))
                    r.delivered.push_back(cloud.items.size() - 1);
            }
        }
        if (fetch_done && now >= *fetch_done) {
            fetch_done.reset();
            std::vector<std::size_t> ids;
            auto h = cloud.history(fetch_from, fetch_served, &ids);
            deliver(s.finish_fetch(h, true, now, clock, lim), ids);
        }
        if (up && !fetch_done && s.ready_to_fetch(now, lim)) {
            fetch_from = s.begin_fetch(now, clock);
            const auto rtt = std::chrono::milliseconds(uni(5, 80));
            fetch_served = now + rtt / 2;
            fetch_done = now + rtt;
        }
    }
    r.stored = cloud.items.size();
    // What arrived after the last backfill but while the link was up is delivered; what
    // was sent while the link was down at the end is not yet: compare the prefix.
    return r;
}

} // namespace

TEST_CASE("stream sync: random outages, delays and repeated payloads: every message once, in "
          "order",
          "[stream][sync][property]") {
    // ATOMCLOUD_PROPERTY_SEEDS=N runs N seeds instead of 24 (scripts/soak.sh documents it).
    std::uint64_t seeds = 24;
    if (const char* n = std::getenv("ATOMCLOUD_PROPERTY_SEEDS"))
        seeds = std::max<std::uint64_t>(1, std::strtoull(n, nullptr, 10));
    // ATOMCLOUD_PROPERTY_JITTER_US: the most a live message is late (3 ms by default).
    std::int64_t jitter_us = 3000;
    if (const char* j = std::getenv("ATOMCLOUD_PROPERTY_JITTER_US"))
        jitter_us = std::max<std::int64_t>(0, std::strtoll(j, nullptr, 10));
    std::size_t total = 0, outages = 0;
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
        const int hz = 20 + static_cast<int>(seed * 7 % 81);
        auto r = simulate(seed, hz, std::chrono::seconds(120), jitter_us);
        INFO("seed " << seed << " at " << hz << " Hz: " << r.delivered.size() << " of " << r.stored
                     << " delivered, " << r.outages << " outages");
        CHECK(r.gaps == 0);
        // Exactly 0, 1, 2 ... k: in order, none twice, none missing up to the last one.
        bool exact = true;
        for (std::size_t i = 0; i < r.delivered.size() && exact; ++i)
            exact = r.delivered[i] == i;
        CHECK(exact);
        CHECK(r.delivered.size() > r.stored / 4);
        total += r.delivered.size();
        outages += r.outages;
    }
    CHECK(outages > 24);
    CHECK(total > 10000);
}
