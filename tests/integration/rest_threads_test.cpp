// rest_client used as docs/threads.md describes: one io_context run by four threads, each
// client created, used and destroyed on its own strand, many requests in flight across
// them, cancellation from the strand; and the synchronous forms called from several
// threads while others run the io_context. scripts/tsan.sh runs these "[threads]" tests
// under ThreadSanitizer.
//
// Catch2's assertions are not thread-safe: handlers only record what they saw (on their
// strand), and the test's thread checks it after a countdown.
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/cancel_after.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>

#include <catch2/catch.hpp>

#include "../log_capture.hpp"
#include "thread_runners.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using atomcloud_test::countdown;
using atomcloud_test::runners;
namespace emu = atomcloud::emulator;
using atomcloud::error_code;

namespace {

constexpr std::int64_t org_id = 1;
constexpr std::int64_t group_official = 45;
constexpr const char* number = "18846494908532689575";
const atomcloud::device_number dev_number{number};
constexpr std::size_t history_size = 5; // messages "m0" .. "m4"

constexpr std::size_t runner_threads = 4;

// One client and its strand. Everything but the strand is touched on the strand only; the
// test's thread reads it after a countdown the strand's handlers signalled.
struct client_slot {
    explicit client_slot(asio::io_context& io) : strand(asio::make_strand(io)) {}

    asio::strand<asio::io_context::executor_type> strand;
    std::optional<atomcloud::rest_client> api;
    std::vector<std::string> problems;
    std::deque<asio::cancellation_signal> signals;
    atomcloud::rest_client::statistics stats;

    void expect(bool ok, const std::string& what) {
        if (!ok)
            problems.push_back(what);
    }
};

std::string all_problems(const std::vector<std::unique_ptr<client_slot>>& clients) {
    std::string out;
    for (std::size_t i = 0; i < clients.size(); ++i)
        for (const auto& p : clients[i]->problems)
            out += "client " + std::to_string(i) + ": " + p + "\n";
    return out;
}

// What request `i` checks its answer against.
std::string check_orgs(const std::vector<atomcloud::org>& orgs) {
    if (orgs.size() != 1 || orgs[0].id != org_id || orgs[0].name != "正点原子")
        return "list_orgs: unexpected answer";
    return {};
}

std::string check_devices(const std::vector<atomcloud::device>& devices) {
    if (devices.size() != 2 || devices[0].id != 146 || devices[0].number != number ||
        devices[1].id != 147 || devices[1].type != atomcloud::device_type::dtu)
        return "list_devices: unexpected answer";
    return {};
}

// Device 146 is connected, 147 disconnected, 150 (NB-IoT) not bound.
std::int64_t state_device(int i) {
    static constexpr std::int64_t ids[] = {146, 147, 150};
    return ids[(i / 4) % 3];
}

std::string check_state(std::int64_t id, const atomcloud::device_state& s) {
    const char* want = id == 146 ? "connected" : id == 147 ? "disconnected" : "notbind";
    if (s.raw != want)
        return "device_state(" + std::to_string(id) + "): '" + s.raw + "', expected '" + want + "'";
    return {};
}

// Pages of two: m4 m3 | m2 m1 | m0.
atomcloud::packet_query page_query(int i) {
    atomcloud::packet_query q;
    q.limit = 2;
    q.page = static_cast<std::uint32_t>(1 + (i / 4) % 3);
    return q;
}

std::string check_page(std::uint32_t page_number, const atomcloud::packet_page& p) {
    const int newest = static_cast<int>(history_size) - 1 - 2 * static_cast<int>(page_number - 1);
    const std::size_t count = page_number == 3 ? 1 : 2;
    bool ok = p.current_page == page_number && p.total_page == 3 &&
              p.total_item == static_cast<std::int64_t>(history_size) && p.items.size() == count;
    for (std::size_t k = 0; ok && k < count; ++k)
        ok = atomcloud::as_chars(p.items[k].payload) ==
                 "m" + std::to_string(newest - static_cast<int>(k)) &&
             p.items[k].number == number;
    if (!ok)
        return "packets page " + std::to_string(page_number) + ": unexpected answer";
    return {};
}

// Starts request `i` on `api` (the kinds take turns: organisations, devices, a device's
// state, a history page), with `slot` for per-operation cancellation. `done` gets the
// error and, when there is none, what was wrong with the answer (empty: it is right).
using request_done = std::function<void(error_code, std::string)>;

void start_request(atomcloud::rest_client& api, int i, asio::cancellation_slot slot,
                   request_done done) {
    switch (i % 4) {
    case 0:
        api.async_list_orgs(asio::bind_cancellation_slot(
            slot, [done](error_code ec, std::vector<atomcloud::org> orgs) {
                done(ec, ec ? std::string() : check_orgs(orgs));
            }));
        break;
    case 1:
        api.async_list_devices(org_id, group_official,
                               asio::bind_cancellation_slot(
                                   slot, [done](error_code ec, std::vector<atomcloud::device> d) {
                                       done(ec, ec ? std::string() : check_devices(d));
                                   }));
        break;
    case 2: {
        const auto id = state_device(i);
        api.async_device_state(org_id, id,
                               asio::bind_cancellation_slot(
                                   slot, [done, id](error_code ec, atomcloud::device_state s) {
                                       done(ec, ec ? std::string() : check_state(id, s));
                                   }));
        break;
    }
    default: {
        const auto q = page_query(i);
        api.async_packets(
            org_id, dev_number, q,
            asio::bind_cancellation_slot(slot, [done, q](error_code ec, atomcloud::packet_page p) {
                done(ec, ec ? std::string() : check_page(*q.page, p));
            }));
        break;
    }
    }
}

std::string describe(int i, const error_code& ec) {
    return "request " + std::to_string(i) + ": " + ec.message();
}

emu::fault delay_fault(std::chrono::milliseconds d) {
    emu::fault f;
    f.what = emu::fault::kind::delay;
    f.delay = d;
    return f;
}

} // namespace

TEST_CASE("rest threads: 240 requests in flight on six strands of an io_context run by four "
          "threads, cancellation from the strands, clients destroyed while idle",
          "[rest][integration][threads]") {
    constexpr std::size_t client_count = 6;
    constexpr int per_client = 40;

    emu::server cloud;
    cloud.device(number).connect();
    for (std::size_t i = 0; i < history_size; ++i)
        cloud.device(number).send("m" + std::to_string(i));

    atomcloud_test::log_capture logs;
    atomcloud::config cfg = cloud.client_config();
    cfg.log = logs.make(); // one sink for every client: called from several threads at once
    // Half of the clients share one TLS context of the application's.
    auto shared_tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    shared_tls->add_certificate_authority(asio::buffer(cloud.ca_pem()));
    shared_tls->set_verify_mode(asio::ssl::verify_peer);

    asio::io_context io;
    std::vector<std::unique_ptr<client_slot>> clients;
    for (std::size_t i = 0; i < client_count; ++i)
        clients.push_back(std::make_unique<client_slot>(io));
    // What the strands' handlers signal; declared before the threads (see runners).
    constexpr int cancel_round = 8;
    countdown answered(client_count * per_client);
    countdown counted(client_count);
    countdown finished(client_count * cancel_round);
    countdown destroyed(client_count);
    runners threads(io, runner_threads);

    // 1. Each client is created on its strand and starts its 40 requests at once: all 240
    //    are started before any of them can complete on its strand.
    for (std::size_t n = 0; n < client_count; ++n) {
        client_slot* c = clients[n].get();
        asio::post(c->strand, [&, c, n] {
            atomcloud::config own = cfg;
            if (n % 2 == 1)
                own.tls.context = shared_tls;
            c->api.emplace(c->strand, std::move(own));
            for (int i = 0; i < per_client; ++i)
                start_request(*c->api, i, {}, [&answered, c, i](error_code ec, std::string bad) {
                    c->expect(!ec, describe(i, ec));
                    c->expect(bad.empty(), bad);
                    answered.done();
                });
        });
    }
    REQUIRE(answered.wait(20s));
    CHECK(all_problems(clients) == "");

    // The pool of each client: at most four connections, kept alive and reused.
    for (auto& slot : clients)
        asio::post(slot->strand, [&counted, c = slot.get()] {
            c->stats = c->api->stats();
            counted.done();
        });
    REQUIRE(counted.wait(5s));
    for (const auto& c : clients) {
        CHECK(c->stats.requests == static_cast<std::uint64_t>(per_client));
        CHECK(c->stats.connections_opened >= 1);
        CHECK(c->stats.connections_opened <= 4);
        CHECK(c->stats.reused + c->stats.connections_opened ==
              static_cast<std::uint64_t>(per_client));
        CHECK(c->stats.retries == 0);
        CHECK(c->stats.reconnects == 0);
    }

    // 2. Cancellation from the strand while requests are in flight. The emulator holds
    //    every answer for 2 s. Of each client's eight requests, two are cancelled by a
    //    signal emitted on the strand right after they started (still starting, waiting
    //    for a connection, connecting or on the wire), two by cancel_after(250 ms) (its
    //    timer runs on the client's strand), and four are left to complete.
    cloud.inject_fault(delay_fault(2s), client_count * cancel_round);
    for (auto& slot : clients) {
        client_slot* c = slot.get();
        asio::post(c->strand, [&finished, c] {
            auto expect_aborted = [&finished, c](int i) {
                return [&finished, c, i](error_code ec, std::string) {
                    c->expect(ec == asio::error::operation_aborted, "cancelled " + describe(i, ec));
                    finished.done();
                };
            };
            for (int i = 0; i < cancel_round; ++i) {
                switch (i % 4) {
                case 0: // cancelled at once, below
                    start_request(*c->api, i, c->signals.emplace_back().slot(), expect_aborted(i));
                    break;
                case 1: // cancelled after 250 ms
                    if (i % 8 == 1)
                        c->api->async_list_orgs(atomcloud::cancel_after(
                            250ms, [f = expect_aborted(i)](
                                       error_code ec, std::vector<atomcloud::org>) { f(ec, {}); }));
                    else
                        c->api->async_packets(
                            org_id, dev_number, page_query(i),
                            atomcloud::cancel_after(
                                250ms, [f = expect_aborted(i)](
                                           error_code ec, atomcloud::packet_page) { f(ec, {}); }));
                    break;
                default: // left alone: answered after the delay
                    start_request(*c->api, i, {},
                                  [&finished, c, i](error_code ec, std::string bad) {
                                      c->expect(!ec, "uncancelled " + describe(i, ec));
                                      c->expect(bad.empty(), bad);
                                      finished.done();
                                  });
                    break;
                }
            }
            // Posted behind the initiations: the cancellation is emitted from the strand,
            // as the rules require, before any of the requests could complete.
            asio::post(c->strand, [c] {
                for (auto& s : c->signals)
                    s.emit(asio::cancellation_type::terminal);
            });
        });
    }
    REQUIRE(finished.wait(20s));
    cloud.clear_faults(); // those of requests cancelled before they reached the emulator
    CHECK(all_problems(clients) == "");

    // 3. The clients, idle now, are destroyed on their strands: their connections close.
    for (auto& slot : clients)
        asio::post(slot->strand, [&destroyed, c = slot.get()] {
            c->api.reset();
            c->signals.clear();
            destroyed.done();
        });
    REQUIRE(destroyed.wait(5s));
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (cloud.status().connections != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    CHECK(cloud.status().connections == 0);
    // Nothing is left behind on the io_context (timers, handlers): the threads run out of work.
    CHECK(threads.finish(10s));
    CHECK(logs.count(cloud.token()) == 0);
}

TEST_CASE("rest threads: synchronous forms from four threads, each client on a strand of an "
          "io_context four other threads run",
          "[rest][integration][threads]") {
    constexpr int users = 4;
    constexpr int calls = 12;

    emu::server cloud;
    cloud.device(number).connect();
    for (std::size_t i = 0; i < history_size; ++i)
        cloud.device(number).send("m" + std::to_string(i));
    atomcloud::config cfg = cloud.client_config();

    asio::io_context io;
    std::vector<std::vector<std::string>> problems(users); // one list per user thread
    {
        runners threads(io, runner_threads);
        std::vector<std::thread> user_threads;
        for (int u = 0; u < users; ++u)
            user_threads.emplace_back([&, u] {
                auto& mine = problems[static_cast<std::size_t>(u)];
                try {
                    atomcloud::rest_client api(asio::make_strand(io), cfg);
                    for (int i = u; i < u + calls; ++i) {
                        std::string bad;
                        switch (i % 4) {
                        case 0:
                            bad = check_orgs(api.list_orgs());
                            break;
                        case 1:
                            bad = check_devices(api.list_devices(org_id, group_official));
                            break;
                        case 2:
                            bad = check_state(state_device(i),
                                              api.device_state(org_id, state_device(i)));
                            break;
                        default: {
                            const auto q = page_query(i);
                            bad = check_page(*q.page, api.packets(org_id, dev_number, q));
                            break;
                        }
                        }
                        if (!bad.empty())
                            mine.push_back(bad);
                    }
                } catch (const std::exception& e) {
                    mine.push_back(std::string("exception: ") + e.what());
                }
            });
        for (auto& t : user_threads)
            t.join();
        CHECK(threads.finish(10s));
    }
    std::string all;
    for (int u = 0; u < users; ++u)
        for (const auto& p : problems[static_cast<std::size_t>(u)])
            all += "user thread " + std::to_string(u) + ": " + p + "\n";
    CHECK(all == "");
}
