// Request / reply against the emulator: a device's answer completes the request, other
// messages reach the application's own receive, timeouts, several devices at once, one
// request at a time per device (or concurrent), cancellation, NB-IoT, a lost link.
//
// Everything runs on the test's thread: the io_context is run in short slices while
// waiting for a condition; the emulator runs on its own thread (the test plays the
// devices: wait until the command arrived, then answer).
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/request.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
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

const device_number dev_a{"18846494908532689575"};
const device_number dev_b{"27309143566123801957"};
const nbiot_id nb{"b6d85634-9d34-4052-80cd-b840b75cb910"};

std::string text(const bytes& b) {
    return std::string(b.begin(), b.end());
}

// What a request completed with.
struct outcome {
    bool done = false;
    error_code ec;
    std::string reply;
    std::chrono::steady_clock::time_point at;
};

// An emulator, a running session, a requester fed by the session's receive loop, and the
// messages that loop handled itself (everything the requester did not consume).
class rig {
public:
    explicit rig(requester_options opts = {}) {
        cfg = cloud.client_config();
        cfg.session.reconnect.initial_delay = 20ms;
        cfg.session.reconnect.max_delay = 200ms;
        cfg.session.reconnect.jitter = 0.0;
        s.emplace(io.get_executor(), cfg, 1);
        req.emplace(*s, opts);
        s->async_run([this](error_code ec) { run_result = ec; });
        receive();
        REQUIRE(until([&] { return s->status().connected; }, 10s));
    }

    ~rig() {
        req.reset();
        s->stop();
        until([&] { return run_result.has_value(); }, 5s);
        s.reset();
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

    // Runs the io_context for a while (nothing should happen meanwhile).
    void idle(std::chrono::milliseconds d) {
        until([] { return false; }, d);
    }

    auto record(outcome& o) {
        return [&o](error_code ec, bytes reply) {
            o.done = true;
            o.ec = ec;
            o.reply = text(reply);
            o.at = std::chrono::steady_clock::now();
        };
    }

    // Waits until `dev` received `count` payloads.
    bool received(emulator::device_handle& dev, std::size_t count) {
        return until([&] { return dev.received().size() >= count; }, 10s);
    }

    emulator::server cloud;
    config cfg;
    asio::io_context io;
    std::optional<session> s;
    std::optional<requester> req;
    std::optional<error_code> run_result;
    std::vector<std::string> passed; // "device: payload" of messages the requester left
    std::size_t disconnects = 0;

private:
    void receive() {
        s->async_receive([this](error_code ec, event_batch batch) {
            if (ec)
                return;
            for (const auto& ev : batch) {
                if (req && req->on_event(ev))
                    continue;
                if (auto* m = std::get_if<device_message>(&ev))
                    passed.push_back(m->device.str() + ": " + std::string(as_chars(m->payload)));
                else if (auto* n = std::get_if<nbiot_message>(&ev))
                    passed.push_back(n->device.str() + ": " + std::string(as_chars(n->payload)));
                else if (std::holds_alternative<session_disconnected>(ev))
                    ++disconnects;
            }
            receive();
        });
    }
};

reply_predicate starts_with(std::string prefix) {
    return [prefix](bytes_view p) { return as_chars(p).substr(0, prefix.size()) == prefix; };
}

} // namespace

TEST_CASE("request: the device's answer completes the request, byte for byte",
          "[session][request][integration]") {
    rig r;
    auto dev = r.cloud.device(dev_a.view());
    dev.connect();
    outcome o;
    r.req->async_request(dev_a, as_bytes("AT+VER?"), {}, r.record(o));
    CHECK(r.req->pending() == 1);
    REQUIRE(r.received(dev, 1));
    CHECK(text(dev.received()[0]) == "AT+VER?");
    CHECK_FALSE(o.done);
    dev.send("VER 1.2.3");
    REQUIRE(r.until([&] { return o.done; }, 5s));
    CHECK_FALSE(o.ec);
    CHECK(o.reply == "VER 1.2.3");
    CHECK(r.req->pending() == 0);
    CHECK(r.passed.empty()); // the answer did not reach the application's loop
    // The requester subscribed the session to the device: later messages pass through.
    dev.send("after");
    REQUIRE(r.until([&] { return !r.passed.empty(); }, 5s));
    CHECK(r.passed == std::vector<std::string>{"18846494908532689575: after"});
}

TEST_CASE("request: messages that do not match pass through to the application's receive",
          "[session][request][integration]") {
    rig r;
    auto dev = r.cloud.device(dev_a.view());
    dev.connect();
    outcome o;
    r.req->async_request(dev_a, as_bytes("AT+CSQ"), {5s, starts_with("+CSQ")}, r.record(o));
    REQUIRE(r.received(dev, 1));
    dev.send("temperature 21.5");
    dev.send("ALIENTEK-HRTDT");
    dev.send("+CSQ: 23,99");
    dev.send("temperature 21.6");
    REQUIRE(r.until([&] { return o.done && r.passed.size() == 3; }, 5s));
    CHECK_FALSE(o.ec);
    CHECK(o.reply == "+CSQ: 23,99");
    CHECK(r.passed == std::vector<std::string>{"18846494908532689575: temperature 21.5",
                                               "18846494908532689575: ALIENTEK-HRTDT",
                                               "18846494908532689575: temperature 21.6"});
}

TEST_CASE("request: no answer in time completes with reply_timeout, a late answer passes "
          "through",
          "[session][request][integration]") {
    rig r;
    auto dev = r.cloud.device(dev_a.view());
    dev.connect();
    outcome o;
    const auto start = std::chrono::steady_clock::now();
    r.req->async_request(dev_a, as_bytes("PING"), {300ms, {}}, r.record(o));
    REQUIRE(r.until([&] { return o.done; }, 5s));
    CHECK(o.ec == client_errc::reply_timeout);
    CHECK(o.at - start >= 300ms);
    CHECK(o.at - start < 3s);
    CHECK(dev.received().size() == 1);
    dev.send("PONG");
    REQUIRE(r.until([&] { return !r.passed.empty(); }, 5s));
    CHECK(r.passed[0] == "18846494908532689575: PONG");
}

TEST_CASE("request: two devices at once, each request gets its own device's answer",
          "[session][request][integration]") {
    rig r;
    auto a = r.cloud.device(dev_a.view());
    auto b = r.cloud.device(dev_b.view());
    a.connect();
    b.connect();
    outcome oa, ob;
    r.req->async_request(dev_a, as_bytes("A?"), {}, r.record(oa));
    r.req->async_request(dev_b, as_bytes("B?"), {}, r.record(ob));
    REQUIRE(r.received(a, 1));
    REQUIRE(r.received(b, 1)); // both sent before either was answered
    b.send("from B");
    REQUIRE(r.until([&] { return ob.done; }, 5s));
    CHECK_FALSE(oa.done);
    a.send("from A");
    REQUIRE(r.until([&] { return oa.done; }, 5s));
    CHECK(oa.reply == "from A");
    CHECK(ob.reply == "from B");
    CHECK(r.passed.empty());
}

TEST_CASE("request: requests to one device are serialised: the next is sent after the "
          "previous completed",
          "[session][request][integration]") {
    rig r;
    auto dev = r.cloud.device(dev_a.view());
    dev.connect();
    outcome o1, o2, o3;
    r.req->async_request(dev_a, as_bytes("cmd 1"), {}, r.record(o1));
    r.req->async_request(dev_a, as_bytes("cmd 2"), {}, r.record(o2));
    r.req->async_request(dev_a, as_bytes("cmd 3"), {200ms, {}}, r.record(o3));
    REQUIRE(r.received(dev, 1));
    r.idle(300ms);
    CHECK(dev.received().size() == 1); // cmd 2 waits for the answer to cmd 1
    const auto answered = std::chrono::system_clock::now();
    dev.send("answer 1");
    REQUIRE(r.until([&] { return o1.done; }, 5s));
    CHECK(o1.reply == "answer 1");
    REQUIRE(r.received(dev, 2));
    const auto got = dev.received_messages();
    CHECK(text(got[1].payload) == "cmd 2");
    CHECK(got[1].time >= answered);
    // cmd 3's timeout starts when it is sent: it has not expired while it waited.
    dev.send("answer 2");
    REQUIRE(r.until([&] { return o2.done; }, 5s));
    CHECK(o2.reply == "answer 2");
    REQUIRE(r.received(dev, 3));
    CHECK(text(dev.received()[2]) == "cmd 3");
    REQUIRE(r.until([&] { return o3.done; }, 5s));
    CHECK(o3.ec == client_errc::reply_timeout);
}

TEST_CASE("request: concurrent mode sends at once, the first matching request wins",
          "[session][request][integration]") {
    requester_options opts;
    opts.ordering = request_ordering::concurrent;
    rig r(opts);
    auto dev = r.cloud.device(dev_a.view());
    dev.connect();
    outcome o1, o2;
    r.req->async_request(dev_a, as_bytes("READ T"), {5s, starts_with("T=")}, r.record(o1));
    r.req->async_request(dev_a, as_bytes("READ H"), {5s, starts_with("H=")}, r.record(o2));
    REQUIRE(r.received(dev, 2)); // both sent without waiting
    dev.send("H=41%");
    dev.send("T=23.5");
    REQUIRE(r.until([&] { return o1.done && o2.done; }, 5s));
    CHECK(o1.reply == "T=23.5");
    CHECK(o2.reply == "H=41%");
}

TEST_CASE("request: cancellation, of a request waiting its turn and of one sent",
          "[session][request][integration]") {
    rig r;
    auto dev = r.cloud.device(dev_a.view());
    dev.connect();
    outcome o1, o2, o3;
    asio::cancellation_signal sig1, sig2;
    r.req->async_request(dev_a, as_bytes("one"), {},
                         asio::bind_cancellation_slot(sig1.slot(), r.record(o1)));
    r.req->async_request(dev_a, as_bytes("two"), {},
                         asio::bind_cancellation_slot(sig2.slot(), r.record(o2)));
    r.req->async_request(dev_a, as_bytes("three"), {}, r.record(o3));
    REQUIRE(r.received(dev, 1));
    sig2.emit(asio::cancellation_type::terminal); // waiting: never sent
    REQUIRE(r.until([&] { return o2.done; }, 5s));
    CHECK(o2.ec == asio::error::operation_aborted);
    sig1.emit(asio::cancellation_type::total); // sent: abandoned, "three" goes next
    REQUIRE(r.until([&] { return o1.done; }, 5s));
    CHECK(o1.ec == asio::error::operation_aborted);
    REQUIRE(r.received(dev, 2));
    CHECK(text(dev.received()[1]) == "three");
    r.req->cancel_all();
    REQUIRE(r.until([&] { return o3.done; }, 5s));
    CHECK(o3.ec == asio::error::operation_aborted);
    CHECK(r.req->pending() == 0);
    r.idle(100ms);
    CHECK(dev.received().size() == 2);
    // An answer to a cancelled request is an ordinary message.
    dev.send("late");
    REQUIRE(r.until([&] { return !r.passed.empty(); }, 5s));
    CHECK(r.passed[0] == "18846494908532689575: late");
}

TEST_CASE("request: NB-IoT devices answer with 0x08", "[session][request][integration]") {
    rig r;
    auto dev = r.cloud.device(nb.view());
    dev.connect();
    outcome o;
    r.req->async_request(nb, as_bytes("LED ON"), {}, r.record(o));
    REQUIRE(r.received(dev, 1));
    CHECK(text(dev.received()[0]) == "LED ON");
    dev.send("OK: LED ON");
    REQUIRE(r.until([&] { return o.done; }, 5s));
    CHECK_FALSE(o.ec);
    CHECK(o.reply == "OK: LED ON");
}

TEST_CASE("request: a lost link fails a request already sent", "[session][request][integration]") {
    rig r;
    auto dev = r.cloud.device(dev_a.view());
    dev.connect();
    outcome o;
    r.req->async_request(dev_a, as_bytes("cmd"), {}, r.record(o));
    REQUIRE(r.received(dev, 1));
    r.idle(50ms); // the send's completion
    r.cloud.drop_connections();
    REQUIRE(r.until([&] { return o.done; }, 5s));
    CHECK(o.ec == client_errc::link_lost);
    CHECK(r.disconnects == 1);
}
