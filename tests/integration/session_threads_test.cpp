// atomcloud::session used as docs/threads.md describes: one io_context run by four threads,
// each session created, used and destroyed on its own strand (every member called there);
// devices send from several threads at once while every session receives and sends; then
// all are stopped. Half of the sessions hand each batch to another strand, which reads and
// releases it there while the session goes on receiving (batches that share storage are
// independent objects). scripts/tsan.sh runs these "[threads]" tests under ThreadSanitizer.
//
// Catch2's assertions are not thread-safe: handlers only record what they saw, and the
// test's thread checks it once the threads have stopped.
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include "../log_capture.hpp"
#include "thread_runners.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using atomcloud_test::countdown;
using atomcloud_test::runners;
namespace emu = atomcloud::emulator;
using atomcloud::error_code;

namespace {

// The fixture's DTU/WIFI/4G devices and its NB-IoT device (whose messages reach every
// session of the organisation).
const char* const device_numbers[] = {"18846494908532689575", "27309143566123801957",
                                      "60412895370864217395", "84021677359012846630"};
constexpr std::size_t device_count = 4;
const char* const nbiot_number = "b6d85634-9d34-4052-80cd-b840b75cb910";

constexpr std::size_t session_count = 6;
constexpr std::size_t runner_threads = 4;
constexpr int messages_per_device = 400;
constexpr int nbiot_messages = 20;
constexpr int sends_per_session = 40;
// Each session receives 2 x 400 x ~320 bytes: several 64 KiB blocks of its arena,
// so blocks are released by the consumers and reused while the sessions run.
constexpr std::size_t payload_size = 300;

std::string device_payload(std::size_t device, int k) {
    std::string s = "d" + std::to_string(device) + "-" + std::to_string(k) + ":";
    s.resize(payload_size, static_cast<char>('a' + device));
    return s;
}

std::string nbiot_payload(int k) {
    std::string s = "nb-" + std::to_string(k) + ":";
    s.resize(100, 'n');
    return s;
}

std::string session_payload(std::size_t session, int k) {
    return "s" + std::to_string(session) + "-" + std::to_string(k);
}

// Session i subscribes to devices i % 4 and (i + 1) % 4.
std::vector<std::size_t> devices_of(std::size_t session) {
    return {session % device_count, (session + 1) % device_count};
}

std::size_t subscribers_of(std::size_t device) {
    std::size_t n = 0;
    for (std::size_t s = 0; s < session_count; ++s) {
        const auto d = devices_of(s);
        n += static_cast<std::size_t>(std::count(d.begin(), d.end(), device));
    }
    return n;
}

// One session, its strand, and what it saw.
struct session_slot {
    session_slot(asio::io_context& io, std::size_t i, countdown& received)
        : strand(asio::make_strand(io)), consumer(asio::make_strand(io)), index(i),
          devices(devices_of(i)), all_received(received) {
        for (auto d : devices)
            numbers.emplace_back(device_numbers[d]);
    }

    asio::strand<asio::io_context::executor_type> strand;
    // Where the batches of odd sessions are read and released (another strand).
    asio::strand<asio::io_context::executor_type> consumer;
    std::size_t index;
    std::vector<std::size_t> devices;
    std::vector<atomcloud::device_number> numbers;
    countdown& all_received;

    // On the strand only.
    std::optional<atomcloud::session> s;
    std::optional<error_code> run_result;
    std::optional<error_code> receive_result;
    std::optional<error_code> subscribe_result;
    int sends_ok = 0;
    std::vector<std::string> problems;

    // Where the batches are read: the strand (even sessions) or the consumer (odd ones).
    std::vector<int> next = std::vector<int>(device_count, 0); // next expected k per device
    int next_nbiot = 0;
    int messages = 0;
    bool complete = false;
    int connected_events = 0;
    int disconnected_events = 0;
    error_code disconnect_reason;
    std::vector<std::string> batch_problems;

    bool off_strand() const { return index % 2 == 1; }
    int expected_messages() const {
        return static_cast<int>(devices.size()) * messages_per_device + nbiot_messages;
    }

    // Checks every event of a batch: messages in order, exactly once, from subscribed
    // devices only.
    void take(const atomcloud::event_batch& batch) {
        for (const auto& ev : batch) {
            if (const auto* m = std::get_if<atomcloud::device_message>(&ev)) {
                const auto it = std::find(numbers.begin(), numbers.end(), m->device);
                if (it == numbers.end()) {
                    batch_problems.push_back("message from " + m->device.str());
                    continue;
                }
                const auto d = devices[static_cast<std::size_t>(it - numbers.begin())];
                const int k = next[d]++;
                if (atomcloud::as_chars(m->payload) != device_payload(d, k))
                    batch_problems.push_back("device " + std::to_string(d) + " message " +
                                             std::to_string(k) + " differs");
                ++messages;
            } else if (const auto* n = std::get_if<atomcloud::nbiot_message>(&ev)) {
                const int k = next_nbiot++;
                if (n->device.str() != nbiot_number ||
                    atomcloud::as_chars(n->payload) != nbiot_payload(k))
                    batch_problems.push_back("NB-IoT message " + std::to_string(k) + " differs");
                ++messages;
            } else if (std::holds_alternative<atomcloud::session_connected>(ev)) {
                ++connected_events;
            } else if (const auto* d = std::get_if<atomcloud::session_disconnected>(&ev)) {
                ++disconnected_events;
                disconnect_reason = d->reason;
            } else {
                batch_problems.push_back("unexpected event: " + atomcloud::to_string(ev));
            }
        }
        if (!complete && messages == expected_messages()) {
            complete = true;
            all_received.done();
        }
    }
};

// The receiver of an even session: a coroutine on the session's strand.
asio::awaitable<void> receive_on_strand(session_slot& c, countdown& receive_ended) {
    for (;;) {
        auto [ec, batch] = co_await c.s->async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            c.receive_result = ec;
            receive_ended.done();
            co_return;
        }
        c.take(batch);
        c.s->recycle(std::move(batch));
    }
}

// The receiver of an odd session: callbacks on the session's strand that pass each batch
// to the consumer strand, which reads it and lets it go there.
void receive_to_consumer(session_slot& c, countdown& receive_ended) {
    c.s->async_receive([&c, &receive_ended](error_code ec, atomcloud::event_batch batch) {
        if (ec) {
            c.receive_result = ec;
            receive_ended.done();
            return;
        }
        asio::post(c.consumer, [&c, b = std::move(batch)] { c.take(b); });
        receive_to_consumer(c, receive_ended);
    });
}

std::string all_problems(const std::vector<std::unique_ptr<session_slot>>& sessions) {
    std::string out;
    for (const auto& c : sessions) {
        for (const auto& p : c->problems)
            out += "session " + std::to_string(c->index) + ": " + p + "\n";
        for (const auto& p : c->batch_problems)
            out += "session " + std::to_string(c->index) + ": " + p + "\n";
    }
    return out;
}

} // namespace

TEST_CASE("session threads: six sessions on strands of an io_context run by four threads: "
          "every message received, sends in flight, all stopped",
          "[session][integration][threads]") {
    emu::server cloud;
    for (auto number : device_numbers)
        cloud.device(number).connect();
    cloud.device(nbiot_number).connect();

    atomcloud_test::log_capture logs;
    atomcloud::config cfg = cloud.client_config();
    cfg.log = logs.make(); // one sink for every session: called from several threads at once
    cfg.session.reconnect.initial_delay = 20ms;

    asio::io_context io;
    countdown all_received(session_count);
    std::vector<std::unique_ptr<session_slot>> sessions;
    for (std::size_t i = 0; i < session_count; ++i)
        sessions.push_back(std::make_unique<session_slot>(io, i, all_received));
    // What the strands' handlers signal; declared before the threads (see runners).
    countdown subscribed(session_count);
    countdown sent(session_count * sends_per_session);
    countdown run_ended(session_count);
    countdown receive_ended(session_count);
    countdown destroyed(session_count);
    runners threads(io, runner_threads);

    // 1. Each session is created on its strand, runs, subscribes and receives.
    for (auto& slot : sessions) {
        session_slot* c = slot.get();
        asio::post(c->strand, [&, c] {
            c->s.emplace(c->strand, cfg, 1);
            c->s->async_run([&run_ended, c](error_code ec) {
                c->run_result = ec;
                run_ended.done();
            });
            c->s->async_subscribe(boost::span<const atomcloud::device_number>(c->numbers),
                                  [&subscribed, c](error_code ec) {
                                      c->subscribe_result = ec;
                                      subscribed.done();
                                  });
            if (c->off_strand())
                receive_to_consumer(*c, receive_ended);
            else
                asio::co_spawn(c->strand, receive_on_strand(*c, receive_ended), asio::detached);
        });
    }
    REQUIRE(subscribed.wait(15s));
    // Devices' messages reach a session once the cloud has read its subscription.
    REQUIRE(cloud.wait_websocket_connections(session_count, 15s));
    for (std::size_t d = 0; d < device_count; ++d)
        REQUIRE(cloud.wait_subscribers(device_numbers[d], subscribers_of(d), 15s));

    // 2. Every session sends 40 messages to its devices (all in flight at once) while the
    //    five devices send from five threads.
    for (auto& slot : sessions) {
        session_slot* c = slot.get();
        asio::post(c->strand, [&sent, c] {
            for (int k = 0; k < sends_per_session; ++k) {
                const auto& to = c->numbers[static_cast<std::size_t>(k) % c->numbers.size()];
                c->s->async_send(to, atomcloud::as_bytes(session_payload(c->index, k)),
                                 [&sent, c, k](error_code ec) {
                                     if (ec)
                                         c->problems.push_back("send " + std::to_string(k) + ": " +
                                                               ec.message());
                                     else
                                         ++c->sends_ok;
                                     sent.done();
                                 });
            }
        });
    }
    std::vector<std::string> device_errors(device_count + 1);
    {
        std::vector<std::thread> device_threads;
        for (std::size_t d = 0; d < device_count; ++d)
            device_threads.emplace_back([&, d] {
                try {
                    auto dev = cloud.device(device_numbers[d]);
                    for (int k = 0; k < messages_per_device; ++k)
                        dev.send(device_payload(d, k));
                } catch (const std::exception& e) {
                    device_errors[d] = e.what();
                }
            });
        device_threads.emplace_back([&] {
            try {
                auto dev = cloud.device(nbiot_number);
                for (int k = 0; k < nbiot_messages; ++k)
                    dev.send(nbiot_payload(k));
            } catch (const std::exception& e) {
                device_errors[device_count] = e.what();
            }
        });
        for (auto& t : device_threads)
            t.join();
    }
    for (const auto& e : device_errors)
        CHECK(e == "");
    REQUIRE(sent.wait(15s));
    REQUIRE(all_received.wait(15s));

    // What each device got from the sessions: each session's messages, in order.
    for (std::size_t d = 0; d < device_count; ++d) {
        auto dev = cloud.device(device_numbers[d]);
        std::vector<std::string> expected;
        for (std::size_t s = 0; s < session_count; ++s) {
            const auto mine = devices_of(s);
            for (int k = 0; k < sends_per_session; ++k)
                if (mine[static_cast<std::size_t>(k) % mine.size()] == d)
                    expected.push_back(session_payload(s, k));
        }
        REQUIRE(dev.wait_received(expected.size(), 10s));
        const auto got = dev.received();
        CHECK(got.size() == expected.size());
        for (std::size_t s = 0; s < session_count; ++s) {
            const std::string prefix = "s" + std::to_string(s) + "-";
            std::vector<std::string> from_s, expected_from_s;
            for (const auto& p : got)
                if (atomcloud::as_chars(p).substr(0, prefix.size()) == prefix)
                    from_s.emplace_back(atomcloud::as_chars(p));
            for (const auto& p : expected)
                if (p.compare(0, prefix.size(), prefix) == 0)
                    expected_from_s.push_back(p);
            INFO("device " << d << ", from session " << s);
            CHECK(from_s == expected_from_s);
        }
    }

    // 3. Stop every session on its strand: async_run and async_receive complete, then the
    //    sessions are destroyed there.
    for (auto& slot : sessions)
        asio::post(slot->strand, [c = slot.get()] { c->s->stop(); });
    REQUIRE(run_ended.wait(15s));
    REQUIRE(receive_ended.wait(15s));
    for (auto& slot : sessions)
        asio::post(slot->strand, [&destroyed, c = slot.get()] {
            c->s.reset();
            destroyed.done();
        });
    REQUIRE(destroyed.wait(5s));
    // Nothing is left behind on the io_context: the threads run out of work.
    CHECK(threads.finish(10s));
    CHECK(cloud.wait_websocket_connections(0, 5s));

    // The threads are joined: everything they recorded can be read.
    CHECK(all_problems(sessions) == "");
    for (const auto& c : sessions) {
        INFO("session " << c->index);
        CHECK(c->subscribe_result == error_code());
        CHECK(c->sends_ok == sends_per_session);
        CHECK(c->messages == c->expected_messages());
        for (auto d : c->devices)
            CHECK(c->next[d] == messages_per_device);
        CHECK(c->next_nbiot == nbiot_messages);
        CHECK(c->connected_events == 1);
        CHECK(c->disconnected_events == 1);
        CHECK(c->disconnect_reason == atomcloud::client_errc::session_stopped);
        REQUIRE(c->run_result);
        CHECK(*c->run_result == atomcloud::client_errc::session_stopped);
        REQUIRE(c->receive_result);
        CHECK(*c->receive_result == atomcloud::client_errc::session_stopped);
    }
    CHECK(logs.count(cloud.token()) == 0);
}
