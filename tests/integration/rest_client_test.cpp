// rest_client against the in-process emulator, over TLS with certificate verification on:
// every endpoint, every error path, faults, concurrency, keep-alive, completion tokens,
// cancellation, synchronous forms and the history walk.
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/cancel_after.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/version.hpp>

#if BOOST_VERSION >= 108600
#include <boost/asio/cancel_after.hpp>
#endif

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace emu = atomcloud::emulator;
using atomcloud::api_errc;
using atomcloud::client_errc;
using atomcloud::diagnostics;
using atomcloud::error_code;

namespace {

constexpr std::int64_t org_id = 1;
constexpr std::int64_t group_official = 45;
constexpr const char* number = "18846494908532689575";
const atomcloud::device_number dev_number{number};
const atomcloud::device_number unknown_number{"00000000000000000000"};

// The emulator, an io_context, and a client config trusting the emulator's CA, with
// short backoffs and every log line captured.
struct env {
    explicit env(emu::options opts = {}) : cloud(std::move(opts)), cfg(cloud.client_config()) {
        cfg.retry.backoff.initial_delay = 5ms;
        cfg.retry.backoff.max_delay = 20ms;
        cfg.timeouts.request = 10s;
        cfg.log.level = atomcloud::log_level::debug;
        cfg.log.sink = [this](atomcloud::log_level, std::string_view line) {
            std::lock_guard<std::mutex> lock(mutex);
            logs.emplace_back(line);
        };
    }

    std::string all_logs() {
        std::lock_guard<std::mutex> lock(mutex);
        std::string out;
        for (const auto& l : logs)
            out += l + '\n';
        return out;
    }

    // Runs a coroutine on io to completion, rethrowing what it throws.
    template <class F>
    void run(F f) {
        auto fut = asio::co_spawn(io, f(), asio::use_future);
        io.restart();
        io.run();
        fut.get();
    }

    emu::server cloud;
    asio::io_context io;
    atomcloud::config cfg;
    std::mutex mutex;
    std::vector<std::string> logs;
};

emu::fault http_fault(int status) {
    emu::fault f;
    f.what = emu::fault::kind::http_status;
    f.status = status;
    return f;
}

emu::fault api_fault(int code, std::string message = "injected fault") {
    emu::fault f;
    f.what = emu::fault::kind::api_code;
    f.code = code;
    f.message = std::move(message);
    return f;
}

emu::fault simple_fault(emu::fault::kind k, std::chrono::milliseconds delay = 0ms) {
    emu::fault f;
    f.what = k;
    f.delay = delay;
    return f;
}

} // namespace

// ---------------------------------------------------------------------------------------
// Endpoints

TEST_CASE("rest: every endpoint, synchronous throwing forms", "[rest][integration]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);

    const auto orgs = api.list_orgs();
    REQUIRE(orgs.size() == 1);
    CHECK(orgs[0].id == org_id);
    CHECK(orgs[0].name == "正点原子");
    CHECK(orgs[0].device_limit == 1000);
    CHECK(orgs[0].created_at == "2018-04-14T15:30:52+08:00");

    const auto groups = api.list_groups(org_id);
    REQUIRE(groups.size() == 2);
    std::set<std::int64_t> group_ids;
    for (const auto& g : groups)
        group_ids.insert(g.id);
    CHECK(group_ids == std::set<std::int64_t>{44, 45});

    const auto devices = api.list_devices(org_id, group_official);
    REQUIRE(devices.size() == 2);
    CHECK(devices[0].id == 146);
    CHECK(devices[0].show_id == "1007"); // sent as a number
    CHECK(devices[0].number == number);
    CHECK(devices[0].type == atomcloud::device_type::unknown);
    CHECK(devices[1].show_id == "1008"); // sent as text
    CHECK(devices[1].type == atomcloud::device_type::dtu);

    auto state = api.device_state(org_id, 146);
    CHECK(state.state == atomcloud::connection_state::disconnected);
    e.cloud.device(number).connect();
    state = api.device_state(org_id, 146);
    CHECK(state.state == atomcloud::connection_state::connected);
    CHECK(state.online());
    CHECK(state.raw == "connected");
    CHECK(api.device_state(org_id, 150).state == atomcloud::connection_state::notbind);

    const auto before = std::chrono::system_clock::now();
    e.cloud.device(number).send("ALIENTEK-HRTDT");
    const atomcloud::bytes gbk = atomcloud::parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3");
    e.cloud.device(number).send(gbk);
    const auto page = api.packets(org_id, dev_number, {});
    CHECK(page.current_page == 1);
    CHECK(page.total_item == 2);
    CHECK(page.total_page == 1);
    CHECK(page.page_limit == 30);
    REQUIRE(page.items.size() == 2);
    CHECK(page.items[0].payload == gbk); // newest first
    CHECK(page.items[0].hex == "D5 FD B5 E3 D4 AD D7 D3");
    CHECK(atomcloud::gbk_to_utf8(page.items[0].payload) == "正点原子");
    CHECK(page.items[0].length == 8);
    CHECK(page.items[0].utc_offset == 480min);
    CHECK(page.items[0].number == number);
    CHECK(atomcloud::is_heartbeat(page.items[1].payload));
    const auto t = std::chrono::system_clock::time_point(page.items[1].time.time_since_epoch());
    CHECK(t >= std::chrono::floor<std::chrono::seconds>(before));
    CHECK(t <= std::chrono::system_clock::now() + 1s);

    // limit and page are sent and honoured.
    atomcloud::packet_query q;
    q.limit = 1;
    q.page = 2;
    const auto second = api.packets(org_id, dev_number, q);
    CHECK(second.total_page == 2);
    CHECK(second.current_page == 2);
    REQUIRE(second.items.size() == 1);
    CHECK(atomcloud::is_heartbeat(second.items[0].payload));

    // start/end (sent in UTC+8, whole seconds): a window in the past is empty.
    q = {};
    q.end = before - 1h;
    CHECK(api.packets(org_id, dev_number, q).items.empty());
    q.end = std::chrono::system_clock::now() + 1h;
    q.start = before - 1s;
    CHECK(api.packets(org_id, dev_number, q).items.size() == 2);
}

TEST_CASE("rest: a base URL with a path prefix reaches the prefixed API", "[rest][integration]") {
    env e;
    e.cfg.base_url += "/no-such-prefix";
    e.cfg.retry.max_attempts = 1;
    atomcloud::rest_client api(e.io, e.cfg);
    diagnostics diag;
    error_code ec;
    api.list_orgs(ec, diag);
    // The emulator serves under /api only: the prefixed path is an unknown one.
    CHECK(ec == client_errc::http_status);
    CHECK(diag.http_status() == 404);
}

// ---------------------------------------------------------------------------------------
// Error paths

TEST_CASE("rest: API errors (token, unknown objects, bad parameters)", "[rest][integration]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    diagnostics diag;
    error_code ec;

    SECTION("unknown org, group, device: code 401") {
        CHECK(api.list_groups(999, ec, diag).empty());
        CHECK(ec == api_errc::not_found);
        CHECK(diag.api_code() == 401);
        CHECK(diag.http_status() == 200);
        CHECK_FALSE(diag.server_message().empty());
        api.list_devices(org_id, 999, ec, diag);
        CHECK(ec == api_errc::not_found);
        api.device_state(org_id, 999999, ec, diag);
        CHECK(ec == api_errc::not_found);
        api.packets(org_id, unknown_number, {}, ec, diag);
        CHECK(ec == api_errc::not_found);
    }
    SECTION("bad parameters: code 400") {
        atomcloud::packet_query q;
        q.page = 0;
        api.packets(org_id, dev_number, q, ec, diag);
        CHECK(ec == api_errc::invalid_parameter);
        q.page.reset();
        q.limit = 0;
        api.packets(org_id, dev_number, q, ec, diag);
        CHECK(ec == api_errc::invalid_parameter);
        CHECK(diag.api_code() == 400);
    }
    SECTION("the throwing form carries the diagnostics") {
        try {
            api.list_groups(999);
            FAIL("no exception");
        } catch (const atomcloud::error& err) {
            CHECK(err.code() == api_errc::not_found);
            CHECK(err.boost_code() == api_errc::not_found);
            CHECK(err.get_diagnostics().api_code() == 401);
            CHECK(std::string(err.what()).find("API code 401") != std::string::npos);
        }
    }
}

TEST_CASE("rest: a token or user agent with CR LF is refused before any request",
          "[rest][integration]") {
    env e;
    const bool in_token = GENERATE(true, false);
    (in_token ? e.cfg.token : e.cfg.user_agent) += "\r\nX-Injected: 1";
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    diagnostics diag;
    error_code ec;
    api.list_orgs(ec, diag);
    CHECK(ec == atomcloud::client_errc::invalid_config);
    CHECK(diag.client_message().find(in_token ? "config.token" : "config.user_agent") !=
          std::string::npos);
    CHECK(api.stats().connections_opened == 0);
    CHECK(e.all_logs().find("X-Injected") == std::string::npos);
}

TEST_CASE("rest: a bad or missing token is code 300, and the token is never shown",
          "[rest][integration]") {
    env e;
    const std::string secret = "super-secret-token-value-42";
    SECTION("bad token") {
        e.cfg.token = secret;
    }
    SECTION("missing token") {
        e.cfg.token.clear();
    }
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    diagnostics diag;
    error_code ec;
    api.list_orgs(ec, diag);
    CHECK(ec == api_errc::not_logged_in);
    CHECK(diag.api_code() == 300);
    try {
        api.list_devices(org_id, group_official);
        FAIL("no exception");
    } catch (const atomcloud::error& err) {
        CHECK(err.code() == api_errc::not_logged_in);
        CHECK(std::string(err.what()).find(secret) == std::string::npos);
        CHECK(err.get_diagnostics().to_string().find(secret) == std::string::npos);
    }
    CHECK(diag.to_string().find(secret) == std::string::npos);
    CHECK_FALSE(e.all_logs().empty());
    CHECK(e.all_logs().find(secret) == std::string::npos);
}

TEST_CASE("rest: the token is in no log line, also with a good token", "[rest][integration]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    api.list_orgs();
    e.cloud.inject_fault(http_fault(503), 1);
    api.list_orgs(); // retried: logged at info
    const std::string logs = e.all_logs();
    CHECK(logs.find("GET /api/orgs -> HTTP 200") != std::string::npos);
    CHECK(logs.find("retrying") != std::string::npos);
    CHECK(logs.find(e.cfg.token) == std::string::npos);
}

TEST_CASE("rest: HTTP 503, retried until it succeeds or attempts run out", "[rest][integration]") {
    env e;
    SECTION("retries on: success") {
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(http_fault(503), 2);
        CHECK(api.list_orgs().size() == 1);
        CHECK(api.stats().retries == 2);
        CHECK(api.stats().requests == 3);
    }
    SECTION("attempts exhausted") {
        e.cfg.retry.max_attempts = 2;
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(http_fault(503), 5);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        CHECK(ec == client_errc::http_status);
        CHECK(diag.http_status() == 503);
        CHECK(api.stats().requests == 2);
    }
    SECTION("retries off") {
        e.cfg.retry.max_attempts = 1;
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(http_fault(503), 1);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        CHECK(ec == client_errc::http_status);
        CHECK(diag.http_status() == 503);
        CHECK(api.stats().retries == 0);
        CHECK(api.list_orgs().size() == 1); // the fault was used up
    }
    SECTION("HTTP 4xx is not retried") {
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(http_fault(429), 1);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        CHECK(ec == client_errc::http_status);
        CHECK(diag.http_status() == 429);
        CHECK(api.stats().retries == 0);
    }
}

TEST_CASE("rest: API code 500 is retried, other codes are not", "[rest][integration]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    e.cloud.inject_fault(api_fault(500), 1);
    CHECK(api.list_groups(org_id).size() == 2);
    CHECK(api.stats().retries == 1);

    e.cloud.inject_fault(api_fault(201, "业务错误"), 1);
    diagnostics diag;
    error_code ec;
    api.list_groups(org_id, ec, diag);
    CHECK(ec == api_errc::business_error);
    CHECK(diag.server_message() == "业务错误");
    CHECK(api.stats().retries == 1);

    e.cfg.retry.max_attempts = 1;
    atomcloud::rest_client no_retry(e.io.get_executor(), e.cfg);
    e.cloud.inject_fault(api_fault(500), 1);
    no_retry.list_groups(org_id, ec, diag);
    CHECK(ec == api_errc::server_error);
}

TEST_CASE("rest: a slow server and the request timeout", "[rest][integration]") {
    env e;
    e.cfg.timeouts.request = 200ms;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    e.cloud.inject_fault(simple_fault(emu::fault::kind::delay, 3s), 1);
    diagnostics diag;
    error_code ec;
    const auto start = std::chrono::steady_clock::now();
    api.list_orgs(ec, diag);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(ec == boost::beast::error::timeout);
    CHECK(diag.client_message().find("timeouts.request") != std::string::npos);
    CHECK(elapsed < 2s);
    CHECK(api.stats().retries == 0);    // timeouts are not retried
    CHECK(api.list_orgs().size() == 1); // a new connection works
}

TEST_CASE("rest: a connection closed without an answer, or mid-body", "[rest][integration]") {
    env e;
    SECTION("closed before answering, retries off: an error, no crash") {
        e.cfg.retry.max_attempts = 1;
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(simple_fault(emu::fault::kind::close_connection), 1);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        REQUIRE(ec);
        CHECK(diag.client_message().find("closed the connection") != std::string::npos);
        CHECK(api.list_orgs().size() == 1);
    }
    SECTION("closed before answering, retried") {
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(simple_fault(emu::fault::kind::close_connection), 1);
        CHECK(api.list_orgs().size() == 1);
        CHECK(api.stats().retries == 1);
    }
    SECTION("truncated body, retries off") {
        e.cfg.retry.max_attempts = 1;
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(simple_fault(emu::fault::kind::truncated_body), 1);
        diagnostics diag;
        error_code ec;
        api.list_devices(org_id, group_official, ec, diag);
        REQUIRE(ec);
        CHECK(diag.client_message().find("closed the connection") != std::string::npos);
    }
    SECTION("truncated body, retried") {
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(simple_fault(emu::fault::kind::truncated_body), 1);
        CHECK(api.list_devices(org_id, group_official).size() == 2);
        CHECK(api.stats().retries == 1);
    }
}

TEST_CASE("rest: malformed JSON and oversized responses", "[rest][integration]") {
    env e;
    SECTION("malformed body: invalid_json, not retried") {
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.cloud.inject_fault(simple_fault(emu::fault::kind::malformed_body), 1);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        CHECK(ec == client_errc::invalid_json);
        CHECK(diag.http_status() == 200);
        CHECK(api.stats().retries == 0);
        CHECK(api.list_orgs().size() == 1);
    }
    SECTION("response over max_response_size") {
        e.cfg.max_response_size = 64;
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        diagnostics diag;
        error_code ec;
        api.list_devices(org_id, group_official, ec, diag);
        CHECK(ec == client_errc::response_too_large);
        CHECK(diag.client_message().find("max_response_size") != std::string::npos);
        CHECK(api.stats().retries == 0);
    }
}

TEST_CASE("rest: a CA that did not sign the server's certificate", "[rest][integration]") {
    env e;
    emu::server other; // its own, different, generated CA
    e.cfg.tls.ca_pem = other.ca_pem();
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    diagnostics diag;
    error_code ec;
    const auto orgs = api.list_orgs(ec, diag);
    CHECK(orgs.empty());
    REQUIRE(ec);
    CHECK(ec == atomcloud::client_errc::certificate_rejected);
    // (The emulator's certificate is its own CA: OpenSSL calls it self-signed.)
    CHECK(diag.client_message().find("TLS certificate rejected: self-signed certificate") !=
          std::string::npos);
    CHECK(api.stats().retries == 0);
    CHECK(api.stats().connections_opened == 0);
}

TEST_CASE("rest: ca_file and ca_pem are trusted together, and only they", "[rest][integration]") {
    env e;             // its emulator's CA goes into a file
    emu::server other; // another emulator, another CA: as PEM text
    const std::string file = "/tmp/atomcloud-rest-ca-" + std::to_string(::getpid()) + ".pem";
    {
        std::ofstream out(file);
        out << e.cfg.tls.ca_pem;
    }
    atomcloud::config both = e.cfg;
    both.tls.ca_file = file;
    both.tls.ca_pem = other.ca_pem();
    atomcloud::config to_other = both;
    to_other.base_url = other.client_config().base_url;
    atomcloud::rest_client first(e.io.get_executor(), both);
    atomcloud::rest_client second(e.io.get_executor(), to_other);
    CHECK(first.list_orgs().size() == 1);
    CHECK(second.list_orgs().size() == 1);
    // ca_pem alone: the first emulator's CA is no longer trusted.
    atomcloud::config pem_only = both;
    pem_only.tls.ca_file.clear();
    atomcloud::rest_client third(e.io.get_executor(), pem_only);
    error_code ec;
    diagnostics diag;
    third.list_orgs(ec, diag);
    CHECK(ec == atomcloud::client_errc::certificate_rejected);
    std::remove(file.c_str());
}

TEST_CASE("rest: verification turned off works, and says so loudly", "[rest][integration]") {
    env e;
    e.cfg.tls.ca_pem.clear();
    e.cfg.tls.verify = false;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    CHECK(api.list_orgs().size() == 1);
    CHECK(api.list_orgs().size() == 1);
    // Said once per client, not once per connection or request.
    const std::string logs = e.all_logs();
    const auto first = logs.find("TLS certificate verification is DISABLED");
    REQUIRE(first != std::string::npos);
    CHECK(logs.find("TLS certificate verification is DISABLED", first + 1) == std::string::npos);

    // The same client, moved, keeps working.
    atomcloud::rest_client moved(std::move(api));
    CHECK(moved.list_groups(org_id).size() == 2);
    CHECK(moved.stats().connections_opened == 1);
}

TEST_CASE("rest: configuration errors are reported by every operation", "[rest][integration]") {
    env e;
    SECTION("base URL") {
        e.cfg.base_url = "http://127.0.0.1:1/";
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        CHECK(ec == client_errc::invalid_base_url);
        CHECK_THROWS_AS(api.list_groups(org_id), atomcloud::error);
    }
    SECTION("CA file") {
        e.cfg.tls.ca_file = "/nonexistent/ca.pem";
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        CHECK(ec);
        CHECK(diag.client_message().find("/nonexistent/ca.pem") != std::string::npos);
    }
    SECTION("nobody listening: connect errors are retried, then reported") {
        emu::server gone;
        e.cfg = gone.client_config();
        e.cfg.retry.backoff.initial_delay = 1ms;
        gone.stop();
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        diagnostics diag;
        error_code ec;
        api.list_orgs(ec, diag);
        CHECK(ec == asio::error::connection_refused);
        CHECK(diag.client_message().find("TCP connect") != std::string::npos);
        CHECK(api.stats().retries == 2);
    }
}

// ---------------------------------------------------------------------------------------
// Connections

TEST_CASE("rest: keep-alive reuse", "[rest][integration]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    for (int i = 0; i < 5; ++i)
        CHECK(api.list_orgs().size() == 1);
    CHECK(api.stats().connections_opened == 1);
    CHECK(api.stats().requests == 5);
    CHECK(api.stats().reused == 4);
    CHECK(e.all_logs().find("reused)") != std::string::npos);
}

TEST_CASE("rest: an idle connection the server closed is replaced transparently",
          "[rest][integration]") {
    env e;
    e.cfg.retry.max_attempts = 1; // not a retry: the reconnect is separate
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    CHECK(api.list_orgs().size() == 1);
    e.cloud.restart(); // closes every connection, listens again
    CHECK(api.list_groups(org_id).size() == 2);
    CHECK(api.stats().reconnects == 1);
    CHECK(api.stats().connections_opened == 2);
    CHECK(api.stats().retries == 0);
    CHECK(e.all_logs().find("reconnecting") != std::string::npos);
}

TEST_CASE("rest: 50 requests in flight from several coroutines share the pool",
          "[rest][integration]") {
    env e;
    e.cfg.max_connections = 3;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    e.cloud.device(number).connect();
    for (int i = 0; i < 5; ++i)
        e.cloud.device(number).send("m" + std::to_string(i));

    std::atomic<int> ok{0};
    auto worker = [&](int w) -> asio::awaitable<void> {
        // Each coroutine keeps 10 requests in flight, then checks every answer.
        int finished = 0;
        asio::steady_timer wake(co_await asio::this_coro::executor,
                                asio::steady_timer::time_point::max());
        for (int i = 0; i < 10; ++i) {
            const int kind = (w + i) % 3;
            if (kind == 0)
                api.async_list_orgs([&](error_code ec, std::vector<atomcloud::org> orgs) {
                    if (!ec && orgs.size() == 1 && orgs[0].id == org_id)
                        ++ok;
                    if (++finished == 10)
                        wake.cancel();
                });
            else if (kind == 1)
                api.async_list_devices(org_id, group_official,
                                       [&](error_code ec, std::vector<atomcloud::device> d) {
                                           if (!ec && d.size() == 2 && d[0].id == 146)
                                               ++ok;
                                           if (++finished == 10)
                                               wake.cancel();
                                       });
            else
                api.async_packets(org_id, dev_number, {},
                                  [&](error_code ec, atomcloud::packet_page p) {
                                      if (!ec && p.items.size() == 5 &&
                                          p.items[0].payload == atomcloud::to_bytes("m4"))
                                          ++ok;
                                      if (++finished == 10)
                                          wake.cancel();
                                  });
        }
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        CHECK(finished == 10);
    };
    e.run([&]() -> asio::awaitable<void> {
        for (int w = 0; w < 5; ++w)
            asio::co_spawn(e.io, worker(w), asio::detached);
        co_return;
    });
    CHECK(ok == 50);
    CHECK(api.stats().requests == 50);
    CHECK(api.stats().connections_opened <= 3);
    CHECK(api.stats().connections_opened >= 1);
    CHECK(api.stats().reused >= 47);
}

TEST_CASE("rest: a request waiting for a pooled connection can be cancelled",
          "[rest][integration]") {
    env e;
    e.cfg.max_connections = 1;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    e.cloud.inject_fault(simple_fault(emu::fault::kind::delay, 1500ms), 1);
    e.run([&]() -> asio::awaitable<void> {
        // The first request holds the only connection for 1.5 s.
        auto first = api.async_list_orgs(asio::use_future);
        const auto start = std::chrono::steady_clock::now();
        auto [ec, groups] = co_await api.async_list_groups(
            org_id, atomcloud::cancel_after(50ms, asio::as_tuple(asio::use_awaitable)));
        CHECK(ec == asio::error::operation_aborted);
        CHECK(groups.empty());
        CHECK(std::chrono::steady_clock::now() - start < 1400ms);
        // The queue moves on: the next request gets the connection after the first.
        auto devices = co_await api.async_list_devices(org_id, group_official);
        CHECK(devices.size() == 2);
        CHECK(first.wait_for(0s) == std::future_status::ready);
        CHECK(first.get().size() == 1);
    });
    CHECK(api.stats().connections_opened == 1);
}

TEST_CASE("rest: destroying the client cancels its operations", "[rest][integration]") {
    env e;
    e.cloud.inject_fault(simple_fault(emu::fault::kind::delay, 2s), 1);
    error_code got;
    bool called = false;
    {
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        api.async_list_orgs([&](error_code ec, std::vector<atomcloud::org>) {
            called = true;
            got = ec;
        });
        // Let it reach the wire.
        e.io.run_for(100ms);
    }
    const auto start = std::chrono::steady_clock::now();
    e.io.restart();
    e.io.run();
    CHECK(called);
    CHECK(got == asio::error::operation_aborted);
    CHECK(std::chrono::steady_clock::now() - start < 1s);
}

// ---------------------------------------------------------------------------------------
// Completion tokens

TEST_CASE("rest: completion tokens", "[rest][integration]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);

    SECTION("callback") {
        std::vector<atomcloud::group> got;
        error_code got_ec = asio::error::would_block;
        api.async_list_groups(org_id, [&](error_code ec, std::vector<atomcloud::group> g) {
            got_ec = ec;
            got = std::move(g);
        });
        CHECK(got_ec == asio::error::would_block); // not called inline
        e.io.run();
        CHECK_FALSE(got_ec);
        CHECK(got.size() == 2);
    }
    SECTION("callback with diagnostics") {
        diagnostics diag;
        error_code got_ec;
        api.async_list_groups(999, diag, [&](error_code ec, auto) { got_ec = ec; });
        e.io.run();
        CHECK(got_ec == api_errc::not_found);
        CHECK(diag.api_code() == 401);
    }
    SECTION("use_future, with the io_context run by another thread") {
        auto work = asio::make_work_guard(e.io);
        std::thread runner([&] { e.io.run(); });
        auto fut = api.async_device_state(org_id, 146, asio::use_future);
        CHECK(fut.get().state == atomcloud::connection_state::disconnected);
        auto bad = api.async_device_state(org_id, 999999, asio::use_future);
        CHECK_THROWS_AS(bad.get(), atomcloud::error); // with the diagnostics
        work.reset();
        runner.join();
    }
    SECTION("use_awaitable, deferred (the default) and as_tuple") {
        e.run([&]() -> asio::awaitable<void> {
            auto orgs = co_await api.async_list_orgs(asio::use_awaitable);
            CHECK(orgs.size() == 1);
            auto groups = co_await api.async_list_groups(org_id); // deferred
            CHECK(groups.size() == 2);
            auto [ec, devices] =
                co_await api.async_list_devices(org_id, 999, asio::as_tuple(asio::use_awaitable));
            CHECK(ec == api_errc::not_found);
            CHECK(devices.empty());
            try {
                co_await api.async_list_devices(org_id, 999);
                FAIL("no exception");
            } catch (const atomcloud::error& err) {
                CHECK(err.code() == api_errc::not_found);
                CHECK(err.get_diagnostics().api_code() == 401);
            }
        });
    }
    SECTION("deferred, launched later with a callback") {
        auto op = api.async_list_orgs(asio::deferred);
        std::size_t n = 0;
        std::move(op)([&](error_code ec, std::vector<atomcloud::org> orgs) {
            CHECK_FALSE(ec);
            n = orgs.size();
        });
        e.io.run();
        CHECK(n == 1);
    }
    SECTION("cancel_after: future, callback and coroutine") {
        e.cloud.inject_fault(simple_fault(emu::fault::kind::delay, 2s), 3);
        auto work = asio::make_work_guard(e.io);
        std::thread runner([&] { e.io.run(); });
        auto fut = api.async_list_orgs(atomcloud::cancel_after(100ms, asio::use_future));
        try {
            fut.get();
            FAIL("no exception");
        } catch (const boost::system::system_error& err) {
            CHECK(err.code() == asio::error::operation_aborted);
        }
        std::promise<error_code> p;
        api.async_list_orgs(atomcloud::cancel_after(
            100ms, [&](error_code ec, std::vector<atomcloud::org>) { p.set_value(ec); }));
        CHECK(p.get_future().get() == asio::error::operation_aborted);
        work.reset();
        runner.join();
        e.run([&]() -> asio::awaitable<void> {
            auto [ec, orgs] = co_await api.async_list_orgs(
                atomcloud::cancel_after(100ms, asio::as_tuple(asio::use_awaitable)));
            CHECK(ec == asio::error::operation_aborted);
            // A limit that is not reached changes nothing.
            auto groups = co_await api.async_list_groups(org_id, atomcloud::cancel_after(5s));
            CHECK(groups.size() == 2);
        });
    }
#if BOOST_VERSION >= 108600
    SECTION("boost::asio::cancel_after") {
        e.cloud.inject_fault(simple_fault(emu::fault::kind::delay, 2s), 1);
        e.run([&]() -> asio::awaitable<void> {
            auto [ec, orgs] = co_await api.async_list_orgs(
                asio::cancel_after(100ms, asio::as_tuple(asio::use_awaitable)));
            CHECK(ec == asio::error::operation_aborted);
        });
    }
#endif
}

TEST_CASE("rest: synchronous forms", "[rest][integration]") {
    env e;
    SECTION("with a stopped io_context") {
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        e.io.stop();
        CHECK(api.list_orgs().size() == 1);
        CHECK(api.list_orgs().size() == 1);
    }
    SECTION("on a strand, with other threads running the io_context") {
        auto work = asio::make_work_guard(e.io);
        std::thread runner([&] { e.io.run(); });
        atomcloud::rest_client api(asio::make_strand(e.io), e.cfg);
        CHECK(api.list_groups(org_id).size() == 2);
        error_code ec;
        diagnostics diag;
        CHECK(api.list_devices(org_id, 999, ec, diag).empty());
        CHECK(ec == api_errc::not_found);
        work.reset();
        runner.join();
    }
    SECTION("on a thread pool") {
        asio::thread_pool pool(2);
        atomcloud::rest_client api(asio::make_strand(pool), e.cfg);
        CHECK(api.list_orgs().size() == 1);
        CHECK(api.device_state(org_id, 146).raw == "disconnected");
        pool.join();
    }
    SECTION("error_code forms do not throw") {
        e.cfg.retry.max_attempts = 1;
        atomcloud::rest_client api(e.io.get_executor(), e.cfg);
        error_code ec;
        diagnostics diag;
        e.cloud.inject_fault(simple_fault(emu::fault::kind::malformed_body), 1);
        CHECK_NOTHROW(api.list_orgs(ec, diag));
        CHECK(ec == client_errc::invalid_json);
        CHECK_NOTHROW(api.packets(org_id, unknown_number, {}, ec, diag));
        CHECK(ec == api_errc::not_found);
    }
}

// ---------------------------------------------------------------------------------------
// History beyond one page

TEST_CASE("rest: the history walk yields every packet once, newest first",
          "[rest][integration][history]") {
    env e;
    atomcloud::rest_client api(e.io.get_executor(), e.cfg);
    auto dev = e.cloud.device(number);
    dev.connect();
    for (int i = 0; i < 25; ++i)
        dev.send(i % 5 == 0 ? std::string(atomcloud::default_heartbeat)
                            : "msg" + std::to_string(i));

    atomcloud::history_walk_options opts;
    opts.page_size = 4;
    auto all = atomcloud::fetch_history(api, org_id, dev_number, opts);
    REQUIRE(all.size() == 25);
    CHECK(atomcloud::as_chars(all.front().payload) == "msg24");
    CHECK(atomcloud::is_heartbeat(all.back().payload));
    for (std::size_t i = 1; i < all.size(); ++i)
        CHECK(all[i - 1].time >= all[i].time);

    opts.skip_heartbeats = true;
    auto data = atomcloud::fetch_history(api, org_id, dev_number, opts);
    CHECK(data.size() == 20);

    // Batch by batch, while the device keeps sending: nothing twice, nothing lost.
    opts.skip_heartbeats = false;
    atomcloud::history_walker walk(api, org_id, dev_number, opts);
    std::vector<std::string> seen;
    int extra = 0;
    while (!walk.done()) {
        auto batch = walk.next_batch();
        for (const auto& p : batch)
            seen.emplace_back(atomcloud::as_chars(p.payload));
        dev.send("late" + std::to_string(extra++));
    }
    CHECK(seen.size() == 25);
    std::multiset<std::string> unique(seen.begin(), seen.end());
    CHECK(unique.count(std::string(atomcloud::default_heartbeat)) == 5);
    CHECK(unique.count("msg24") == 1);
    CHECK(unique.count("late0") == 0);

    // Asynchronously, with a coroutine.
    e.run([&]() -> asio::awaitable<void> {
        atomcloud::history_walk_options o;
        o.page_size = 1000;
        auto everything = co_await atomcloud::async_fetch_history(api, org_id, dev_number, o);
        CHECK(everything.size() == 25 + static_cast<std::size_t>(extra));
        atomcloud::history_walker w(api, org_id, unknown_number);
        auto [ec, batch] = co_await w.async_next_batch(asio::as_tuple(asio::use_awaitable));
        CHECK(ec == api_errc::not_found);
        CHECK(batch.empty());
    });

    // One batch at a time per walker.
    atomcloud::history_walker w(api, org_id, dev_number, opts);
    error_code first_ec = asio::error::would_block, second_ec;
    std::size_t first_size = 0;
    w.async_next_batch([&](error_code ec, std::vector<atomcloud::packet> b) {
        first_ec = ec;
        first_size = b.size();
    });
    w.async_next_batch([&](error_code ec, std::vector<atomcloud::packet>) { second_ec = ec; });
    e.io.restart();
    e.io.run();
    CHECK_FALSE(first_ec);
    CHECK(first_size == 4);
    CHECK(second_ec == asio::error::in_progress);

    // A whole walk under a time limit.
    e.cloud.inject_fault(simple_fault(emu::fault::kind::delay, 2s), 1);
    e.run([&]() -> asio::awaitable<void> {
        auto [ec, got] = co_await atomcloud::async_fetch_history(
            api, org_id, dev_number, opts,
            atomcloud::cancel_after(100ms, asio::as_tuple(asio::use_awaitable)));
        CHECK(ec == asio::error::operation_aborted);
        CHECK(got.empty());
    });
}
