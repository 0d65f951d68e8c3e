// atomcloud::stream against the in-process emulator over verified TLS: devices sending at
// 20-100 Hz with repeated payloads, WebSocket links dropped at random (some refused for a
// while), REST faults while backfilling; what the stream delivers must be exactly what
// each device sent (the emulator's ground-truth log), in order, each message once.
// Also: an outage longer than the retention is a gap, and a stream restarted from saved
// cursors continues exactly where the first one stopped.
//
// ATOMCLOUD_STREAM_SECONDS=N runs the chaos case for N seconds (8 by default).
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/stream.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include "../run_until.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace atomcloud;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

const std::vector<std::string> dtu_numbers = {"18846494908532689575", "27309143566123801957",
                                              "84021677359012846630"};
const std::string nbiot_number = "b6d85634-9d34-4052-80cd-b840b75cb910";
const std::vector<std::string> alphabet = {"ALIENTEK-HRTDT", "t=21", "t=22", "ok", "t=21 h=40"};

struct got_message {
    std::string payload;
    message_origin origin;
    std::optional<packet_time> cloud_time;
};

// Receives everything a stream delivers, copying payloads out.
struct collector {
    explicit collector(stream& s) : st(s) {}
    stream& st;
    std::map<std::string, std::vector<got_message>> messages;
    std::vector<stream_gap> gaps;
    std::map<std::string, stream_cursor> cursors;
    std::size_t links_up = 0;
    error_code end;
    bool done = false;

    void start() {
        st.async_receive([this](error_code ec, stream_batch b) { on(ec, std::move(b)); });
    }
    void on(error_code ec, stream_batch b) {
        if (ec) {
            end = ec;
            done = true;
            return;
        }
        for (const stream_event& ev : b) {
            if (auto* m = std::get_if<stream_message>(&ev))
                messages[std::string(device_text(m->device))].push_back(
                    {std::string(m->payload.begin(), m->payload.end()), m->origin, m->cloud_time});
            else if (auto* g = std::get_if<stream_gap>(&ev))
                gaps.push_back(*g);
            else if (std::holds_alternative<session_connected>(ev))
                ++links_up;
        }
        for (const auto& c : b.cursors())
            cursors.insert_or_assign(std::string(device_text(c.device)), c);
        start();
    }
    std::size_t count(const std::string& number) const {
        auto it = messages.find(number);
        return it == messages.end() ? 0 : it->second.size();
    }
};

config fast_config(const emulator::server& cloud) {
    config cfg = cloud.client_config();
    cfg.session.reconnect.initial_delay = 50ms;
    cfg.session.reconnect.max_delay = 400ms;
    cfg.retry.backoff.initial_delay = 20ms;
    cfg.retry.backoff.max_delay = 100ms;
    return cfg;
}

stream_options fast_options() {
    stream_options o;
    o.settle_time = 400ms;
    o.retry.initial_delay = 50ms;
    o.retry.max_delay = 500ms;
    return o;
}

using atomcloud_test::run_until;

// Devices sending on their own thread at their own rates until stopped.
class senders {
public:
    senders(emulator::server& cloud, std::vector<std::pair<std::string, int>> rates,
            std::uint64_t seed)
        : thread_([this, &cloud, rates, seed] {
              std::mt19937_64 rng(seed);
              std::vector<emulator::device_handle> devs;
              std::vector<std::chrono::steady_clock::time_point> next;
              for (const auto& r : rates) {
                  devs.push_back(cloud.device(r.first));
                  next.push_back(std::chrono::steady_clock::now());
              }
              while (!stop_) {
                  const auto now = std::chrono::steady_clock::now();
                  for (std::size_t i = 0; i < devs.size(); ++i)
                      if (now >= next[i]) {
                          devs[i].send(alphabet[rng() % alphabet.size()]);
                          ++sent_;
                          next[i] += std::chrono::microseconds(1'000'000 / rates[i].second);
                      }
                  std::this_thread::sleep_for(1ms);
              }
          }) {}
    ~senders() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    std::size_t sent() const { return sent_; }

private:
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> sent_{0};
    std::thread thread_;
};

// The delivered messages of a device equal what it sent since `from` (index into sent()).
void check_exact(emulator::server& cloud, const std::vector<got_message>& got,
                 const std::string& number, std::size_t from = 0) {
    const auto truth = cloud.device(number).sent();
    REQUIRE(truth.size() >= from);
    INFO(number << ": " << got.size() << " delivered, " << truth.size() - from << " sent");
    REQUIRE(got.size() == truth.size() - from);
    std::size_t wrong = 0, wrong_time = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const auto& t = truth[from + i];
        if (got[i].payload != std::string(t.payload.begin(), t.payload.end()))
            ++wrong;
        if (got[i].cloud_time && *got[i].cloud_time != t.time)
            ++wrong_time;
    }
    CHECK(wrong == 0);
    CHECK(wrong_time == 0);
}

} // namespace

TEST_CASE("stream: random link drops and REST faults while devices send at 20-100 Hz: "
          "exactly what each device sent, in order, once",
          "[stream][integration]") {
    int seconds = 8;
    if (const char* s = std::getenv("ATOMCLOUD_STREAM_SECONDS"))
        seconds = std::max(1, std::atoi(s));
    const auto seed =
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);

    emulator::server cloud;
    for (const auto& n : dtu_numbers)
        cloud.device(n).connect();
    cloud.device(nbiot_number).connect();

    asio::io_context io;
    stream st(io.get_executor(), fast_config(cloud), 1, fast_options());
    for (const auto& n : dtu_numbers)
        st.add(device_number(n));
    st.add(nbiot_id(nbiot_number));
    collector c(st);
    c.start();
    error_code run_ec;
    bool run_done = false;
    st.async_run([&](error_code ec) {
        run_ec = ec;
        run_done = true;
    });
    REQUIRE(run_until(
        io, [&] { return c.links_up >= 1; }, 10s));
    // Let the first backfill (of nothing) settle, so that the truth starts here.
    REQUIRE(run_until(
        io, [&] { return st.status().backfills >= 4; }, 10s));

    std::size_t drops = 0, faults = 0;
    {
        senders send(
            cloud,
            {{dtu_numbers[0], 100}, {dtu_numbers[1], 50}, {dtu_numbers[2], 20}, {nbiot_number, 20}},
            seed);
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        while (std::chrono::steady_clock::now() < end) {
            const auto pause = std::chrono::milliseconds(300 + rng() % 1200);
            run_until(
                io, [] { return false; }, pause);
            switch (rng() % 4) {
            case 0:
                cloud.drop_connections();
                break;
            case 1:
                cloud.drop_connections(std::chrono::milliseconds(100 + rng() % 2000));
                break;
            default: {
                // A REST fault for the backfill that follows the drop.
                emulator::fault f;
                const emulator::fault::kind kinds[] = {
                    emulator::fault::kind::http_status, emulator::fault::kind::close_connection,
                    emulator::fault::kind::truncated_body, emulator::fault::kind::malformed_body,
                    emulator::fault::kind::api_code};
                f.what = kinds[rng() % 5];
                cloud.inject_fault(f, 1 + rng() % 3);
                cloud.drop_connections(std::chrono::milliseconds(rng() % 500));
                ++faults;
                break;
            }
            }
            ++drops;
        }
        send.stop();
    }
    // Everything sent must arrive (the last link is up, faults run out).
    cloud.clear_faults();
    const bool all = run_until(
        io,
        [&] {
            for (const auto& n : dtu_numbers)
                if (c.count(n) < cloud.device(n).sent_count())
                    return false;
            return c.count(nbiot_number) >= cloud.device(nbiot_number).sent_count();
        },
        30s);
    const auto status = st.status();
    INFO("drops " << drops << ", REST faults " << faults << ", live " << status.live
                  << ", backfilled " << status.backfilled << ", overlap " << status.duplicates
                  << ", reconnects " << status.reconnects << ", history failures "
                  << status.history_requests_failed);
    CHECK(all);
    CHECK(c.gaps.empty());
    for (const auto& n : dtu_numbers)
        check_exact(cloud, c.messages[n], n);
    check_exact(cloud, c.messages[nbiot_number], nbiot_number);
    CHECK(status.backfilled > 0);
    CHECK(status.reconnects >= 1);
    st.stop();
    REQUIRE(run_until(
        io, [&] { return run_done && c.done; }, 10s));
    CHECK(run_ec == client_errc::session_stopped);
    CHECK(c.end == client_errc::session_stopped);
}

TEST_CASE("stream: an outage longer than the retention is reported as a gap, and nothing "
          "is delivered twice",
          "[stream][integration]") {
    emulator::options opts;
    opts.retention = std::chrono::seconds(2);
    emulator::server cloud(opts);
    const std::string number = dtu_numbers[0];
    cloud.device(number).connect();

    asio::io_context io;
    auto so = fast_options();
    so.retention = std::chrono::seconds(2);
    stream st(io.get_executor(), fast_config(cloud), 1, so);
    st.add(device_number(number));
    collector c(st);
    c.start();
    st.async_run([](error_code) {});
    REQUIRE(run_until(
        io, [&] { return st.status().backfills >= 1; }, 10s));
    senders send(cloud, {{number, 50}}, 7);
    REQUIRE(run_until(
        io, [&] { return c.count(number) >= 20; }, 10s));
    cloud.drop_connections(3500ms);
    REQUIRE(run_until(
        io, [&] { return !c.gaps.empty(); }, 15s));
    REQUIRE(run_until(
        io, [&] { return c.count(number) >= 300; }, 20s));
    send.stop();
    CHECK(c.gaps.front().reason == gap_reason::retention);
    CHECK(std::get<device_number>(c.gaps.front().device) == device_number(number));
    // Delivered: a subsequence of what was sent, in order, none twice. Cloud times are
    // strictly increasing where known (50 Hz: distinct microseconds).
    const auto& got = c.messages[number];
    std::optional<packet_time> last;
    std::size_t known = 0;
    for (const auto& m : got)
        if (m.cloud_time) {
            if (last)
                CHECK(*m.cloud_time > *last);
            last = m.cloud_time;
            ++known;
        }
    CHECK(known > 10);
    CHECK(got.size() < cloud.device(number).sent_count());
}

TEST_CASE("stream: restarted from the cursors of the last batch it handed over, it continues "
          "exactly where it stopped",
          "[stream][integration]") {
    emulator::server cloud;
    const std::string a = dtu_numbers[0], b = dtu_numbers[1];
    cloud.device(a).connect();
    cloud.device(b).connect();
    std::map<std::string, std::vector<got_message>> before;
    std::map<std::string, stream_cursor> saved;
    std::unique_ptr<senders> send;
    {
        asio::io_context io;
        stream st(io.get_executor(), fast_config(cloud), 1, fast_options());
        st.add(device_number(a));
        st.add(device_number(b));
        collector c(st);
        c.start();
        st.async_run([](error_code) {});
        REQUIRE(run_until(
            io, [&] { return st.status().backfills >= 2; }, 10s));
        send = std::make_unique<senders>(
            cloud, std::vector<std::pair<std::string, int>>{{a, 50}, {b, 30}}, 11);
        REQUIRE(run_until(
            io, [&] { return c.count(a) >= 40 && c.count(b) >= 20; }, 10s));
        // The process ends abruptly: what it has is what the batches handed over, with the
        // cursors that came with them.
        before = c.messages;
        saved = c.cursors;
    }
    REQUIRE(saved.count(a));
    REQUIRE(saved.count(b));
    std::this_thread::sleep_for(1s); // the devices keep sending meanwhile
    {
        asio::io_context io;
        stream st(io.get_executor(), fast_config(cloud), 1, fast_options());
        // Through text, as an application would store them.
        st.add(*stream_cursor::parse(saved.at(a).to_string()));
        st.add(*stream_cursor::parse(saved.at(b).to_string()));
        collector c(st);
        c.start();
        st.async_run([](error_code) {});
        REQUIRE(run_until(
            io, [&] { return c.count(a) >= 40; }, 10s));
        send->stop();
        const bool all = run_until(
            io,
            [&] {
                return before[a].size() + c.count(a) >= cloud.device(a).sent_count() &&
                       before[b].size() + c.count(b) >= cloud.device(b).sent_count();
            },
            15s);
        CHECK(all);
        CHECK(c.gaps.empty());
        std::size_t backfilled = 0;
        for (const auto& m : c.messages[a])
            backfilled += m.origin == message_origin::backfill;
        CHECK(backfilled >= 30); // the second the first process missed
        for (const auto& n : {a, b}) {
            auto merged = before[n];
            merged.insert(merged.end(), c.messages[n].begin(), c.messages[n].end());
            check_exact(cloud, merged, n);
        }
    }
}

namespace {

// A fixture of `n` DTUs in one group of organisation 1.
std::string many_devices_fixture(int n) {
    std::string devices;
    for (int i = 0; i < n; ++i) {
        char number[21];
        std::snprintf(number, sizeof number, "%020d", 10000 + i);
        devices += std::string(i ? "," : "") + R"({"id":)" + std::to_string(1000 + i) +
                   R"(,"device_type":"01","name":"d","number":")" + number + "\"}";
    }
    return R"({"orgs":[{"id":1,"name":"many","groups":[{"id":45,"name":"g","devices":[)" + devices +
           "]}]}]}";
}

} // namespace

TEST_CASE("stream: many devices are backfilled a few at a time, each exactly",
          "[stream][integration]") {
    constexpr int n = 40;
    emulator::options eo;
    eo.fixture_json = many_devices_fixture(n);
    emulator::server cloud(eo);
    const auto numbers = cloud.device_numbers();
    REQUIRE(numbers.size() == n);
    // Each device sent three messages before the stream starts from a minute ago.
    for (const auto& num : numbers) {
        auto d = cloud.device(num);
        d.connect();
        for (int k = 0; k < 3; ++k)
            d.send(num.substr(15) + "/" + std::to_string(k));
    }
    // Every history request takes a while, so that pacing shows.
    emulator::fault slow;
    slow.what = emulator::fault::kind::delay;
    slow.delay = 20ms;
    cloud.inject_fault(slow, 10000);

    asio::io_context io;
    auto so = fast_options();
    so.since = std::chrono::system_clock::now() - 1min;
    so.max_concurrent_backfills = 3;
    stream st(io.get_executor(), fast_config(cloud), 1, so);
    for (const auto& num : numbers)
        st.add(device_number(num));
    collector c(st);
    c.start();
    st.async_run([](error_code) {});
    REQUIRE(run_until(
        io,
        [&] {
            for (const auto& num : numbers)
                if (c.count(num) < 3)
                    return false;
            return true;
        },
        60s));
    CHECK(c.gaps.empty());
    CHECK(st.status().backfills_in_flight_peak == 3);
    CHECK(st.status().backfills >= static_cast<std::size_t>(n));
    for (const auto& num : numbers) {
        check_exact(cloud, c.messages[num], num);
        for (const auto& m : c.messages[num])
            CHECK(m.origin == message_origin::backfill);
    }
}

TEST_CASE("stream: live messages held beyond the limit give up the backfill with a gap, the "
          "stream goes on, nothing twice",
          "[stream][integration]") {
    emulator::server cloud;
    const std::string number = dtu_numbers[0];
    auto dev = cloud.device(number);
    dev.connect();
    asio::io_context io;
    auto so = fast_options();
    so.max_held_messages = 5;
    so.settle_messages = 1000; // hold for the whole settle time
    so.settle_time = 1500ms;
    stream st(io.get_executor(), fast_config(cloud), 1, so);
    st.add(device_number(number));
    collector c(st);
    c.start();
    st.async_run([](error_code) {});
    REQUIRE(run_until(
        io, [&] { return cloud.subscribers(number) == 1; }, 10s));
    for (int i = 0; i < 20; ++i)
        dev.send("n" + std::to_string(i));
    REQUIRE(run_until(
        io, [&] { return !c.gaps.empty() && c.count(number) >= 20; }, 10s));
    CHECK(c.gaps.front().reason == gap_reason::held_overflow);
    CHECK(st.status().held_messages == 0);
    for (int i = 20; i < 30; ++i)
        dev.send("n" + std::to_string(i));
    REQUIRE(run_until(
        io, [&] { return c.count(number) >= 30; }, 10s));
    std::vector<std::string> want;
    for (int i = 0; i < 30; ++i)
        want.push_back("n" + std::to_string(i));
    std::vector<std::string> got;
    for (const auto& m : c.messages[number])
        got.push_back(m.payload);
    CHECK(got == want);
}

TEST_CASE("stream: a device the history API does not know is a history_error gap, the others "
          "are not affected, heartbeats can be left out",
          "[stream][integration]") {
    emulator::server cloud;
    const std::string known = dtu_numbers[0];
    auto dev = cloud.device(known);
    dev.connect();
    asio::io_context io;
    auto so = fast_options();
    so.skip_heartbeats = true;
    stream st(io.get_executor(), fast_config(cloud), 1, so);
    st.add(device_number(known));
    st.add(device_number("99999999999999999999"));
    collector c(st);
    c.start();
    st.async_run([](error_code) {});
    REQUIRE(run_until(
        io, [&] { return !c.gaps.empty(); }, 10s));
    REQUIRE(c.gaps.size() == 1);
    CHECK(c.gaps[0].reason == gap_reason::history_error);
    CHECK(c.gaps[0].ec == api_errc::not_found);
    CHECK(std::get<device_number>(c.gaps[0].device) == device_number("99999999999999999999"));
    REQUIRE(run_until(
        io, [&] { return cloud.subscribers(known) == 1; }, 10s));
    dev.send("ALIENTEK-HRTDT");
    dev.send("a");
    dev.send("ALIENTEK-HRTDT");
    dev.send("b");
    REQUIRE(run_until(
        io, [&] { return c.count(known) >= 2; }, 10s));
    run_until(
        io, [] { return false; }, 200ms);
    REQUIRE(c.messages[known].size() == 2);
    CHECK(c.messages[known][0].payload == "a");
    CHECK(c.messages[known][1].payload == "b");
    // The heartbeats count for the cursor all the same.
    REQUIRE(st.cursor(device_number(known)));
    const auto cur = *st.cursor(device_number(known));
    CHECK(cur.after == 4);
    st.remove(device_number(known));
    CHECK_FALSE(st.cursor(device_number(known)));
    st.stop();
    REQUIRE(run_until(
        io, [&] { return c.done; }, 10s));
}

TEST_CASE("stream: an application that does not receive holds the stream back, nothing is lost",
          "[stream][integration]") {
    emulator::server cloud;
    const std::string number = dtu_numbers[0];
    auto dev = cloud.device(number);
    dev.connect();
    asio::io_context io;
    auto cfg = fast_config(cloud);
    cfg.session.max_pending_events = 50;
    stream st(io.get_executor(), cfg, 1, fast_options());
    st.add(device_number(number));
    st.async_run([](error_code) {});
    REQUIRE(run_until(
        io, [&] { return st.status().backfills >= 1; }, 10s));
    for (int i = 0; i < 400; ++i)
        dev.send("p" + std::to_string(i));
    run_until(
        io, [] { return false; }, 500ms);
    const auto held_back = st.status();
    CHECK(held_back.reading_paused);
    CHECK(held_back.pending_events >= 50);
    CHECK(held_back.pending_events < 400);
    collector c(st);
    c.start();
    REQUIRE(run_until(
        io, [&] { return c.count(number) >= 400; }, 10s));
    std::vector<std::string> got;
    for (const auto& m : c.messages[number])
        got.push_back(m.payload);
    REQUIRE(got.size() == 400);
    for (int i = 0; i < 400; ++i)
        CHECK(got[static_cast<std::size_t>(i)] == "p" + std::to_string(i));
    CHECK_FALSE(st.status().reading_paused);
}
