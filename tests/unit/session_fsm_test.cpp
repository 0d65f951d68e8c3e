// The session's lifecycle machine, driven by events alone with a fake clock: every path
// of connecting, reconnecting, stopping, health checks and backpressure.
#include <atomcloud/detail/session_fsm.hpp>

#include <boost/asio/error.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace atomcloud;
using namespace std::chrono_literals;
using detail::connect_stage;
using detail::session_actions;
using detail::session_fsm;
using detail::session_phase;
using act = session_actions;

namespace {

// A machine with round numbers and no jitter, and a clock the test moves.
struct machine {
    session_fsm::options opts = make_options();
    session_fsm fsm{opts, 42};
    detail::session_time now{std::chrono::hours(1)};

    static session_fsm::options make_options() {
        session_fsm::options o;
        o.timeouts.resolve = 1s;
        o.timeouts.connect = 2s;
        o.timeouts.tls_handshake = 3s;
        o.timeouts.websocket_handshake = 4s;
        o.reconnect.initial_delay = 100ms;
        o.reconnect.max_delay = 10s;
        o.reconnect.multiplier = 2.0;
        o.reconnect.jitter = 0.0;
        o.healthy_after = 10s;
        o.idle_timeout = 60s;
        o.close_timeout = 1s;
        o.idle_trim_after = 2s;
        return o;
    }

    void advance(std::chrono::milliseconds d) { now += d; }
    // Moves the clock to the wake-up time and fires the timer.
    act fire() {
        REQUIRE(fsm.wake_at());
        now = *fsm.wake_at();
        return fsm.timer_fired(now);
    }

    // start .. open, through every stage. Returns the actions of the upgrade.
    act open() {
        act a = fsm.start(now, false);
        REQUIRE(a.has(act::start_stage));
        REQUIRE(a.stage == connect_stage::resolve);
        for (auto s :
             {connect_stage::connect, connect_stage::tls_handshake, connect_stage::upgrade}) {
            a = fsm.stage_done(now, {});
            REQUIRE(a.has(act::start_stage));
            REQUIRE(a.stage == s);
        }
        a = fsm.upgrade_done(now, {}, 101);
        REQUIRE(fsm.phase() == session_phase::open);
        return a;
    }

    // The driver's part after close_link: the socket is closed, I/O over.
    act closed() {
        REQUIRE(fsm.phase() == session_phase::closed);
        return fsm.link_closed(now);
    }

    // A link that opens and, after `up`, fails with a read error; returns the next delay.
    std::chrono::milliseconds flap(std::chrono::milliseconds up) {
        if (fsm.phase() == session_phase::backing_off)
            fire();
        else
            fsm.start(now, false);
        for (int i = 0; i < 3; ++i)
            fsm.stage_done(now, {});
        fsm.upgrade_done(now, {}, 101);
        fsm.replay_queued(now, 0);
        advance(up);
        REQUIRE(fsm.io_failed(now, boost::asio::error::connection_reset).has(act::close_link));
        closed();
        REQUIRE(fsm.phase() == session_phase::backing_off);
        return std::chrono::duration_cast<std::chrono::milliseconds>(*fsm.wake_at() - now);
    }
};

} // namespace

TEST_CASE("session fsm: connects through every stage, each with its own deadline",
          "[session][fsm]") {
    machine m;
    act a = m.fsm.start(m.now, false);
    CHECK(a.has(act::start_stage));
    CHECK(a.stage == connect_stage::resolve);
    CHECK(*m.fsm.wake_at() == m.now + 1s);
    CHECK(m.fsm.phase() == session_phase::connecting);
    const std::chrono::seconds limits[] = {2s, 3s, 4s};
    int i = 0;
    for (auto s : {connect_stage::connect, connect_stage::tls_handshake, connect_stage::upgrade}) {
        m.advance(10ms);
        a = m.fsm.stage_done(m.now, {});
        CHECK(a.stage == s);
        CHECK(*m.fsm.wake_at() == m.now + limits[i++]);
    }
    a = m.fsm.upgrade_done(m.now, {}, 101);
    CHECK(a.has(act::replay));
    CHECK(a.has(act::start_read));
    CHECK(a.has(act::write));
    CHECK_FALSE(a.has(act::announce_up)); // not before the replay is written
    CHECK(m.fsm.link_up());
    CHECK(m.fsm.connections() == 1);
}

TEST_CASE("session fsm: session_connected once the replay is written", "[session][fsm]") {
    SECTION("nothing to replay: at once") {
        machine m;
        m.open();
        CHECK(m.fsm.replay_queued(m.now, 0).has(act::announce_up));
    }
    SECTION("after the last replayed frame") {
        machine m;
        m.open();
        CHECK(m.fsm.replay_queued(m.now, 7).empty());
        CHECK_FALSE(m.fsm.written(m.now, 6).has(act::announce_up));
        CHECK(m.fsm.written(m.now, 7).has(act::announce_up));
        CHECK_FALSE(m.fsm.written(m.now, 9).has(act::announce_up)); // once
    }
}

TEST_CASE("session fsm: a step that runs out of time is abandoned and retried", "[session][fsm]") {
    for (auto stuck : {connect_stage::resolve, connect_stage::connect, connect_stage::tls_handshake,
                       connect_stage::upgrade}) {
        machine m;
        INFO(detail::to_string(stuck));
        m.fsm.start(m.now, false);
        while (m.fsm.stage() != stuck)
            m.fsm.stage_done(m.now, {});
        act a = m.fire();
        CHECK(a.has(act::cancel_stage));
        // The cancelled step completes with operation_aborted: reported as a timeout.
        a = stuck == connect_stage::upgrade
                ? m.fsm.upgrade_done(m.now, boost::asio::error::operation_aborted, 0)
                : m.fsm.stage_done(m.now, boost::asio::error::operation_aborted);
        CHECK(a.has(act::close_link));
        CHECK(a.reason == boost::beast::error::timeout);
        a = m.closed();
        CHECK_FALSE(a.has(act::announce_down)); // never announced
        CHECK_FALSE(a.has(act::complete_run));
        CHECK(m.fsm.phase() == session_phase::backing_off);
        CHECK(m.fsm.failed_attempts() == 1);
        CHECK(*m.fsm.wake_at() == m.now + 100ms);
        a = m.fire();
        CHECK(a.has(act::start_stage));
        CHECK(a.stage == connect_stage::resolve);
    }
}

TEST_CASE("session fsm: failures are classified once", "[session][fsm]") {
    using detail::classify_failure;
    using detail::failure_class;
    const auto up = connect_stage::upgrade;
    for (int status : {400, 401, 403, 404, 410})
        CHECK(classify_failure(up, client_errc::handshake_rejected, status, false) ==
              failure_class::permanent);
    for (int status : {0, 101, 301, 408, 429, 500, 502, 503})
        CHECK(classify_failure(up, boost::asio::error::eof, status, false) ==
              failure_class::transient);
    const error_code cert = client_errc::certificate_rejected;
    CHECK(classify_failure(connect_stage::tls_handshake, cert, 0, false) ==
          failure_class::permanent);
    CHECK(classify_failure(connect_stage::tls_handshake, cert, 0, true) ==
          failure_class::transient);
    for (error_code ec : {error_code(boost::asio::error::host_not_found),
                          error_code(boost::asio::error::connection_refused),
                          error_code(boost::asio::error::connection_reset),
                          error_code(boost::beast::error::timeout)})
        for (auto s : {connect_stage::resolve, connect_stage::connect, connect_stage::tls_handshake,
                       connect_stage::upgrade})
            CHECK(classify_failure(s, ec, 0, false) == failure_class::transient);
}

TEST_CASE("session fsm: a permanent failure ends the run with its error, no retry",
          "[session][fsm]") {
    SECTION("the upgrade answered 401") {
        machine m;
        m.fsm.start(m.now, false);
        for (int i = 0; i < 3; ++i)
            m.fsm.stage_done(m.now, {});
        act a = m.fsm.upgrade_done(m.now, client_errc::handshake_rejected, 401);
        CHECK(a.has(act::close_link));
        a = m.closed();
        CHECK(a.has(act::complete_run));
        CHECK(a.reason == client_errc::handshake_rejected);
        CHECK_FALSE(m.fsm.running());
        CHECK_FALSE(m.fsm.wake_at());
        CHECK(m.fsm.admit_send(send_policy::queue) == client_errc::session_stopped);
    }
    SECTION("the certificate was rejected") {
        machine m;
        m.fsm.start(m.now, false);
        m.fsm.stage_done(m.now, {});
        m.fsm.stage_done(m.now, {});
        m.fsm.stage_done(m.now, client_errc::certificate_rejected);
        act a = m.closed();
        CHECK(a.has(act::complete_run));
        CHECK(a.reason == client_errc::certificate_rejected);
    }
    SECTION("unless TLS failures are to be retried") {
        machine m;
        m.opts.retry_tls_failures = true;
        session_fsm fsm(m.opts, 1);
        fsm.start(m.now, false);
        fsm.stage_done(m.now, {});
        fsm.stage_done(m.now, {});
        fsm.stage_done(m.now, client_errc::certificate_rejected);
        act a = fsm.link_closed(m.now);
        CHECK_FALSE(a.has(act::complete_run));
        CHECK(fsm.phase() == session_phase::backing_off);
    }
    SECTION("a 503 answer is retried") {
        machine m;
        m.fsm.start(m.now, false);
        for (int i = 0; i < 3; ++i)
            m.fsm.stage_done(m.now, {});
        m.fsm.upgrade_done(m.now, client_errc::handshake_rejected, 503);
        m.closed();
        CHECK(m.fsm.phase() == session_phase::backing_off);
    }
}

TEST_CASE("session fsm: links dropped at once see growing delays, a healthy link resets them",
          "[session][fsm]") {
    machine m;
    // Up for 10 ms, then dropped: the backoff keeps growing, as for failed attempts.
    CHECK(m.flap(10ms) == 100ms);
    CHECK(m.flap(10ms) == 200ms);
    CHECK(m.flap(10ms) == 400ms);
    CHECK(m.flap(10ms) == 800ms);
    CHECK(m.fsm.connections() == 4);
    // Up for healthy_after: the schedule starts over.
    CHECK(m.flap(10s) == 100ms);
    CHECK(m.flap(10ms) == 200ms);
    // A link that delivered a device frame was healthy too, however short.
    m.fire();
    for (int i = 0; i < 3; ++i)
        m.fsm.stage_done(m.now, {});
    m.fsm.upgrade_done(m.now, {}, 101);
    m.fsm.data_received(m.now, 1, false);
    m.fsm.io_failed(m.now, boost::asio::error::eof);
    act a = m.closed();
    CHECK_FALSE(a.has(act::fail_sends)); // send_policy::queue: they wait for the next link
    CHECK(*m.fsm.wake_at() - m.now == 100ms);
}

TEST_CASE("session fsm: the link going down is announced, then reconnected", "[session][fsm]") {
    machine m;
    m.open();
    CHECK(m.fsm.replay_queued(m.now, 0).has(act::announce_up));
    act a = m.fsm.io_failed(m.now, boost::asio::error::connection_reset);
    CHECK(a.has(act::close_link));
    CHECK_FALSE(m.fsm.link_up());
    CHECK(m.fsm.admit_send(send_policy::fail) == client_errc::not_connected);
    CHECK_FALSE(m.fsm.admit_send(send_policy::queue));
    a = m.closed();
    CHECK(a.has(act::announce_down));
    CHECK(a.reason == boost::asio::error::connection_reset);
    CHECK_FALSE(a.has(act::fail_sends));
    CHECK_FALSE(a.has(act::complete_run));
    // Events of the old link that come late change nothing.
    CHECK(m.fsm.io_failed(m.now, boost::asio::error::eof).empty());
    CHECK(m.fsm.close_received(m.now, 1000).empty());
}

TEST_CASE("session fsm: stop in every phase", "[session][fsm]") {
    const error_code stopped = client_errc::session_stopped;
    SECTION("never run: marked stopped") {
        machine m;
        CHECK(m.fsm.stop(m.now, stopped).empty());
        CHECK(m.fsm.admit_send(send_policy::queue) == client_errc::session_stopped);
        m.fsm.start(m.now, false); // can run again
        CHECK_FALSE(m.fsm.admit_send(send_policy::queue));
    }
    SECTION("connecting: the step is abandoned") {
        for (int step = 0; step < 4; ++step) {
            machine m;
            m.fsm.start(m.now, false);
            for (int i = 0; i < step; ++i)
                m.fsm.stage_done(m.now, {});
            act a = m.fsm.stop(m.now, stopped);
            CHECK(a.has(act::cancel_stage));
            CHECK(m.fsm.stop(m.now, stopped).empty()); // a second stop adds nothing
            a = step == 3 ? m.fsm.upgrade_done(m.now, boost::asio::error::operation_aborted, 0)
                          : m.fsm.stage_done(m.now, boost::asio::error::operation_aborted);
            CHECK(a.has(act::close_link));
            a = m.closed();
            CHECK(a.has(act::complete_run));
            CHECK(a.reason == client_errc::session_stopped);
            CHECK_FALSE(a.has(act::announce_down));
        }
    }
    SECTION("a step that succeeds after stop is abandoned all the same") {
        machine m;
        m.fsm.start(m.now, false);
        m.fsm.stop(m.now, stopped);
        CHECK(m.fsm.stage_done(m.now, {}).has(act::close_link));
        CHECK(m.closed().has(act::complete_run));
    }
    SECTION("backing off or waiting for the application: at once") {
        machine m;
        m.flap(10ms);
        act a = m.fsm.stop(m.now, stopped);
        CHECK(a.has(act::complete_run));
        CHECK(a.reason == client_errc::session_stopped);
        CHECK_FALSE(m.fsm.wake_at());
        machine w;
        w.fsm.start(w.now, true);
        CHECK(w.fsm.phase() == session_phase::waiting_drain);
        CHECK(w.fsm.stop(w.now, boost::asio::error::operation_aborted).reason ==
              boost::asio::error::operation_aborted);
        CHECK_FALSE(w.fsm.running());
    }
    SECTION("open: close handshake answered") {
        machine m;
        m.open();
        m.fsm.replay_queued(m.now, 0);
        act a = m.fsm.stop(m.now, stopped);
        CHECK(a.has(act::send_close));
        CHECK(a.close_code == 1000);
        CHECK(*m.fsm.wake_at() == m.now + 1s);
        CHECK_FALSE(m.fsm.may_write());
        CHECK(m.fsm.close_written(m.now).empty()); // the answer is awaited
        m.advance(20ms);
        a = m.fsm.close_received(m.now, 1000);
        CHECK(a.has(act::close_link));
        a = m.closed();
        CHECK(a.has(act::announce_down));
        CHECK(a.has(act::complete_run));
        CHECK(a.reason == client_errc::session_stopped);
    }
    SECTION("open: the answer comes before our close frame is written") {
        machine m;
        m.open();
        m.fsm.stop(m.now, stopped);
        CHECK(m.fsm.close_received(m.now, 1000).empty());
        CHECK(m.fsm.close_written(m.now).has(act::close_link));
        CHECK(m.closed().has(act::complete_run));
    }
    SECTION("open: the server never answers: close_timeout, not the upgrade timeout") {
        machine m;
        m.open();
        m.fsm.stop(m.now, stopped);
        m.fsm.close_written(m.now);
        const auto t0 = m.now;
        act a = m.fire();
        CHECK(m.now - t0 == 1s);
        CHECK(a.has(act::close_link));
        CHECK(m.closed().has(act::complete_run));
    }
    SECTION("open: a second stop cuts the close handshake") {
        machine m;
        m.open();
        m.fsm.stop(m.now, stopped);
        act a = m.fsm.stop(m.now, boost::asio::error::operation_aborted);
        CHECK(a.has(act::close_link));
        a = m.closed();
        CHECK(a.has(act::complete_run));
        CHECK(a.reason == client_errc::session_stopped); // the first reason stays
    }
    SECTION("open: the write of the close frame fails") {
        machine m;
        m.open();
        m.fsm.stop(m.now, stopped);
        CHECK(m.fsm.io_failed(m.now, boost::asio::error::broken_pipe).has(act::close_link));
        CHECK(m.closed().reason == client_errc::session_stopped);
    }
    SECTION("while the socket is being closed") {
        machine m;
        m.open();
        m.fsm.io_failed(m.now, boost::asio::error::eof);
        CHECK(m.fsm.stop(m.now, stopped).empty());
        act a = m.closed();
        CHECK(a.has(act::complete_run));
        CHECK(a.reason == client_errc::session_stopped);
    }
}

TEST_CASE("session fsm: the server's close frame is answered, then the link is replaced",
          "[session][fsm]") {
    machine m;
    m.open();
    m.fsm.replay_queued(m.now, 0);
    act a = m.fsm.close_received(m.now, 1001);
    CHECK(a.has(act::send_close));
    CHECK(a.close_code == 1001);
    CHECK(m.fsm.peer_close_code() == 1001);
    a = m.fsm.close_written(m.now);
    CHECK(a.has(act::close_link));
    CHECK(a.reason == boost::beast::websocket::error::closed);
    a = m.closed();
    CHECK(a.has(act::announce_down));
    CHECK(m.fsm.phase() == session_phase::backing_off);
    // A close frame without a code is answered with 1000.
    machine n;
    n.open();
    CHECK(n.fsm.close_received(n.now, 1005).close_code == 1000);
}

TEST_CASE("session fsm: a protocol error is answered with its close code", "[session][fsm]") {
    machine m;
    m.open();
    act a = m.fsm.protocol_failed(m.now, client_errc::websocket_protocol_error, 1002);
    CHECK(a.has(act::send_close));
    CHECK(a.close_code == 1002);
    a = m.fsm.close_written(m.now);
    CHECK(a.has(act::close_link));
    CHECK(a.reason == client_errc::websocket_protocol_error);
    m.closed();
    CHECK(m.fsm.phase() == session_phase::backing_off);
    // A close that cannot be written in time: the deadline closes the link.
    machine n;
    n.open();
    n.fsm.protocol_failed(n.now, client_errc::message_too_large, 1009);
    act b = n.fire();
    CHECK(b.has(act::close_link));
    CHECK(b.reason == client_errc::message_too_large);
}

TEST_CASE("session fsm: health checks: ping after half the idle timeout, dead after all of it",
          "[session][fsm]") {
    SECTION("ping, then silence: dead") {
        machine m;
        m.opts.idle_trim_after = 1h;
        session_fsm fsm(m.opts, 1);
        m.fsm = fsm;
        m.open();
        const auto t0 = m.now;
        act a = m.fire();
        CHECK(m.now - t0 == 30s);
        CHECK(a.has(act::send_ping));
        a = m.fire();
        CHECK(m.now - t0 == 60s);
        CHECK(a.has(act::close_link));
        CHECK(a.reason == boost::beast::error::timeout);
    }
    SECTION("activity (a pong, a message) keeps the link alive") {
        machine m;
        m.opts.idle_trim_after = 1h;
        m.fsm = session_fsm(m.opts, 1);
        m.open();
        CHECK(m.fire().has(act::send_ping));
        m.advance(1s);
        m.fsm.data_received(m.now, 0, false); // the pong
        const auto pong = m.now;
        act a = m.fire();
        CHECK_FALSE(a.has(act::close_link));
        CHECK(m.now - pong == 29s);
        CHECK_FALSE(a.has(act::send_ping)); // the first check after the pong is early
        a = m.fire();
        CHECK(a.has(act::send_ping));
        CHECK(m.now - pong == 30s);
    }
    SECTION("health_check::none: no pings, dead after the idle timeout") {
        machine m;
        m.opts.health = health_check::none;
        m.opts.idle_trim_after = 1h;
        m.fsm = session_fsm(m.opts, 1);
        m.open();
        const auto t0 = m.now;
        act a = m.fire();
        CHECK_FALSE(a.has(act::send_ping));
        CHECK(m.now - t0 == 60s);
        CHECK(a.has(act::close_link));
    }
    SECTION("idle_timeout 0: never declared dead") {
        machine m;
        m.opts.idle_timeout = 0ms;
        m.fsm = session_fsm(m.opts, 1);
        m.open();
        CHECK(m.fire().has(act::trim_memory));
        CHECK_FALSE(m.fsm.wake_at());
    }
    SECTION("no verdict while reading is paused") {
        machine m;
        m.opts.idle_trim_after = 1h;
        m.fsm = session_fsm(m.opts, 1);
        m.open();
        m.fsm.data_received(m.now, 1, true);
        CHECK(m.fsm.reading_paused());
        for (int i = 0; i < 5; ++i) {
            act a = m.fire();
            CHECK_FALSE(a.has(act::send_ping));
            CHECK_FALSE(a.has(act::close_link));
        }
        m.advance(5s);
        act a = m.fsm.drained(m.now, false);
        CHECK(a.has(act::start_read));
        CHECK_FALSE(m.fsm.reading_paused());
        // The silence while paused was ours: a full half-timeout before the next ping.
        const auto resumed = m.now;
        a = m.fire();
        while (!a.has(act::send_ping))
            a = m.fire();
        CHECK(m.now - resumed >= 30s);
    }
}

TEST_CASE("session fsm: an idle link gives its buffers back once", "[session][fsm]") {
    machine m;
    m.open();
    const auto t0 = m.now;
    act a = m.fire();
    CHECK(a.has(act::trim_memory));
    CHECK(m.now - t0 == 2s);
    a = m.fire();
    CHECK_FALSE(a.has(act::trim_memory));
    CHECK(a.has(act::send_ping));
    m.fsm.data_received(m.now, 0, false);
    CHECK(m.fire().has(act::trim_memory)); // idle again
}

TEST_CASE("session fsm: backpressure", "[session][fsm]") {
    SECTION("reading pauses at the limits and resumes once the application received") {
        machine m;
        m.open();
        CHECK(m.fsm.data_received(m.now, 3, false).has(act::start_read));
        act a = m.fsm.data_received(m.now, 3, true);
        CHECK_FALSE(a.has(act::start_read));
        CHECK(m.fsm.reading_paused());
        CHECK(m.fsm.drained(m.now, true).empty()); // still at the limits
        CHECK(m.fsm.drained(m.now, false).has(act::start_read));
    }
    SECTION("no connection while the application does not receive") {
        machine m;
        act a = m.fsm.start(m.now, true);
        CHECK_FALSE(a.has(act::start_stage));
        CHECK(m.fsm.phase() == session_phase::waiting_drain);
        CHECK_FALSE(m.fsm.wake_at());
        a = m.fsm.drained(m.now, false);
        CHECK(a.has(act::start_stage));
        CHECK(a.stage == connect_stage::resolve);
    }
    SECTION("a link opened while paused does not read") {
        machine m;
        m.open();
        m.fsm.data_received(m.now, 1, true);
        m.fsm.io_failed(m.now, boost::asio::error::eof);
        m.closed();
        // (link_closed resets the pause: the next link reads until the limits again)
        CHECK_FALSE(m.fsm.reading_paused());
    }
}

TEST_CASE("session fsm: a stale timer changes nothing", "[session][fsm]") {
    machine m;
    m.fsm.start(m.now, false);
    CHECK(m.fsm.timer_fired(m.now + 10ms).empty());
    CHECK(m.fsm.phase() == session_phase::connecting);
}

TEST_CASE("session fsm: send_policy::fail fails the queued sends when the link is lost",
          "[session][fsm]") {
    machine m;
    m.opts.when_disconnected = send_policy::fail;
    m.fsm = session_fsm(m.opts, 1);
    m.open();
    m.fsm.io_failed(m.now, boost::asio::error::eof);
    CHECK(m.closed().has(act::fail_sends));
}
