// The REST client's latency window (a ring of the last N latencies, percentiles by
// nearest rank) and the classification of request outcomes, without sockets.
#include <atomcloud/detail/latency_window.hpp>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace atomcloud;
using namespace std::chrono_literals;
using detail::latency_window;
using detail::rest_outcome;
using detail::rest_outcome_of;

TEST_CASE("latency window: empty", "[metrics][unit]") {
    latency_window<8> w;
    const auto s = w.summary();
    CHECK(s.samples == 0);
    CHECK(s.p50 == 0us);
    CHECK(s.p99 == 0us);
    CHECK(s.max == 0us);
}

TEST_CASE("latency window: one sample is every percentile", "[metrics][unit]") {
    latency_window<8> w;
    w.add(1500us);
    const auto s = w.summary();
    CHECK(s.samples == 1);
    CHECK(s.p50 == 1500us);
    CHECK(s.p99 == 1500us);
    CHECK(s.max == 1500us);
}

TEST_CASE("latency window: percentiles by nearest rank", "[metrics][unit]") {
    latency_window<1000> w;
    // 1..100 ms in a scrambled order.
    for (int i = 0; i < 100; ++i)
        w.add(std::chrono::milliseconds((i * 37) % 100 + 1));
    auto s = w.summary();
    CHECK(s.samples == 100);
    CHECK(s.p50 == 50ms);
    CHECK(s.p99 == 99ms);
    CHECK(s.max == 100ms);

    // Ten of 1 ms and one of 1 s: the median stays, p99 is the outlier (rank ceil(10.89)).
    latency_window<16> v;
    for (int i = 0; i < 10; ++i)
        v.add(1ms);
    v.add(1s);
    s = v.summary();
    CHECK(s.p50 == 1ms);
    CHECK(s.p99 == 1s);
    CHECK(s.max == 1s);
    CHECK(s.p50 <= s.p99);
}

TEST_CASE("latency window: keeps only the last N", "[metrics][unit]") {
    latency_window<4> w;
    for (int i = 0; i < 4; ++i)
        w.add(10s); // pushed out below
    for (int i = 1; i <= 6; ++i)
        w.add(std::chrono::milliseconds(i)); // the window ends with 3, 4, 5, 6 ms
    const auto s = w.summary();
    CHECK(s.samples == 4);
    CHECK(s.p50 == 4ms);
    CHECK(s.p99 == 6ms);
    CHECK(s.max == 6ms);
    // summary() does not disturb the ring.
    w.add(7ms);
    CHECK(w.summary().max == 7ms);
    CHECK(w.summary().p50 == 5ms);
}

TEST_CASE("latency window: negative and huge latencies saturate", "[metrics][unit]") {
    latency_window<4> w;
    w.add(-5ms);
    w.add(std::chrono::hours(24 * 365));
    const auto s = w.summary();
    CHECK(s.p50 == 0us);
    CHECK(s.max == std::chrono::microseconds(0xFFFFFFFFu));
}

TEST_CASE("REST outcomes are classified", "[metrics][unit]") {
    CHECK(rest_outcome_of(error_code()) == rest_outcome::ok);
    CHECK(rest_outcome_of(boost::asio::error::operation_aborted) == rest_outcome::cancelled);
    CHECK(rest_outcome_of(make_api_error(404)) == rest_outcome::api_error);
    CHECK(rest_outcome_of(make_api_error(500)) == rest_outcome::api_error);
    CHECK(rest_outcome_of(client_errc::http_status) == rest_outcome::http_error);
    CHECK(rest_outcome_of(client_errc::invalid_json) == rest_outcome::invalid_response);
    CHECK(rest_outcome_of(client_errc::missing_envelope) == rest_outcome::invalid_response);
    CHECK(rest_outcome_of(client_errc::invalid_field) == rest_outcome::invalid_response);
    CHECK(rest_outcome_of(client_errc::response_too_large) == rest_outcome::invalid_response);
    CHECK(rest_outcome_of(boost::beast::error::timeout) == rest_outcome::network_error);
    CHECK(rest_outcome_of(boost::asio::error::connection_refused) == rest_outcome::network_error);
    CHECK(rest_outcome_of(client_errc::certificate_rejected) == rest_outcome::network_error);
    CHECK(detail::rest_outcome_answered(rest_outcome::ok));
    CHECK(detail::rest_outcome_answered(rest_outcome::http_error));
    CHECK_FALSE(detail::rest_outcome_answered(rest_outcome::network_error));
    CHECK_FALSE(detail::rest_outcome_answered(rest_outcome::cancelled));
}
