// The HTTPS API without sockets: targets, times, response parsing, retry classification,
// backoff.
#include <atomcloud/detail/backoff.hpp>
#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/payload.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using atomcloud::api_errc;
using atomcloud::client_errc;
using atomcloud::diagnostics;
using atomcloud::error_code;
namespace detail = atomcloud::detail;

namespace {

std::chrono::system_clock::time_point utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
    const auto days = detail::days_from_civil(y, mo, d);
    return std::chrono::system_clock::time_point(
        std::chrono::seconds(days * 86400 + h * 3600 + mi * 60 + s));
}

const detail::parse_context ctx{"secret-token-123", std::chrono::minutes(480), nullptr};

std::string envelope(const std::string& data, int code = 200, const std::string& message = "") {
    return R"({"code":)" + std::to_string(code) + R"(,"message":")" + message + R"(","data":)" +
           data + "}";
}

} // namespace

// ---------------------------------------------------------------------------------------
// Targets

TEST_CASE("targets: every endpoint, with and without a path prefix", "[rest][url]") {
    CHECK(detail::orgs_target("") == "/api/orgs");
    CHECK(detail::orgs_target("/v2") == "/v2/api/orgs");
    CHECK(detail::groups_target("", 12) == "/api/orgs/12/grouplist");
    CHECK(detail::devices_target("/p/q", 12, 45) == "/p/q/api/orgs/12/groups/45/devices");
    CHECK(detail::device_state_target("", 1, 146) == "/api/orgs/1/devicestate/146");
    CHECK(detail::packets_target("", 1, "18846494908532689575", {}, 480min) ==
          "/api/orgs/1/devicepacket/18846494908532689575");
}

TEST_CASE("targets: history query, start/end in UTC+8 and percent-encoded", "[rest][url]") {
    atomcloud::packet_query q;
    q.page = 2;
    q.limit = 50;
    // 2018-08-11 09:00:00 UTC is 17:00:00 in UTC+8 (the spec's example).
    q.start = utc(2018, 8, 11, 9, 0, 0);
    q.end = utc(2018, 8, 11, 9, 3, 39) + 300928us; // truncated to the second
    CHECK(detail::packets_target("/prefix", 7, "18846494908532689575", q, 480min) ==
          "/prefix/api/orgs/7/devicepacket/18846494908532689575?page=2&limit=50"
          "&start=2018-08-11%2017%3A00%3A00&end=2018-08-11%2017%3A03%3A39");

    atomcloud::packet_query only_end;
    only_end.end = utc(2018, 12, 31, 20, 0, 0); // crosses midnight into the new year
    CHECK(detail::packets_target("", 7, "n", only_end, 480min) ==
          "/api/orgs/7/devicepacket/n?end=2019-01-01%2004%3A00%3A00");
    CHECK(detail::packets_target("", 7, "n", only_end, 0min) ==
          "/api/orgs/7/devicepacket/n?end=2018-12-31%2020%3A00%3A00");
}

TEST_CASE("targets: device numbers are percent-encoded", "[rest][url]") {
    CHECK(detail::packets_target("", 1, "a b/c?d", {}, 480min) ==
          "/api/orgs/1/devicepacket/a%20b%2Fc%3Fd");
    CHECK(detail::packets_target("", 1, "b6d85634-9d34-4052-80cd-b840b75cb910", {}, 480min) ==
          "/api/orgs/1/devicepacket/b6d85634-9d34-4052-80cd-b840b75cb910");
}

// ---------------------------------------------------------------------------------------
// Responses: the spec's examples

TEST_CASE("orgs: the spec's example item", "[rest][parse]") {
    diagnostics diag;
    error_code ec;
    const auto orgs = detail::parse_orgs(
        200,
        envelope(
            R"([{"id":1,"name":"正点原子","acc_id":0,"device_limit":1000,"device_counter":4,"created_at":"2018-04-14T15:30:52+08:00"}])"),
        ctx, diag, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(orgs.size() == 1);
    CHECK(orgs[0].id == 1);
    CHECK(orgs[0].name == "正点原子");
    CHECK(orgs[0].acc_id == 0);
    CHECK(orgs[0].device_limit == 1000);
    CHECK(orgs[0].device_counter == 4);
    CHECK(orgs[0].created_at == "2018-04-14T15:30:52+08:00");
    CHECK(diag.api_code() == 200);
    CHECK(diag.http_status() == 200);
}

TEST_CASE("groups: the fields seen in the wild, unknown ones ignored", "[rest][parse]") {
    diagnostics diag;
    error_code ec;
    const auto groups = detail::parse_groups(
        200,
        envelope(
            R"([{"id": 45, "acc_id": 0, "acc_name": "", "org_id": 0, "org_name": "", "transfer_groups": [], "count_device": 0, "created_at": "2018-08-01T10:00:00+08:00", "operation": {"x": 1}},
                     {"id": 44, "name": "默认分组", "acc_id": 3, "acc_name": "me", "org_id": 1, "org_name": "正点原子"}])"),
        ctx, diag, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].id == 45);
    CHECK(groups[0].name.empty());
    CHECK(groups[0].created_at == "2018-08-01T10:00:00+08:00");
    CHECK(groups[1].id == 44);
    CHECK(groups[1].name == "默认分组");
    CHECK(groups[1].org_id == 1);
    CHECK(groups[1].org_name == "正点原子");
    CHECK(groups[1].acc_name == "me");
}

TEST_CASE("devices: the spec's example (show_id a number, no device_type)", "[rest][parse]") {
    diagnostics diag;
    error_code ec;
    const auto devices = detail::parse_devices(
        200,
        envelope(
            R"([{"id":146,"show_id":1007,"name":"官方设备 - 2","number":"18846494908532689575"}])"),
        ctx, diag, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(devices.size() == 1);
    CHECK(devices[0].id == 146);
    CHECK(devices[0].show_id == "1007");
    CHECK(devices[0].name == "官方设备 - 2");
    CHECK(devices[0].number == "18846494908532689575");
    CHECK(devices[0].type == atomcloud::device_type::unknown);
    CHECK(devices[0].type_raw.empty());
    REQUIRE(devices[0].as_device_number());
    CHECK(devices[0].as_device_number()->view() == "18846494908532689575");
}

TEST_CASE("devices: show_id as text, every device type, odd numbers", "[rest][parse]") {
    diagnostics diag;
    error_code ec;
    const auto devices = detail::parse_devices(200, envelope(R"([
            {"id":1,"show_id":"A-7","device_type":"01","name":"a","number":"00000000000000000001"},
            {"id":2,"show_id":null,"device_type":"02","number":"00000000000000000002"},
            {"id":3,"device_type":"03","number":"b6d85634-9d34-4052-80cd-b840b75cb910"},
            {"id":4,"device_type":"04","number":"00000000000000000004"},
            {"id":5,"device_type":"09","number":"00000000000000000005","extra":true}])"),
                                               ctx, diag, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(devices.size() == 5);
    CHECK(devices[0].show_id == "A-7");
    CHECK(devices[1].show_id.empty());
    CHECK(devices[1].name.empty());
    CHECK(devices[0].type == atomcloud::device_type::dtu);
    CHECK(devices[1].type == atomcloud::device_type::wifi);
    CHECK(devices[2].type == atomcloud::device_type::nbiot);
    CHECK(devices[3].type == atomcloud::device_type::dtu_4g);
    CHECK(devices[4].type == atomcloud::device_type::unknown);
    CHECK(devices[4].type_raw == "09");
    CHECK_FALSE(devices[2].as_device_number()); // an NB-IoT id is not a 20-char number
    CHECK(std::string(atomcloud::to_string(devices[3].type)) == "dtu_4g");
}

TEST_CASE("device state: every documented value, and unknown text kept", "[rest][parse]") {
    using atomcloud::connection_state;
    const std::pair<const char*, connection_state> cases[] = {
        {"connected", connection_state::connected},
        {"disconnected", connection_state::disconnected},
        {"binded", connection_state::binded},
        {"notbind", connection_state::notbind},
        {"sleeping", connection_state::unknown},
    };
    for (const auto& [text, state] : cases) {
        diagnostics diag;
        error_code ec;
        const auto s = detail::parse_device_state(200, envelope(std::string("\"") + text + "\""),
                                                  ctx, diag, ec);
        REQUIRE_FALSE(ec);
        CHECK(s.state == state);
        CHECK(s.raw == text);
        CHECK(atomcloud::to_string(s) == text);
    }
    diagnostics diag;
    error_code ec;
    auto s = detail::parse_device_state(
        200, R"({"code": 200, "message": "", "data": "disconnected"})", ctx, diag, ec);
    CHECK_FALSE(s.online());
    detail::parse_device_state(200, envelope("{}"), ctx, diag, ec);
    CHECK(ec == client_errc::invalid_field);
    CHECK(diag.client_message() == "data: expected a string");
    detail::parse_device_state(200, R"({"code":200,"message":""})", ctx, diag, ec);
    CHECK(ec == client_errc::invalid_field);
}

TEST_CASE("history page: the spec's example packets", "[rest][parse]") {
    const std::string body = R"({
  "code": 200,
  "message": "",
  "data": {
    "current_page": 1,
    "total_page": 1,
    "total_item": 10,
    "page_limit": 30,
    "items": [
      {"time": "2018-08-11T17:03:39.300928+08:00", "hex_packet": "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54", "length": 14, "number": "18846494908532689575"},
      {"time": "2018-08-11T17:02:39.401668+08:00", "hex_packet": "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54", "length": 14},
      {"time": "2018-08-11T17:02:24.560741+08:00", "hex_packet": "64 73 66 67 64 67 73 64 67 66 64 73 67 32 33 34 32 31 34 32 31 33", "length": 22},
      {"time": "2018-08-11T17:02:18.28068+08:00", "hex_packet": "D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4 32 31 33 31 32 33 31 32 33 31 32 33 32 31 33 31"},
      {"time": "2018-08-11T17:01:10.16076+08:00", "hex_packet": "D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4", "length": 16}
    ]
  }
})";
    diagnostics diag;
    error_code ec;
    const auto page = detail::parse_packet_page(200, body, ctx, diag, ec);
    REQUIRE_FALSE(ec);
    CHECK(page.current_page == 1);
    CHECK(page.total_page == 1);
    CHECK(page.total_item == 10);
    CHECK(page.page_limit == 30);
    REQUIRE(page.items.size() == 5);
    const auto& first = page.items[0];
    CHECK(first.raw_time == "2018-08-11T17:03:39.300928+08:00");
    CHECK(first.time.time_since_epoch() ==
          (utc(2018, 8, 11, 9, 3, 39) + 300928us).time_since_epoch());
    CHECK(first.utc_offset == 480min);
    CHECK(atomcloud::is_heartbeat(first.payload));
    CHECK(first.length == 14);
    CHECK(first.length_matches());
    CHECK(first.number == "18846494908532689575");
    CHECK(first.hex == "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54");
    CHECK(page.items[3].time.time_since_epoch() ==
          (utc(2018, 8, 11, 9, 2, 18) + 280680us).time_since_epoch());
    CHECK(page.items[3].length == 32); // absent: the byte count
    CHECK(atomcloud::gbk_to_utf8(page.items[4].payload) == "正点原子数据测试");
    // Newest first, as sent.
    for (std::size_t i = 1; i < page.items.size(); ++i)
        CHECK(page.items[i - 1].time > page.items[i].time);
}

TEST_CASE("history page: empty, null items, and length disagreeing with the bytes",
          "[rest][parse]") {
    diagnostics diag;
    error_code ec;
    auto page = detail::parse_packet_page(
        200,
        envelope(R"({"current_page":1,"total_page":0,"total_item":0,"page_limit":30,"items":[]})"),
        ctx, diag, ec);
    REQUIRE_FALSE(ec);
    CHECK(page.items.empty());
    CHECK(page.total_page == 0);

    page = detail::parse_packet_page(200, envelope(R"({"items":null})"), ctx, diag, ec);
    REQUIRE_FALSE(ec);
    CHECK(page.items.empty());

    std::vector<std::string> warnings;
    atomcloud::logger log{
        atomcloud::log_level::warning,
        [&](atomcloud::log_level, std::string_view m) { warnings.emplace_back(m); }};
    detail::parse_context with_log = ctx;
    with_log.log = &log;
    page = detail::parse_packet_page(
        200,
        envelope(
            R"({"items":[{"time":"2018-08-11T17:03:39+08:00","hex_packet":"01 02 03","length":5}]})"),
        with_log, diag, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(page.items.size() == 1);
    CHECK(page.items[0].payload == atomcloud::bytes{1, 2, 3}); // the bytes are kept
    CHECK(page.items[0].length == 5);
    CHECK_FALSE(page.items[0].length_matches());
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("length 5") != std::string::npos);

    page = detail::parse_packet_page(
        200, envelope(R"({"items":[{"time":"2018-08-11T17:03:39+08:00","hex_packet":""}]})"), ctx,
        diag, ec);
    REQUIRE_FALSE(ec);
    CHECK(page.items[0].payload.empty());
    CHECK(page.items[0].length == 0);
}

// ---------------------------------------------------------------------------------------
// Responses: errors

TEST_CASE("responses: every documented code, and undocumented ones", "[rest][parse]") {
    for (int code : {201, 300, 301, 302, 400, 401, 500, 999, -1}) {
        diagnostics diag;
        error_code ec;
        const auto orgs =
            detail::parse_orgs(200, envelope("null", code, "设备不存在"), ctx, diag, ec);
        INFO(code);
        CHECK(orgs.empty());
        CHECK(ec == atomcloud::make_api_error(code));
        CHECK(ec.category() == atomcloud::api_category());
        CHECK(diag.api_code() == code);
        CHECK(diag.server_message() == "设备不存在");
        CHECK(diag.http_status() == 200);
    }
    diagnostics diag;
    error_code ec;
    detail::parse_devices(200, envelope("[]", 401, "no such org"), ctx, diag, ec);
    CHECK(ec == api_errc::not_found);
    detail::parse_groups(200, envelope("[]", 300, ""), ctx, diag, ec);
    CHECK(ec == api_errc::not_logged_in);
    detail::parse_packet_page(200, envelope("{}", 400, "bad limit"), ctx, diag, ec);
    CHECK(ec == api_errc::invalid_parameter);
    CHECK(diag.server_message() == "bad limit");
}

TEST_CASE("responses: the server's message never carries the token", "[rest][parse]") {
    diagnostics diag;
    error_code ec;
    detail::parse_orgs(200, envelope("[]", 300, "token secret-token-123 is invalid"), ctx, diag,
                       ec);
    CHECK(ec == api_errc::not_logged_in);
    CHECK(diag.server_message() == "token *** is invalid");
    CHECK(atomcloud::error(ec, diag).what() ==
          std::string("atomcloud: not logged in or no "
                      "permission (bad or missing token) "
                      "(API code 300): HTTP 200; server: token *** "
                      "is invalid"));
}

TEST_CASE("responses: HTTP status other than 200", "[rest][parse]") {
    diagnostics diag;
    error_code ec;
    detail::parse_orgs(503, "<html>Service Unavailable</html>", ctx, diag, ec);
    CHECK(ec == client_errc::http_status);
    CHECK(diag.http_status() == 503);
    CHECK(diag.api_code() == 0);
    CHECK(diag.server_message().empty());

    // An envelope in an error response keeps its message.
    detail::parse_orgs(404, envelope("null", 404, "not found"), ctx, diag, ec);
    CHECK(ec == client_errc::http_status);
    CHECK(diag.http_status() == 404);
    CHECK(diag.api_code() == 404);
    CHECK(diag.server_message() == "not found");
    CHECK(detail::is_transient(ec, 503));
    CHECK_FALSE(detail::is_transient(ec, 404));
}

TEST_CASE("responses: garbage bodies", "[rest][parse]") {
    const std::pair<const char*, client_errc> cases[] = {
        {"", client_errc::invalid_json},
        {"not json", client_errc::invalid_json},
        {"{\"code\": 200, \"data\": [", client_errc::invalid_json},
        {"\xff\xfe{}", client_errc::invalid_json},
        // The vendor document's own sample: keys without quotes is not JSON.
        {"{ code : 200, message : \"\", data : [] }", client_errc::invalid_json},
        {"[]", client_errc::missing_envelope},
        {"42", client_errc::missing_envelope},
        {"{}", client_errc::missing_envelope},
        {"{\"code\": \"200\", \"data\": []}", client_errc::missing_envelope},
        {"{\"code\": 200.5, \"data\": []}", client_errc::missing_envelope},
        {"{\"message\": \"x\", \"data\": []}", client_errc::missing_envelope},
    };
    for (const auto& [body, expected] : cases) {
        INFO(body);
        diagnostics diag;
        error_code ec;
        const auto orgs = detail::parse_orgs(200, body, ctx, diag, ec);
        CHECK(ec == expected);
        CHECK(orgs.empty());
        CHECK_FALSE(diag.client_message().empty());
    }
    // Deep nesting is rejected or parsed without crashing.
    diagnostics diag;
    error_code ec;
    detail::parse_orgs(200, std::string(100000, '[') + std::string(100000, ']'), ctx, diag, ec);
    CHECK(ec == client_errc::missing_envelope);
}

TEST_CASE("responses: wrong types name the field", "[rest][parse]") {
    struct case_t {
        std::string data;
        const char* message;
    };
    const case_t org_cases[] = {
        {R"({"id":1})", "data: expected an array"},
        {R"([{"id":1},{"id":2},{"id":"x"}])", "data[2].id: expected an integer"},
        {R"([{"id":1.5}])", "data[0].id: expected an integer"},
        {R"([{"name":"x"}])", "data[0].id: missing (expected an integer)"},
        {R"([{"id":1,"name":{"a":1}}])", "data[0].name: expected a string"},
        {R"([{"id":1,"device_limit":[1]}])", "data[0].device_limit: expected an integer"},
        {R"([{"id":18446744073709551615}])", "data[0].id: integer out of range"},
        {R"([1])", "data[0]: expected an object"},
    };
    for (const auto& c : org_cases) {
        INFO(c.data);
        diagnostics diag;
        error_code ec;
        CHECK(detail::parse_orgs(200, envelope(c.data), ctx, diag, ec).empty());
        CHECK(ec == client_errc::invalid_field);
        CHECK(diag.client_message() == c.message);
    }
    diagnostics diag;
    error_code ec;
    detail::parse_devices(200, envelope(R"([{"id":1,"number":20}])"), ctx, diag, ec);
    CHECK_FALSE(ec); // a number where text is expected is taken as its text
    detail::parse_devices(200, envelope(R"([{"id":1}])"), ctx, diag, ec);
    CHECK(ec == client_errc::invalid_field);
    CHECK(diag.client_message() == "data[0].number: missing (expected a string)");
    detail::parse_devices(200, envelope(R"([{"id":1,"number":"n","show_id":[1]}])"), ctx, diag, ec);
    CHECK(diag.client_message() == "data[0].show_id: expected a string");

    const case_t page_cases[] = {
        {R"([])", "data: expected an object"},
        {R"({"items":{}})", "data.items: expected an array"},
        {R"({"total_page":"many","items":[]})", "data.total_page: expected an integer"},
        {R"({"items":[{"hex_packet":"01"}]})", "data.items[0].time: missing (expected a string)"},
        {R"({"items":[{"time":"yesterday","hex_packet":"01"}]})",
         "data.items[0].time: expected a time such as 2018-08-11T17:03:39.300928+08:00"},
        {R"({"items":[{"time":"2018-08-11T17:03:39+08:00"}]})",
         "data.items[0].hex_packet: missing (expected a string)"},
        {R"({"items":[{"time":"2018-08-11T17:03:39+08:00","hex_packet":"4G"}]})",
         "data.items[0].hex_packet: expected hex pairs such as \"41 4C 49\""},
        {R"({"items":[{"time":"2018-08-11T17:03:39+08:00","hex_packet":"01","length":-1}]})",
         "data.items[0].length: expected a non-negative integer"},
    };
    for (const auto& c : page_cases) {
        INFO(c.data);
        detail::parse_packet_page(200, envelope(c.data), ctx, diag, ec);
        CHECK(ec == client_errc::invalid_field);
        CHECK(diag.client_message() == c.message);
    }
    detail::parse_packet_page(200, R"({"code":200,"message":""})", ctx, diag, ec);
    CHECK(ec == client_errc::invalid_field);
    CHECK(diag.client_message() == "data: missing (expected an object)");
}

TEST_CASE("responses: lenient where the SDK does not need a field", "[rest][parse]") {
    diagnostics diag;
    error_code ec;
    // Missing data on a list: empty. Integers sent as text: accepted. Missing message.
    auto orgs = detail::parse_orgs(200, R"({"code":200})", ctx, diag, ec);
    CHECK_FALSE(ec);
    CHECK(orgs.empty());
    orgs = detail::parse_orgs(200, envelope(R"([{"id":"17","device_limit":"5","name":null}])"), ctx,
                              diag, ec);
    REQUIRE_FALSE(ec);
    CHECK(orgs[0].id == 17);
    CHECK(orgs[0].device_limit == 5);
    CHECK(orgs[0].name.empty());
}

// ---------------------------------------------------------------------------------------
// Retries

TEST_CASE("retries: what counts as transient", "[rest][retry]") {
    namespace net = boost::asio;
    namespace http = boost::beast::http;
    CHECK(detail::is_transient(atomcloud::make_error_code(client_errc::http_status), 500));
    CHECK(detail::is_transient(atomcloud::make_error_code(client_errc::http_status), 503));
    CHECK_FALSE(detail::is_transient(atomcloud::make_error_code(client_errc::http_status), 429));
    CHECK(detail::is_transient(atomcloud::make_error_code(api_errc::server_error), 200));
    CHECK_FALSE(detail::is_transient(atomcloud::make_error_code(api_errc::not_found), 200));
    CHECK_FALSE(detail::is_transient(atomcloud::make_error_code(api_errc::not_logged_in), 200));
    CHECK(detail::is_transient(net::error::connection_refused, 0));
    CHECK(detail::is_transient(net::error::connection_reset, 0));
    CHECK(detail::is_transient(net::error::eof, 0));
    CHECK(detail::is_transient(http::error::partial_message, 0));
    CHECK(detail::is_transient(http::error::end_of_stream, 0));
    CHECK(detail::is_transient(net::ssl::error::stream_truncated, 0));
    CHECK_FALSE(detail::is_transient(boost::beast::error::timeout, 0));
    CHECK_FALSE(detail::is_transient(net::error::operation_aborted, 0));
    CHECK_FALSE(detail::is_transient(net::error::host_not_found, 0));
    CHECK_FALSE(detail::is_transient(atomcloud::make_error_code(client_errc::invalid_json), 200));
    CHECK_FALSE(
        detail::is_transient(atomcloud::make_error_code(client_errc::response_too_large), 200));
    CHECK_FALSE(detail::is_transient({}, 200));
}

TEST_CASE("retries: the REST retries wait on the shared backoff schedule", "[rest][retry]") {
    atomcloud::retry_options r;
    CHECK(r.backoff.initial_delay == 200ms); // the REST defaults
    CHECK(r.backoff.max_delay == 5s);
    r.backoff.jitter = 0.0;
    auto schedule = [](const atomcloud::backoff_options& o, int n) {
        detail::backoff b(o, 1);
        std::vector<long> out;
        for (int i = 0; i < n; ++i)
            out.push_back(static_cast<long>(b.next().count()));
        return out;
    };
    CHECK(schedule(r.backoff, 7) == std::vector<long>{200, 400, 800, 1600, 3200, 5000, 5000});
    {
        detail::backoff b(r.backoff, 1);
        for (int i = 0; i < 5000; ++i) // far past the point where the growth overflows
            CHECK(b.next() <= 5s);
        CHECK(b.next() == 5s);
    }

    r.backoff.multiplier = 0.5; // below 1: constant
    CHECK(schedule(r.backoff, 4) == std::vector<long>{200, 200, 200, 200});
    r.backoff.multiplier = 1.5;
    r.backoff.initial_delay = 10ms;
    r.backoff.max_delay = 20ms;
    CHECK(schedule(r.backoff, 3) == std::vector<long>{10, 15, 20});
    r.backoff.initial_delay = 0ms;
    {
        detail::backoff b(r.backoff, 1);
        for (int i = 0; i < 3000; ++i) // 0 * an overflowed growth is still no wait
            CHECK(b.next() == 0ms);
    }
}

TEST_CASE("responses: mutated bodies never crash or throw", "[rest][parse]") {
    // Valid bodies of every endpoint, then bytes flipped, deleted, duplicated and cut.
    const std::string seeds[] = {
        envelope(
            R"([{"id":1,"name":"正点原子","acc_id":0,"device_limit":1000,"device_counter":4,"created_at":"2018-04-14T15:30:52+08:00"}])"),
        envelope(
            R"([{"id":146,"show_id":1007,"device_type":"01","name":"官方设备 - 2","number":"18846494908532689575"}])"),
        envelope(R"("connected")"),
        envelope(
            R"({"current_page":1,"total_page":1,"total_item":2,"page_limit":30,"items":[{"time":"2018-08-11T17:03:39.300928+08:00","hex_packet":"41 4C 49","length":3,"number":"1"},{"time":"2018-08-11T17:02:18.28068+08:00","hex_packet":"D5 FD","length":2}]})"),
    };
    std::uint32_t state = 12345;
    auto next = [&state] {
        state = state * 1664525u + 1013904223u;
        return state >> 8;
    };
    const char specials[] = {'"', '{', '}', '[', ']', ',', ':', '\\', '0', '-', '.', 'e', ' '};
    std::size_t parsed_ok = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string body = seeds[next() % 4];
        const int edits = 1 + static_cast<int>(next() % 4);
        for (int k = 0; k < edits && !body.empty(); ++k) {
            const std::size_t pos = next() % body.size();
            switch (next() % 4) {
            case 0:
                body[pos] = specials[next() % sizeof specials];
                break;
            case 1:
                body.erase(pos, 1 + next() % 8);
                break;
            case 2:
                body.insert(pos, body.substr(pos, 1 + next() % 16));
                break;
            default:
                body.resize(pos);
                break;
            }
        }
        diagnostics diag;
        error_code ec;
        REQUIRE_NOTHROW(detail::parse_orgs(200, body, ctx, diag, ec));
        REQUIRE_NOTHROW(detail::parse_groups(200, body, ctx, diag, ec));
        REQUIRE_NOTHROW(detail::parse_devices(200, body, ctx, diag, ec));
        REQUIRE_NOTHROW(detail::parse_device_state(200, body, ctx, diag, ec));
        atomcloud::packet_page page;
        REQUIRE_NOTHROW(page = detail::parse_packet_page(200, body, ctx, diag, ec));
        if (!ec) {
            ++parsed_ok;
            for (const auto& p : page.items)
                CHECK(p.payload.size() * 2 <= p.hex.size());
        } else {
            CHECK(page.items.empty());
            CHECK((ec.category() == atomcloud::client_category() ||
                   ec.category() == atomcloud::api_category()));
        }
    }
    CHECK(parsed_ok > 0); // some mutations stay valid (e.g. inside strings)
}

TEST_CASE("envelope: read alone, as the session reads a refused upgrade", "[rest][parse]") {
    diagnostics d;
    d.set_http_status(401);
    detail::read_envelope(
        R"({"code":401,"message":"bad token secret-token-123","data":[1,{"a":2}]})",
        "secret-token-123", d);
    CHECK(d.http_status() == 401); // kept
    CHECK(d.api_code() == 401);
    CHECK(d.server_message().find("secret-token-123") == std::string::npos);
    CHECK(d.server_message().find("bad token") == 0);

    diagnostics gbk;
    detail::read_envelope("{\"message\":\"\xB4\xED\xCE\xF3\",\"code\":302}", "t", gbk);
    CHECK(gbk.api_code() == 302); // ill-formed UTF-8 does not lose the code
    CHECK(gbk.server_message().find("\xEF\xBF\xBD") != std::string::npos);

    for (const char* not_one : {"", "<html>502</html>", "[1,2]", R"({"message":"no code"})",
                                R"({"code":"401"})", "{\"code\":401", "null"}) {
        INFO(not_one);
        diagnostics n;
        detail::read_envelope(not_one, "t", n);
        CHECK(n.api_code() == 0);
        CHECK(n.server_message().empty());
    }
    std::string deep(100000, '[');
    diagnostics n;
    detail::read_envelope(deep, "t", n);
    CHECK(n.api_code() == 0);
}
