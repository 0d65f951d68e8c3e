// The history walk's logic, fed by a simulated server whose history changes between pages.
#include <atomcloud/detail/history_cursor.hpp>
#include <atomcloud/payload.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using atomcloud::client_errc;
using atomcloud::error_code;
using atomcloud::history_walk_options;
using atomcloud::packet;
using atomcloud::packet_page;
using atomcloud::packet_time;
using atomcloud::detail::history_cursor;

namespace {

const packet_time t0{std::chrono::seconds(1533978000)}; // 2018-08-11 17:00:00 +08:00

packet make_packet(packet_time t, const std::string& text) {
    packet p;
    p.time = t;
    p.payload = atomcloud::to_bytes(text);
    p.hex = atomcloud::to_hex_packet(p.payload);
    p.length = p.payload.size();
    return p;
}

// A history as the platform keeps it: newest first, start/end filters on whole seconds
// (inclusive), pages of `limit`.
struct fake_history {
    std::vector<packet> items; // any order; sorted on each query

    packet_page query(const atomcloud::packet_query& q) const {
        std::vector<packet> sorted = items;
        std::stable_sort(sorted.begin(), sorted.end(),
                         [](const packet& a, const packet& b) { return a.time > b.time; });
        std::vector<packet> selected;
        for (const auto& p : sorted) {
            if (q.end && p.time > *q.end)
                continue;
            if (q.start && p.time < std::chrono::floor<std::chrono::seconds>(*q.start))
                continue;
            selected.push_back(p);
        }
        const std::int64_t limit = q.limit.value_or(30);
        const std::int64_t page = q.page.value_or(1);
        packet_page out;
        out.current_page = page;
        out.page_limit = limit;
        out.total_item = static_cast<std::int64_t>(selected.size());
        out.total_page = (out.total_item + limit - 1) / limit;
        for (std::int64_t i = (page - 1) * limit; i < page * limit && i < out.total_item; ++i)
            out.items.push_back(selected[static_cast<std::size_t>(i)]);
        return out;
    }

    void add(packet_time t, const std::string& text) { items.push_back(make_packet(t, text)); }

    // Drops the n oldest packets (retention).
    void evict_oldest(std::size_t n) {
        std::stable_sort(items.begin(), items.end(),
                         [](const packet& a, const packet& b) { return a.time > b.time; });
        items.resize(items.size() - std::min(n, items.size()));
    }
};

struct walk_result {
    std::vector<packet> yielded;
    std::size_t pages = 0;
    error_code ec;
};

// Runs a whole walk; `between(page_number)` may change the history after each page.
walk_result walk(fake_history& h, history_walk_options opts,
                 const std::function<void(std::size_t)>& between = {}) {
    history_cursor c(std::move(opts));
    walk_result r;
    while (!c.done()) {
        c.feed(h.query(c.next_query()), r.yielded, r.ec);
        ++r.pages;
        if (between)
            between(r.pages);
        REQUIRE(r.pages < 10000);
    }
    return r;
}

std::vector<std::string> texts(const std::vector<packet>& ps) {
    std::vector<std::string> out;
    for (const auto& p : ps)
        out.emplace_back(atomcloud::as_chars(p.payload));
    return out;
}

std::multimap<std::pair<packet_time, std::string>, int> as_multiset(const std::vector<packet>& ps) {
    std::multimap<std::pair<packet_time, std::string>, int> out;
    for (const auto& p : ps)
        out.emplace(std::make_pair(p.time, p.hex), 0);
    return out;
}

bool newest_first(const std::vector<packet>& ps) {
    for (std::size_t i = 1; i < ps.size(); ++i)
        if (ps[i - 1].time < ps[i].time)
            return false;
    return true;
}

} // namespace

TEST_CASE("history walk: a static history, every packet once, in order", "[rest][history]") {
    fake_history h;
    for (int i = 0; i < 250; ++i)
        h.add(t0 + std::chrono::milliseconds(1500 * i), "m" + std::to_string(i));
    history_walk_options opts;
    opts.page_size = 100;
    const auto r = walk(h, opts);
    CHECK_FALSE(r.ec);
    CHECK(r.pages == 3);
    REQUIRE(r.yielded.size() == 250);
    CHECK(texts(r.yielded).front() == "m249");
    CHECK(texts(r.yielded).back() == "m0");
    CHECK(newest_first(r.yielded));
    CHECK(as_multiset(r.yielded) == as_multiset(h.items));
}

TEST_CASE("history walk: the query the cursor sends", "[rest][history]") {
    history_walk_options opts;
    opts.page_size = 5000; // clamped
    opts.start = std::chrono::system_clock::time_point(t0.time_since_epoch());
    history_cursor c(opts);
    auto q = c.next_query();
    CHECK(q.page == 1u);
    CHECK(q.limit == 1000u);
    CHECK(q.start == opts.start);
    CHECK_FALSE(q.end); // fixed by the first page

    packet_page first;
    first.current_page = 1;
    first.total_page = 3;
    first.total_item = 3;
    first.items.push_back(make_packet(t0 + 90s + 250ms, "newest"));
    std::vector<packet> out;
    error_code ec;
    c.feed(first, out, ec); // a short page ends the walk...
    CHECK(c.done());

    opts.page_size = 1;
    history_cursor d(opts);
    d.feed(first, out, ec);
    REQUIRE_FALSE(d.done());
    q = d.next_query();
    CHECK(q.page == 2u);
    REQUIRE(q.end);
    // ...and the end is the newest packet's time rounded up to the whole second.
    CHECK(*q.end == std::chrono::system_clock::time_point((t0 + 91s).time_since_epoch()));

    history_walk_options with_end;
    with_end.end = std::chrono::system_clock::time_point((t0 + 10s).time_since_epoch());
    CHECK(history_cursor(with_end).next_query().end == with_end.end);
    with_end.end = *with_end.end + 1ms;
    CHECK(history_cursor(with_end).next_query().end ==
          std::chrono::system_clock::time_point((t0 + 11s).time_since_epoch()));
}

TEST_CASE("history walk: new packets arriving while paging are not repeated", "[rest][history]") {
    fake_history h;
    for (int i = 0; i < 95; ++i)
        h.add(t0 + std::chrono::seconds(i), "old" + std::to_string(i));
    const auto original = h.items;
    history_walk_options opts;
    opts.page_size = 10;
    int added = 0;
    // After every page, 3 new packets: newer than the walk's end.
    const auto r = walk(h, opts, [&](std::size_t) {
        for (int k = 0; k < 3; ++k)
            h.add(t0 + 200s + std::chrono::seconds(added++), "new");
    });
    CHECK_FALSE(r.ec);
    REQUIRE(r.yielded.size() == 95);
    CHECK(as_multiset(r.yielded) == as_multiset(original));
    CHECK(newest_first(r.yielded));
}

TEST_CASE("history walk: arrivals inside the window shift pages, no repeats, no losses",
          "[rest][history]") {
    // The caller's end lies in the future: every arrival lands inside the window and
    // shifts the pages the walk has not read yet.
    fake_history h;
    for (int i = 0; i < 100; ++i)
        h.add(t0 + std::chrono::seconds(i), "old" + std::to_string(i));
    const auto original = h.items;
    history_walk_options opts;
    opts.page_size = 10;
    opts.end = std::chrono::system_clock::time_point((t0 + 1h).time_since_epoch());
    int added = 0;
    const auto r = walk(h, opts, [&](std::size_t page) {
        for (std::size_t k = 0; k < page % 4; ++k) // 0..3 arrivals per page
        {
            h.add(t0 + 150s + std::chrono::seconds(added), "new" + std::to_string(added));
            ++added;
        }
    });
    CHECK_FALSE(r.ec);
    // The originals, each once; arrivals newer than what was already yielded are not.
    REQUIRE(r.yielded.size() == 100);
    CHECK(as_multiset(r.yielded) == as_multiset(original));
    CHECK(newest_first(r.yielded));
}

TEST_CASE("history walk: equal timestamps across page boundaries", "[rest][history]") {
    fake_history h;
    // 7 packets per timestamp, some with identical bytes, over 6 timestamps.
    for (int t = 0; t < 6; ++t)
        for (int k = 0; k < 7; ++k)
            h.add(t0 + std::chrono::seconds(t), k < 3 ? "same" : "p" + std::to_string(k));
    const auto original = h.items;
    history_walk_options opts;
    opts.page_size = 5;

    SECTION("static: identical packets are all yielded") {
        const auto r = walk(h, opts);
        CHECK_FALSE(r.ec);
        REQUIRE(r.yielded.size() == original.size());
        CHECK(as_multiset(r.yielded) == as_multiset(original));
    }
    SECTION("arrivals at the newest timestamp shift every page by one") {
        opts.end = std::chrono::system_clock::time_point((t0 + 5s).time_since_epoch());
        int n = 0;
        const auto r = walk(h, opts, [&](std::size_t) {
            h.add(t0 + 5s, "late" + std::to_string(n++)); // distinct bytes at the end time
        });
        CHECK_FALSE(r.ec);
        // Nothing twice; every original with distinct bytes present.
        const auto got = as_multiset(r.yielded);
        for (const auto& p : original)
            if (atomcloud::as_chars(p.payload) != "same")
                CHECK(got.count({p.time, p.hex}) == 1);
        for (const auto& [key, _] : got)
            CHECK(got.count(key) <= as_multiset(h.items).count(key));
        CHECK(newest_first(r.yielded));
    }
}

TEST_CASE("history walk: eviction of the oldest packets while paging", "[rest][history]") {
    fake_history h;
    for (int i = 0; i < 100; ++i)
        h.add(t0 + std::chrono::seconds(i), "m" + std::to_string(i));
    history_walk_options opts;
    opts.page_size = 10;
    const auto r = walk(h, opts, [&](std::size_t page) {
        if (page == 2)
            h.evict_oldest(25);
    });
    CHECK_FALSE(r.ec);
    // Everything but the 25 evicted before the walk reached them, each once.
    REQUIRE(r.yielded.size() == 75);
    CHECK(texts(r.yielded).front() == "m99");
    CHECK(texts(r.yielded).back() == "m25");
    CHECK(as_multiset(r.yielded) == as_multiset(h.items));
}

TEST_CASE("history walk: heartbeats skipped on request", "[rest][history]") {
    fake_history h;
    for (int i = 0; i < 40; ++i)
        h.add(t0 + std::chrono::seconds(i),
              i % 2 ? std::string(atomcloud::default_heartbeat) : "data" + std::to_string(i));
    history_walk_options opts;
    opts.page_size = 7;
    opts.skip_heartbeats = true;
    auto r = walk(h, opts);
    CHECK_FALSE(r.ec);
    REQUIRE(r.yielded.size() == 20);
    for (const auto& p : r.yielded)
        CHECK_FALSE(atomcloud::is_heartbeat(p.payload));

    opts.heartbeat = "data0"; // a device configured with another heartbeat
    r = walk(h, opts);
    CHECK(r.yielded.size() == 39);
}

TEST_CASE("history walk: the time window", "[rest][history]") {
    fake_history h;
    for (int i = 0; i < 60; ++i)
        h.add(t0 + std::chrono::seconds(i) + 500ms, "m" + std::to_string(i));
    history_walk_options opts;
    opts.page_size = 8;
    opts.start = std::chrono::system_clock::time_point((t0 + 10s + 500ms).time_since_epoch());
    opts.end = std::chrono::system_clock::time_point((t0 + 20s + 500ms).time_since_epoch());
    const auto r = walk(h, opts);
    CHECK_FALSE(r.ec);
    REQUIRE(r.yielded.size() == 11); // m10..m20, exact bounds, inclusive
    CHECK(texts(r.yielded).front() == "m20");
    CHECK(texts(r.yielded).back() == "m10");

    opts.start = opts.end.value() + 1s; // empty window: nothing requested
    history_cursor c(opts);
    CHECK(c.done());
}

TEST_CASE("history walk: termination", "[rest][history]") {
    history_walk_options opts;
    opts.page_size = 10;
    std::vector<packet> out;
    error_code ec;

    SECTION("empty history") {
        fake_history h;
        const auto r = walk(h, opts);
        CHECK(r.pages == 1);
        CHECK(r.yielded.empty());
        CHECK_FALSE(r.ec);
    }
    SECTION("an exact multiple of the page size stops at total_page") {
        fake_history h;
        for (int i = 0; i < 30; ++i)
            h.add(t0 + std::chrono::seconds(i), "x");
        const auto r = walk(h, opts);
        CHECK(r.pages == 3);
        CHECK(r.yielded.size() == 30);
    }
    SECTION("a server that always returns a full page stops at max_pages") {
        opts.max_pages = 5;
        history_cursor c(opts);
        int n = 0;
        while (!c.done()) {
            packet_page page; // no total_page: only the page limit can stop it
            for (int i = 0; i < 10; ++i)
                page.items.push_back(make_packet(t0 - std::chrono::seconds(n++), "x"));
            c.feed(page, out, ec);
        }
        CHECK(ec == client_errc::too_many_pages);
        CHECK(c.pages() == 5);
        CHECK(out.size() == 50);
    }
    SECTION("a server repeating the same page forever") {
        opts.max_pages = 20;
        history_cursor c(opts);
        packet_page page;
        page.total_page = 1000;
        for (int i = 0; i < 10; ++i)
            page.items.push_back(make_packet(t0 - std::chrono::seconds(i), "x"));
        while (!c.done())
            c.feed(page, out, ec);
        CHECK(ec == client_errc::too_many_pages);
        CHECK(c.pages() == 20);
    }
}
