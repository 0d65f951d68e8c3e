// The emulator's HTTPS side: the five REST endpoints and their error codes, history
// pagination, time filters and retention, keep-alive, request limits, faults and the
// control API. Plain Beast client over verified TLS.
#include "emulator_test_client.hpp"

#include <catch2/catch.hpp>

#include <atomcloud/payload.hpp>
#include <atomcloud/rest_client.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

using namespace emu_test;
namespace emulator = atomcloud::emulator;
using std::chrono::system_clock;

namespace {

constexpr const char* dtu = "18846494908532689575";
constexpr const char* dtu2 = "27309143566123801957";
constexpr const char* nbiot = "b6d85634-9d34-4052-80cd-b840b75cb910";

/// A clock tests move by hand (microsecond resolution, thread-safe).
struct manual_clock {
    std::shared_ptr<std::atomic<std::int64_t>> us = std::make_shared<std::atomic<std::int64_t>>(0);
    void set(system_clock::time_point t) {
        us->store(
            std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
    }
    void advance(std::chrono::microseconds d) { us->fetch_add(d.count()); }
    std::function<system_clock::time_point()> fn() const {
        return [p = us] { return system_clock::time_point(std::chrono::microseconds(p->load())); };
    }
};

/// 2018-08-11 hh:mm:ss.micro in UTC+08:00.
system_clock::time_point cloud_time(int h, int m, int s, int micro = 0) {
    using namespace std::chrono;
    return sys_days{year(2018) / August / 11} + hours(h - 8) + minutes(m) + seconds(s) +
           microseconds(micro);
}

/// Two organisations, for isolation checks.
const char* two_orgs = R"({"orgs": [
  {"id": 1, "name": "一", "groups": [
    {"id": 10, "name": "g10", "devices": [
      {"id": 100, "show_id": 1, "name": "d100", "number": "11111111111111111111"}]}]},
  {"id": 2, "name": "二", "groups": [
    {"id": 20, "name": "g20", "devices": [
      {"id": 200, "show_id": "2", "device_type": "02", "name": "d200",
       "number": "22222222222222222222"}]}]}]})";

json envelope_of(const http_response& r) {
    INFO(r.body);
    auto j = json::parse(r.body);
    REQUIRE(j.contains("code"));
    REQUIRE(j.contains("message"));
    REQUIRE(j.contains("data"));
    return j;
}

int api_code(https_client& c, const std::string& target) {
    auto r = c.get(target);
    CHECK(r.status == 200u);
    return envelope_of(r)["code"].get<int>();
}

/// The device's whole history (at most 1000 messages) through the SDK, oldest first: the
/// SDK parses each `time` text.
std::vector<atomcloud::packet> sdk_history(const emulator::server& cloud, const char* number) {
    boost::asio::io_context ioc;
    atomcloud::rest_client api(ioc, cloud.client_config());
    atomcloud::packet_query q;
    q.limit = 1000;
    auto page = api.packets(1, atomcloud::device_number(number), q);
    REQUIRE(page.total_item <= 1000);
    return {page.items.rbegin(), page.items.rend()};
}

/// sent() and the history hold the same messages, in the same order, at the same times.
void check_sent_matches_history(const std::vector<emulator::sent_message>& sent,
                                const std::vector<atomcloud::packet>& hist) {
    REQUIRE(sent.size() == hist.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
        INFO("message " << i << " at " << hist[i].raw_time);
        CHECK(sent[i].payload == hist[i].payload);
        CHECK(sent[i].time == hist[i].time);
    }
}

} // namespace

TEST_CASE("rest: the default fixture is served as fixtures/default.json says") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);

    std::ifstream in(ATOMCLOUD_EMULATOR_DEFAULT_FIXTURE_FILE);
    REQUIRE(in);
    const auto file = json::parse(in);

    auto orgs = c.get_json("/api/orgs");
    CHECK(orgs["code"] == 200);
    CHECK(orgs["message"] == "");
    REQUIRE(orgs["data"].size() == file["orgs"].size());
    const auto& org = orgs["data"][0];
    CHECK(org["id"] == 1);
    CHECK(org["name"] == "正点原子");
    CHECK(org["acc_id"] == 0);
    CHECK(org["device_limit"] == 1000);
    CHECK(org["created_at"] == "2018-04-14T15:30:52+08:00");
    CHECK(!org.contains("groups"));

    std::size_t devices = 0;
    auto groups = c.get_json("/api/orgs/1/grouplist");
    CHECK(groups["code"] == 200);
    const auto& file_groups = file["orgs"][0]["groups"];
    REQUIRE(groups["data"].size() == file_groups.size());
    for (std::size_t i = 0; i < file_groups.size(); ++i) {
        auto expected = file_groups[i];
        const auto file_devices = expected["devices"];
        expected.erase("devices");
        CHECK(groups["data"][i] == expected);
        auto list = c.get_json("/api/orgs/1/groups/" + std::to_string(expected["id"].get<int>()) +
                               "/devices");
        CHECK(list["code"] == 200);
        CHECK(list["data"] == file_devices);
        devices += file_devices.size();
    }
    CHECK(org["device_counter"] == devices);
    CHECK(devices >= 5);

    // The spec's example device, as the spec shows it: show_id an integer, no device_type.
    auto g45 = c.get_json("/api/orgs/1/groups/45/devices")["data"];
    CHECK(g45[0] == json::parse(R"({"id":146,"show_id":1007,"name":"官方设备 - 2",)"
                                R"("number":"18846494908532689575"})"));
    // Group ids 44 and 45 exist, with the fields seen in the wild.
    for (const auto& g : groups["data"]) {
        CHECK((g["id"] == 44 || g["id"] == 45));
        for (auto key : {"acc_id", "acc_name", "org_id", "org_name", "count_device", "created_at"})
            CHECK(g.contains(key));
        CHECK(g["count_device"] == 0);
    }
    // Every kind of device is there, and the NB-IoT one.
    std::set<std::string> types;
    for (auto id : {44, 45}) {
        const auto list = c.get_json("/api/orgs/1/groups/" + std::to_string(id) + "/devices");
        for (const auto& d : list["data"])
            types.insert(d.value("device_type", std::string("none")));
    }
    CHECK(types == std::set<std::string>{"none", "01", "02", "03", "04"});
    CHECK(cloud.device(nbiot).is_nbiot());
    CHECK(cloud.device_numbers().size() == devices);
}

TEST_CASE("rest: response headers, unknown paths and methods") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);

    auto r = c.get("/api/orgs");
    CHECK(r.status == 200u);
    CHECK(r.header("content-type") == "application/json; charset=utf-8");
    CHECK(r.keep_alive);

    for (auto target : {"/api/nothing", "/api/orgs/1/unknown", "/api", "/", "/favicon.ico",
                        "/api/orgs/1/groups/45", "/api/orgs/1/devicestate"}) {
        INFO(target);
        auto nf = c.get(target);
        CHECK(nf.status == 404u);
        CHECK(nf.header("content-type") == "application/json; charset=utf-8");
        CHECK(envelope_of(nf)["code"] == 401);
    }
    for (auto verb : {"POST", "PUT", "DELETE", "PATCH"}) {
        auto m = c.request(verb, "/api/orgs");
        CHECK(m.status == 405u);
        CHECK(m.header("allow") == "GET");
        CHECK(envelope_of(m)["code"] == 400);
    }
    // Still the same connection: errors do not close it.
    CHECK(c.connects() == 1);
}

TEST_CASE("rest: a missing or wrong token is code 300 on every endpoint") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);
    for (auto target :
         {"/api/orgs", "/api/orgs/1/grouplist", "/api/orgs/1/groups/45/devices",
          "/api/orgs/1/devicestate/146", "/api/orgs/1/devicepacket/18846494908532689575"}) {
        INFO(target);
        for (std::optional<std::string> token :
             {std::optional<std::string>(), std::optional<std::string>("wrong"),
              std::optional<std::string>(""), std::optional<std::string>(cloud.token() + "x")}) {
            auto r = c.try_request("GET", target, {}, token);
            REQUIRE(!r.ec);
            CHECK(r.res.status == 200u);
            auto j = envelope_of(r.res);
            CHECK(j["code"] == 300);
            CHECK(j["data"].is_null());
            CHECK(r.res.body.find(cloud.token()) == std::string::npos);
        }
        CHECK(api_code(c, target) == 200);
    }
}

TEST_CASE("rest: unknown objects are code 401, bad parameters code 400") {
    emulator::options opts;
    opts.fixture_json = two_orgs;
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);

    // Unknown org, group, device; and those of another organisation.
    CHECK(api_code(c, "/api/orgs/3/grouplist") == 401);
    CHECK(api_code(c, "/api/orgs/0/groups/10/devices") == 401);
    CHECK(api_code(c, "/api/orgs/1/groups/11/devices") == 401);
    CHECK(api_code(c, "/api/orgs/1/groups/20/devices") == 401); // org 2's group
    CHECK(api_code(c, "/api/orgs/2/groups/20/devices") == 200);
    CHECK(api_code(c, "/api/orgs/1/devicestate/101") == 401);
    CHECK(api_code(c, "/api/orgs/1/devicestate/200") == 401); // org 2's device
    CHECK(api_code(c, "/api/orgs/2/devicestate/200") == 200);
    CHECK(api_code(c, "/api/orgs/1/devicepacket/22222222222222222222") == 401);
    CHECK(api_code(c, "/api/orgs/1/devicepacket/12345") == 401);
    CHECK(api_code(c, "/api/orgs/2/devicepacket/22222222222222222222") == 200);
    CHECK(api_code(c, "/api/orgs/99/devicepacket/22222222222222222222") == 401);

    // Ids that are not integers.
    CHECK(api_code(c, "/api/orgs/abc/grouplist") == 400);
    CHECK(api_code(c, "/api/orgs/1/groups/x1/devices") == 400);
    CHECK(api_code(c, "/api/orgs/1/devicestate/1.5") == 400);

    // History parameters.
    const std::string packets = "/api/orgs/1/devicepacket/11111111111111111111";
    for (auto query :
         {"?page=abc", "?page=0", "?page=-1", "?page=1.5", "?page=", "?page=+1", "?limit=0",
          "?limit=abc", "?limit=-5", "?page=99999999999999999999999", "?start=yesterday",
          "?start=2018-08-11", "?end=2018-13-01%2000:00:00", "?end=2018-02-30%2000:00:00",
          "?start=2018-08-11%2024:00:00", "?start=2018-08-11%2017:00:00&end=2018-08-11%2016:59:59",
          "?start=2018-08-11%2017:00:0x", "?start=%zz"}) {
        INFO(query);
        auto j = c.get_json(packets + query);
        CHECK(j["code"] == 400);
        CHECK(j["message"].get<std::string>().find("参数错误") != std::string::npos);
    }
    // Accepted forms.
    for (auto query : {"?page=1", "?limit=1000", "?limit=5000", "?start=2018-08-11%2017:00:00",
                       "?start=2018-08-11+17:00:00", "?end=2018-08-11T17:00:00",
                       "?start=&end=", "?start=2018-08-11%2017:00:00&end=2018-08-11%2017:00:00",
                       "?other=1", "?page=2&page=1"}) {
        INFO(query);
        CHECK(api_code(c, packets + query) == 200);
    }
}

TEST_CASE("rest: device state follows connect and disconnect") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);
    auto state = [&](int id) {
        return c.get_json("/api/orgs/1/devicestate/" + std::to_string(id));
    };

    auto s = state(146);
    CHECK(s["code"] == 200);
    CHECK(s["data"] == "disconnected"); // devices start disconnected
    CHECK(state(150)["data"] == "notbind");

    cloud.device(dtu).connect();
    cloud.device(nbiot).connect();
    CHECK(state(146)["data"] == "connected");
    CHECK(state(150)["data"] == "binded");
    CHECK(cloud.device(nbiot).state() == "binded");
    CHECK(cloud.device(dtu).connected());

    cloud.device(dtu).disconnect();
    cloud.device(nbiot).disconnect();
    CHECK(state(146)["data"] == "disconnected");
    CHECK(state(150)["data"] == "notbind");
    CHECK_FALSE(cloud.device(dtu).connected());
}

TEST_CASE("rest: history items, time format and newest-first order") {
    manual_clock clock;
    emulator::options opts;
    opts.clock = clock.fn();
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);
    auto dev = cloud.device(dtu);
    dev.connect();
    clock.set(cloud_time(17, 0, 53));
    dev.send(hex("D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4"));
    clock.set(cloud_time(17, 2, 18, 280680));
    dev.send(atomcloud::bytes{});
    clock.set(cloud_time(17, 3, 39, 300928));
    dev.send("ALIENTEK-HRTDT");
    clock.set(cloud_time(17, 3, 40, 500000));
    dev.send(atomcloud::bytes{0x00, 0x0a, 0xff});

    // Retention is relative to the clock: a few minutes later, all four are still there.
    clock.set(cloud_time(17, 10, 0));
    auto j = c.get_json(std::string("/api/orgs/1/devicepacket/") + dtu);
    CHECK(j["code"] == 200);
    const auto& d = j["data"];
    CHECK(d["current_page"] == 1);
    CHECK(d["total_page"] == 1);
    CHECK(d["total_item"] == 4);
    CHECK(d["page_limit"] == 30);
    REQUIRE(d["items"].size() == 4);
    CHECK(d["items"][0] == json::parse(R"({"time":"2018-08-11T17:03:40.5+08:00",)"
                                       R"("hex_packet":"00 0A FF","length":3,)"
                                       R"("number":"18846494908532689575"})"));
    CHECK(d["items"][1]["time"] == "2018-08-11T17:03:39.300928+08:00");
    CHECK(d["items"][1]["hex_packet"] == "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54");
    CHECK(d["items"][1]["length"] == 14);
    CHECK(d["items"][2]["time"] == "2018-08-11T17:02:18.28068+08:00");
    CHECK(d["items"][2]["hex_packet"] == "");
    CHECK(d["items"][2]["length"] == 0);
    CHECK(d["items"][3]["time"] == "2018-08-11T17:00:53+08:00");
    CHECK(d["items"][3]["hex_packet"] == "D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4");

    // The latest value, as clients read it.
    auto latest = c.get_json(std::string("/api/orgs/1/devicepacket/") + dtu + "?limit=1");
    CHECK(latest["data"]["total_page"] == 4);
    CHECK(latest["data"]["items"].size() == 1);
    CHECK(latest["data"]["items"][0]["hex_packet"] == "00 0A FF");

    // A device without messages.
    auto empty = c.get_json(std::string("/api/orgs/1/devicepacket/") + dtu2);
    CHECK(empty["data"] == json::parse(R"({"current_page":1,"total_page":0,"total_item":0,)"
                                       R"("page_limit":30,"items":[]})"));

    // NB-IoT history under its id.
    auto nb = cloud.device(nbiot);
    nb.connect();
    nb.send(atomcloud::bytes{0x01, 0x02});
    auto nbj = c.get_json(std::string("/api/orgs/1/devicepacket/") + nbiot);
    REQUIRE(nbj["data"]["items"].size() == 1);
    CHECK(nbj["data"]["items"][0]["number"] == nbiot);
    CHECK(nbj["data"]["items"][0]["hex_packet"] == "01 02");
}

TEST_CASE("rest: history pagination") {
    manual_clock clock;
    clock.set(cloud_time(12, 0, 0));
    emulator::options opts;
    opts.clock = clock.fn();
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);
    auto dev = cloud.device(dtu);
    dev.connect();
    for (int i = 0; i < 65; ++i) {
        clock.advance(std::chrono::seconds(1));
        dev.send("m" + std::to_string(i));
    }
    auto text_of = [](const json& item) {
        auto b = atomcloud::parse_hex_packet(item["hex_packet"].get<std::string>());
        return std::string(b.begin(), b.end());
    };
    const std::string base = std::string("/api/orgs/1/devicepacket/") + dtu;

    auto p1 = c.get_json(base)["data"];
    CHECK(p1["total_item"] == 65);
    CHECK(p1["total_page"] == 3);
    CHECK(p1["page_limit"] == 30);
    REQUIRE(p1["items"].size() == 30);
    CHECK(text_of(p1["items"][0]) == "m64");
    CHECK(text_of(p1["items"][29]) == "m35");

    auto p3 = c.get_json(base + "?page=3")["data"];
    CHECK(p3["current_page"] == 3);
    REQUIRE(p3["items"].size() == 5);
    CHECK(text_of(p3["items"][0]) == "m4");
    CHECK(text_of(p3["items"][4]) == "m0");

    auto past = c.get_json(base + "?page=4")["data"];
    CHECK(past["current_page"] == 4);
    CHECK(past["total_page"] == 3);
    CHECK(past["total_item"] == 65);
    CHECK(past["items"].empty());
    CHECK(c.get_json(base + "?page=9223372036854775807")["data"]["items"].empty());

    auto l7 = c.get_json(base + "?page=2&limit=7")["data"];
    CHECK(l7["total_page"] == 10); // ceil(65 / 7)
    CHECK(l7["page_limit"] == 7);
    REQUIRE(l7["items"].size() == 7);
    CHECK(text_of(l7["items"][0]) == "m57");

    // Walking every page gives every message once, newest first.
    std::vector<std::string> all;
    for (int page = 1; page <= 10; ++page) {
        const auto j = c.get_json(base + "?limit=7&page=" + std::to_string(page));
        for (const auto& item : j["data"]["items"])
            all.push_back(text_of(item));
    }
    REQUIRE(all.size() == 65);
    for (int i = 0; i < 65; ++i)
        CHECK(all[static_cast<std::size_t>(i)] == "m" + std::to_string(64 - i));

    // limit is capped at 1000.
    auto big = c.get_json(base + "?limit=5000")["data"];
    CHECK(big["page_limit"] == 1000);
    CHECK(big["items"].size() == 65);
}

TEST_CASE("rest: history time filters (UTC+08:00, both bounds inclusive)") {
    manual_clock clock;
    emulator::options opts;
    opts.clock = clock.fn();
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);
    auto dev = cloud.device(dtu);
    dev.connect();
    for (auto [h, m, s, us] : std::vector<std::array<int, 4>>{{16, 59, 59, 999999},
                                                              {17, 0, 0, 0},
                                                              {17, 1, 30, 250000},
                                                              {17, 3, 0, 0},
                                                              {17, 3, 0, 700000},
                                                              {17, 3, 1, 0}}) {
        clock.set(cloud_time(h, m, s, us));
        dev.send("x");
    }
    clock.set(cloud_time(17, 30, 0));
    const std::string base = std::string("/api/orgs/1/devicepacket/") + dtu;
    auto times = [&](const std::string& query) {
        std::vector<std::string> out;
        auto j = c.get_json(base + query);
        REQUIRE(j["code"] == 200);
        for (const auto& item : j["data"]["items"])
            out.push_back(item["time"].get<std::string>().substr(11));
        CHECK(j["data"]["total_item"] == out.size());
        return out;
    };
    using v = std::vector<std::string>;
    CHECK(times("?start=2018-08-11%2017:00:00&end=2018-08-11%2017:03:00") ==
          v{"17:03:00.7+08:00", "17:03:00+08:00", "17:01:30.25+08:00", "17:00:00+08:00"});
    CHECK(times("?start=2018-08-11%2017:03:00") ==
          v{"17:03:01+08:00", "17:03:00.7+08:00", "17:03:00+08:00"});
    CHECK(times("?end=2018-08-11+16:59:59") == v{"16:59:59.999999+08:00"});
    CHECK(times("?start=2018-08-11T17:01:30&end=2018-08-11T17:01:30") == v{"17:01:30.25+08:00"});
    CHECK(times("?start=2018-08-11%2018:00:00").empty());
    CHECK(times("?end=2018-08-10%2023:59:59").empty());
    // The start/end pair is in +08:00: 09:00 UTC is 17:00 there.
    CHECK(times("?start=2018-08-11%2009:00:00&end=2018-08-11%2009:59:59").empty());

    // Filters and pages together.
    auto j = c.get_json(base + "?start=2018-08-11%2017:00:00&limit=2&page=2");
    CHECK(j["data"]["total_item"] == 5);
    CHECK(j["data"]["total_page"] == 3);
    REQUIRE(j["data"]["items"].size() == 2);
    CHECK(j["data"]["items"][0]["time"] == "2018-08-11T17:03:00+08:00");
}

TEST_CASE("rest: messages older than 6 hours are evicted, the history is bounded") {
    manual_clock clock;
    clock.set(cloud_time(8, 0, 0));
    emulator::options opts;
    opts.clock = clock.fn();
    opts.max_history_per_device = 50;
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);
    auto dev = cloud.device(dtu);
    dev.connect();
    dev.send("old");
    clock.advance(std::chrono::hours(1));
    dev.send("newer");
    const std::string base = std::string("/api/orgs/1/devicepacket/") + dtu;

    clock.set(cloud_time(14, 0, 0)); // exactly 6 h after "old": still kept
    CHECK(c.get_json(base)["data"]["total_item"] == 2);
    clock.advance(std::chrono::microseconds(1));
    auto j = c.get_json(base)["data"];
    CHECK(j["total_item"] == 1);
    CHECK(j["items"][0]["hex_packet"] == "6E 65 77 65 72");
    CHECK(dev.history_size() == 1);

    clock.advance(std::chrono::hours(1));
    CHECK(dev.history_size() == 0);
    CHECK(c.get_json(base)["data"]["total_item"] == 0);

    // The hard bound: only the newest 50 stay.
    for (int i = 0; i < 120; ++i)
        dev.send("n" + std::to_string(i));
    CHECK(dev.history_size() == 50);
    auto page = c.get_json(base + "?limit=1000")["data"];
    CHECK(page["total_item"] == 50);
    CHECK(page["items"][0]["hex_packet"] == atomcloud::to_hex_packet(atomcloud::as_bytes("n119")));
    CHECK(page["items"][49]["hex_packet"] == atomcloud::to_hex_packet(atomcloud::as_bytes("n70")));
}

TEST_CASE("rest: keep-alive connections are reused, Connection: close is honoured") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);
    for (int i = 0; i < 25; ++i)
        CHECK(api_code(c, "/api/orgs/1/grouplist") == 200);
    CHECK(c.connects() == 1);
    CHECK(cloud.status().connections == 1);

    // HTTP/1.0 without keep-alive, and an explicit close: the server closes after answering.
    auto out =
        c.raw_exchange("GET /api/orgs HTTP/1.0\r\nHost: x\r\ntoken: " + cloud.token() + "\r\n\r\n");
    CHECK(out.substr(0, 15) == "HTTP/1.0 200 OK");
    CHECK(out.find("\"code\":200") != std::string::npos);
    out = c.raw_exchange("GET /api/orgs HTTP/1.1\r\nHost: x\r\nConnection: close\r\ntoken: " +
                         cloud.token() + "\r\n\r\n");
    CHECK(out.substr(0, 15) == "HTTP/1.1 200 OK");
    // Two pipelined requests on one connection, then close.
    out = c.raw_exchange("GET /api/orgs HTTP/1.1\r\nHost: x\r\ntoken: " + cloud.token() +
                         "\r\n\r\nGET /api/orgs/1/grouplist HTTP/1.1\r\nHost: x\r\nConnection: "
                         "close\r\ntoken: " +
                         cloud.token() + "\r\n\r\n");
    CHECK(out.find("HTTP/1.1 200 OK") != out.rfind("HTTP/1.1 200 OK"));
    CHECK(out.find("官方设备") != std::string::npos);
    // A client that waits for 100 Continue gets it.
    const std::string body = R"({"kind":"delay","delay_ms":1})";
    out = c.raw_exchange("POST /emulator/faults HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         "Connection: close\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\ntoken: " + cloud.token() + "\r\n\r\n" +
                         body);
    CHECK(out.substr(0, 25) == "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK(out.find("HTTP/1.1 200 OK") != std::string::npos);
    CHECK(cloud.status().pending_faults == 1);
}

TEST_CASE("rest: oversized and malformed requests are refused, and nothing breaks") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);

    auto big_header = c.raw_exchange(
        "GET /api/orgs HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
    CHECK(big_header.substr(0, 12) == "HTTP/1.1 431");
    auto big_body = c.raw_exchange("POST /emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                   std::to_string(100000) + "\r\n\r\n");
    CHECK(big_body.substr(0, 12) == "HTTP/1.1 413");
    auto garbage = c.raw_exchange("\x16\x03 not http at all\r\n\r\n");
    CHECK(garbage.substr(0, 12) == "HTTP/1.1 400");
    auto long_target = c.raw_exchange("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n");
    CHECK(long_target.substr(0, 12) == "HTTP/1.1 431");

    // A plain TCP client that never starts TLS, and one that sends garbage instead.
    {
        plain_tcp idle(cloud.port());
        plain_tcp talker(cloud.port());
        CHECK(talker.write_then_read("GET / HTTP/1.1\r\n\r\n")); // not TLS: the server hangs up
        CHECK(api_code(c, "/api/orgs") == 200);
    }
    CHECK(api_code(c, "/api/orgs") == 200);
}

TEST_CASE("rest: faults, each kind, for the next N requests under /api/") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);
    const std::string target = "/api/orgs";

    SECTION("http_status") {
        emulator::fault f;
        f.what = emulator::fault::kind::http_status;
        f.status = 503;
        cloud.inject_fault(f, 2);
        CHECK(cloud.status().pending_faults == 2);
        for (int i = 0; i < 2; ++i) {
            auto r = c.get(target);
            CHECK(r.status == 503u);
            CHECK_THROWS(json::parse(r.body));
        }
        CHECK(api_code(c, target) == 200);
        f.status = 502;
        cloud.inject_fault(f);
        CHECK(c.get(target).status == 502u);
        f.status = 99;
        CHECK_THROWS_AS(cloud.inject_fault(f), std::invalid_argument);
        CHECK(cloud.status().pending_faults == 0);
    }
    SECTION("api_code") {
        emulator::fault f;
        f.what = emulator::fault::kind::api_code;
        f.code = 500;
        f.message = "系统异常";
        cloud.inject_fault(f);
        auto j = c.get_json("/api/orgs/1/grouplist");
        CHECK(j["code"] == 500);
        CHECK(j["message"] == "系统异常");
        f.code = 201;
        f.message = "business";
        cloud.inject_fault(f);
        CHECK(c.get_json(target)["code"] == 201);
        CHECK(api_code(c, target) == 200);
    }
    SECTION("delay") {
        emulator::fault f;
        f.what = emulator::fault::kind::delay;
        f.delay = 300ms;
        cloud.inject_fault(f);
        auto t0 = std::chrono::steady_clock::now();
        CHECK(api_code(c, target) == 200);
        CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
        // A client that gives up earlier sees a timeout.
        f.delay = 2000ms;
        cloud.inject_fault(f);
        auto r = c.try_request("GET", target, {}, cloud.token(), 200ms);
        CHECK(is_timeout(r.ec));
        CHECK(api_code(c, target) == 200);
    }
    SECTION("close_connection") {
        emulator::fault f;
        f.what = emulator::fault::kind::close_connection;
        cloud.inject_fault(f, 3);
        for (int i = 0; i < 3; ++i) {
            auto r = c.try_request("GET", target, {}, cloud.token());
            CHECK(r.ec);
        }
        CHECK(api_code(c, target) == 200);
        CHECK(c.connects() == 4);
    }
    SECTION("truncated_body") {
        emulator::fault f;
        f.what = emulator::fault::kind::truncated_body;
        cloud.inject_fault(f);
        auto r = c.try_request("GET", "/api/orgs/1/grouplist", {}, cloud.token());
        CHECK(is_truncated(r.ec));
        CHECK(api_code(c, target) == 200);
    }
    SECTION("malformed_body") {
        emulator::fault f;
        f.what = emulator::fault::kind::malformed_body;
        cloud.inject_fault(f);
        auto r = c.get(target);
        CHECK(r.status == 200u);
        CHECK(r.header("content-type") == "application/json; charset=utf-8");
        CHECK_THROWS(json::parse(r.body));
        CHECK(api_code(c, target) == 200);
    }
    SECTION("faults apply in order, only to /api/, and can be cleared") {
        emulator::fault a;
        a.what = emulator::fault::kind::http_status;
        a.status = 500;
        emulator::fault b;
        b.what = emulator::fault::kind::api_code;
        b.code = 302;
        cloud.inject_fault(a);
        cloud.inject_fault(b);
        CHECK(c.get("/emulator/status").status == 200u); // not faulted
        CHECK(c.get("/nowhere").status == 404u);
        CHECK(c.get(target).status == 500u);
        CHECK(c.get_json(target)["code"] == 302);
        CHECK(api_code(c, target) == 200);

        cloud.inject_fault(a, 100);
        cloud.clear_faults();
        CHECK(cloud.status().pending_faults == 0);
        CHECK(api_code(c, target) == 200);
    }
}

TEST_CASE("rest: the control API over HTTPS") {
    emulator::server cloud;
    client_io io;
    https_client c(io, cloud);
    const std::string dev = std::string("/emulator/devices/") + dtu;

    SECTION("authentication, unknown devices and paths, methods") {
        auto r = c.try_request("GET", "/emulator/status", {}, std::nullopt);
        REQUIRE(!r.ec);
        CHECK(r.res.status == 401u);
        CHECK(envelope_of(r.res)["code"] == 300);
        r = c.try_request("POST", dev + "/connect", {}, "wrong");
        CHECK(r.res.status == 401u);
        CHECK_FALSE(cloud.device(dtu).connected());

        auto nf = c.post("/emulator/devices/00000000000000000000/connect");
        CHECK(nf.status == 404u);
        CHECK(envelope_of(nf)["code"] == 401);
        CHECK(c.get("/emulator/nothing").status == 404u);
        CHECK(c.get(dev + "/connect").status == 405u);
        CHECK(c.get("/emulator/restart").status == 405u);
        CHECK(c.post("/emulator/status").status == 405u);
    }
    SECTION("connect, send, history, disconnect") {
        auto r = c.post(dev + "/connect");
        CHECK(r.status == 200u);
        auto j = envelope_of(r);
        CHECK(j["code"] == 200);
        CHECK(j["data"]["state"] == "connected");
        CHECK(cloud.device(dtu).connected());

        CHECK(c.post(dev + "/send", R"({"hex":"41 4c 49"})").status == 200u);
        auto sent =
            envelope_of(c.post(dev + "/send", R"({"text":"正点原子数据测试","encoding":"gbk"})"));
        CHECK(sent["data"]["hex_packet"] == "D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4");
        CHECK(sent["data"]["length"] == 16);
        CHECK(envelope_of(c.post(dev + "/send", R"({"text":"héllo"})"))["data"]["length"] == 6);
        auto hist = c.get_json(std::string("/api/orgs/1/devicepacket/") + dtu)["data"];
        CHECK(hist["total_item"] == 3);
        CHECK(hist["items"][0]["hex_packet"] == "68 C3 A9 6C 6C 6F");
        CHECK(hist["items"][2]["hex_packet"] == "41 4C 49");

        for (auto bad : {"", "not json", "[]", R"({"hex":"4"})", R"({"hex":"zz"})", R"({"hex":1})",
                         R"({"text":"a","encoding":"latin1"})", R"({"hex":"41","text":"a"})", "{}",
                         R"({"text":"\ud83d\ude00","encoding":"gbk"})"}) {
            INFO(bad);
            auto b = c.post(dev + "/send", bad);
            CHECK(b.status == 400u);
            CHECK(envelope_of(b)["code"] == 400);
        }
        CHECK(c.post(dev + "/disconnect").status == 200u);
        CHECK(c.get_json("/api/orgs/1/devicestate/146")["data"] == "disconnected");
        auto nc = c.post(dev + "/send", R"({"hex":"41"})");
        CHECK(nc.status == 409u);
        CHECK(envelope_of(nc)["code"] == 201);
        CHECK(cloud.device(dtu).history_size() == 3);
    }
    SECTION("received payloads") {
        CHECK(c.get_json(dev + "/received")["data"] == json::array());
        cloud.device(dtu).connect();
        wss_client app(io, cloud);
        app.connect();
        REQUIRE(!app.send(frame(0x03, dtu, "\x01\x02")));
        REQUIRE(!app.send(frame(0x03, dtu, "AB")));
        REQUIRE(cloud.device(dtu).wait_received(2, 5s));
        auto got = c.get_json(dev + "/received")["data"];
        REQUIRE(got.size() == 2);
        CHECK(got[0]["hex"] == "01 02");
        CHECK(got[0]["length"] == 2);
        CHECK(got[0]["time"].get<std::string>().size() >= 25);
        CHECK(got[1]["hex"] == "41 42");
        CHECK(c.del(dev + "/received").status == 200u);
        CHECK(c.get_json(dev + "/received")["data"].empty());
        CHECK(cloud.device(dtu).received().empty());
    }
    SECTION("faults") {
        auto r = c.post("/emulator/faults",
                        R"({"kind":"api_code","code":302,"message":"锁定","count":2})");
        CHECK(r.status == 200u);
        CHECK(envelope_of(r)["data"]["pending_faults"] == 2);
        c.post("/emulator/faults", R"({"kind":"http_status","status":502})");
        auto list = c.get_json("/emulator/faults")["data"];
        REQUIRE(list.size() == 2);
        CHECK(list[0]["kind"] == "api_code");
        CHECK(list[0]["count"] == 2);
        CHECK(list[1]["status"] == 502);
        auto j = c.get_json("/api/orgs");
        CHECK(j["code"] == 302);
        CHECK(j["message"] == "锁定");
        CHECK(c.get_json("/api/orgs")["code"] == 302);
        CHECK(c.get("/api/orgs").status == 502u);
        CHECK(api_code(c, "/api/orgs") == 200);

        c.post("/emulator/faults", R"({"kind":"delay","delay_ms":50,"count":5})");
        CHECK(c.get_json("/emulator/status")["data"]["pending_faults"] == 5);
        CHECK(c.del("/emulator/faults").status == 200u);
        CHECK(cloud.status().pending_faults == 0);

        for (auto bad :
             {R"({"kind":"explode"})", R"({})", R"({"kind":"http_status","status":99})",
              R"({"kind":"http_status","status":100})", R"({"kind":"delay","delay_ms":-1})",
              R"({"kind":"delay","count":0})", R"({"kind":"api_code","code":"x"})",
              R"({"kind":"api_code","message":5})", "nonsense"}) {
            INFO(bad);
            CHECK(c.post("/emulator/faults", bad).status == 400u);
        }
        CHECK(cloud.status().pending_faults == 0);
    }
    SECTION("status, devices, drop-connections, restart, suspend") {
        cloud.device(nbiot).connect();
        auto st = c.get_json("/emulator/status")["data"];
        CHECK(st["connections"] == 1);
        CHECK(st["websocket_connections"] == 0);
        CHECK(st["listening"] == true);
        REQUIRE(st["devices"].size() == 5);
        auto d = c.get_json(std::string("/emulator/devices/") + nbiot)["data"];
        CHECK(d["state"] == "binded");
        CHECK(d["type"] == "NB-IoT");
        CHECK(d["id"] == 150);
        CHECK(c.get_json("/emulator/devices")["data"].size() == 5);

        wss_client app(io, cloud);
        app.connect();
        REQUIRE(!app.send(frame(0x01, dtu)));
        REQUIRE(cloud.wait_subscribers(dtu, 1, 5s));
        CHECK(c.get_json("/emulator/status")["data"]["subscriptions"] == 1);
        CHECK(c.post("/emulator/drop-connections").status == 200u);
        REQUIRE(cloud.wait_websocket_connections(0, 5s));
        CHECK(app.receive().ec);
        CHECK(c.connects() == 1); // HTTPS connections stay

        // Restart: answers, then drops everything and listens again on the same port.
        auto r = c.post("/emulator/restart");
        CHECK(r.status == 200u);
        CHECK_FALSE(r.keep_alive);
        CHECK(api_code(c, "/api/orgs") == 200);
        CHECK(c.connects() == 2);
        CHECK(cloud.device(nbiot).state() == "binded"); // state kept

        // Suspend for a while: nothing listens, then it comes back by itself. The window
        // is long enough for a loaded machine; should this thread still be slower than
        // that, the checks inside the window say so instead of failing at random.
        constexpr auto window = 3s;
        const auto suspended_at = std::chrono::steady_clock::now();
        CHECK(c.post("/emulator/suspend", R"({"duration_ms":3000})").status == 200u);
        const bool listening = cloud.status().listening;
        const bool refused =
            static_cast<bool>(c.try_request("GET", "/api/orgs", {}, cloud.token()).ec);
        const bool in_window = std::chrono::steady_clock::now() - suspended_at < window;
        INFO("the checks ran " << (in_window ? "inside" : "after") << " the suspend window");
        CHECK((!listening || !in_window));
        CHECK((refused || !in_window));
        CHECK(eventually([&] { return cloud.status().listening; }, 30s));
        CHECK(std::chrono::steady_clock::now() - suspended_at >= window - 50ms);
        CHECK(api_code(c, "/api/orgs") == 200);
        CHECK(c.post("/emulator/suspend", "{}").status == 400u);
    }
}

TEST_CASE("rest: the token never appears in log lines") {
    std::mutex m;
    std::vector<std::string> lines;
    emulator::options opts;
    opts.token = "Sup3rSecretT0ken-42";
    opts.log.level = atomcloud::log_level::debug;
    opts.log.sink = [&](atomcloud::log_level, std::string_view line) {
        std::lock_guard lock(m);
        lines.emplace_back(line);
    };
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);
    c.get("/api/orgs");
    c.get("/connection/" + cloud.token() + "/org/1?token=1"); // not an upgrade
    c.get("/api/" + cloud.token());
    wss_client app(io, cloud);
    app.connect();
    wss_client bad(io, cloud);
    CHECK(bad.try_connect("/connection/" + cloud.token() + "/org/9?token=1"));
    CHECK(bad.try_connect("/connection/" + cloud.token() + "/org/1"));
    // A client's wrong token (often the right one mistyped) is a secret too.
    const std::string wrong = "Sup3rSecretT0ken-43";
    CHECK(bad.try_connect("/connection/" + wrong + "/org/1?token=1"));
    CHECK(bad.try_connect("/connection/Sup3rSecretT0ken%2D43/org/1?token=1"));
    c.get("/connection/" + wrong + "/org/1?token=1"); // not an upgrade
    app.send(frame(0x01, "12345678901234567890"));
    app.send_text(cloud.token());
    CHECK(is_closed(app.receive().ec));
    cloud.stop();

    std::lock_guard lock(m);
    CHECK(lines.size() >= 6);
    for (const auto& line : lines) {
        INFO(line);
        CHECK(line.find(cloud.token()) == std::string::npos);
        CHECK(line.find(wrong) == std::string::npos);
        CHECK(line.find("Sup3rSecretT0ken%2D43") == std::string::npos);
    }
}

TEST_CASE("rest: sent() is what the device sent, at the times the history stores") {
    emulator::server cloud; // the system clock: nanoseconds, kept to the microsecond
    client_io io;
    https_client c(io, cloud);
    auto dev = cloud.device(dtu);
    auto nb = cloud.device(nbiot);
    CHECK(dev.sent().empty());
    CHECK(dev.sent_count() == 0);
    CHECK_THROWS_AS(dev.send("x"), std::logic_error); // not connected: not sent
    CHECK(dev.sent_count() == 0);
    dev.connect();
    nb.connect();

    std::vector<atomcloud::bytes> expected;
    for (int i = 0; i < 20; ++i) {
        auto payload = atomcloud::to_bytes("message " + std::to_string(i));
        if (i % 3 == 0) { // the control API's send
            CHECK(c.post(std::string("/emulator/devices/") + dtu + "/send",
                         R"({"hex":")" + atomcloud::to_hex_packet(payload) + R"("})")
                      .status == 200u);
        } else {
            dev.send(payload);
        }
        expected.push_back(payload);
        if (i == 10) {
            dev.send(atomcloud::bytes{}); // empty
            expected.emplace_back();
            dev.send(atomcloud::bytes{0x00, 0xff, 0x80});
            expected.push_back({0x00, 0xff, 0x80});
        }
    }
    nb.send("nb");

    const auto sent = dev.sent();
    REQUIRE(sent.size() == expected.size());
    CHECK(dev.sent_count() == expected.size());
    CHECK(dev.sent_dropped() == 0);
    for (std::size_t i = 0; i < sent.size(); ++i)
        CHECK(sent[i].payload == expected[i]);
    for (std::size_t i = 1; i < sent.size(); ++i)
        CHECK(sent[i - 1].time <= sent[i].time);
    check_sent_matches_history(sent, sdk_history(cloud, dtu));
    // NB-IoT devices have their own log.
    REQUIRE(nb.sent().size() == 1);
    CHECK(nb.sent()[0].payload == atomcloud::to_bytes("nb"));

    // The control API's log has the history's very time texts.
    const auto hist = sdk_history(cloud, dtu);
    auto items = c.get_json(std::string("/emulator/devices/") + dtu + "/sent")["data"]["items"];
    REQUIRE(items.size() == hist.size());
    for (std::size_t i = 0; i < hist.size(); ++i) {
        CHECK(items[i]["time"] == hist[i].raw_time);
        CHECK(items[i]["hex"] == hist[i].hex);
        CHECK(items[i]["length"] == hist[i].payload.size());
    }

    // clear_sent() forgets the log, not the history; the log works after the stop.
    dev.clear_sent();
    CHECK(dev.sent().empty());
    CHECK(dev.history_size() == expected.size());
    dev.send("last");
    cloud.stop();
    REQUIRE(dev.sent_count() == 1);
    CHECK(dev.sent()[0].payload == atomcloud::to_bytes("last"));
    dev.clear_sent();
    CHECK(dev.sent_count() == 0);
}

TEST_CASE("rest: message times never go backwards, so the history's order is the sending order") {
    manual_clock clock;
    clock.set(cloud_time(17, 0, 0));
    emulator::options opts;
    opts.clock = clock.fn();
    emulator::server cloud(opts);
    auto dev = cloud.device(dtu);
    dev.connect();
    dev.send("a");
    clock.set(cloud_time(16, 0, 0)); // the clock goes back an hour
    dev.send("b");
    clock.set(cloud_time(17, 0, 0, 1));
    dev.send("c");
    const auto sent = dev.sent();
    REQUIRE(sent.size() == 3);
    CHECK(sent[0].time == sent[1].time); // "b" takes the time of "a"
    CHECK(sent[2].time == sent[0].time + std::chrono::microseconds(1));
    const auto hist = sdk_history(cloud, dtu);
    check_sent_matches_history(sent, hist);
    CHECK(hist[0].raw_time == "2018-08-11T17:00:00+08:00");
    CHECK(hist[1].payload == atomcloud::to_bytes("b"));
    CHECK(hist[2].raw_time == "2018-08-11T17:00:00.000001+08:00");
}

TEST_CASE("rest: the sent log outlives retention, its bounds drop the oldest and count them") {
    manual_clock clock;
    clock.set(cloud_time(8, 0, 0));
    emulator::options opts;
    opts.clock = clock.fn();
    opts.max_sent_log_per_device = 4;
    opts.max_sent_log_bytes_per_device = 10;
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);
    auto dev = cloud.device(dtu);
    dev.connect();
    const std::string log = std::string("/emulator/devices/") + dtu + "/sent";
    auto payloads = [&] {
        std::vector<std::string> out;
        for (const auto& m : dev.sent())
            out.emplace_back(m.payload.begin(), m.payload.end());
        return out;
    };
    using v = std::vector<std::string>;

    dev.send("r0");
    clock.advance(std::chrono::microseconds(250));
    dev.send("r1");
    const auto before = dev.sent();
    clock.advance(std::chrono::hours(7)); // past the 6-hour retention
    CHECK(dev.history_size() == 0);
    CHECK(dev.sent_count() == 2);
    const auto after = dev.sent();
    REQUIRE(after.size() == 2);
    CHECK(after[0].time == before[0].time);
    CHECK(after[1].time == before[1].time);
    CHECK(after[1].time - after[0].time == std::chrono::microseconds(250));
    CHECK(payloads() == v{"r0", "r1"});

    // The count bound: the newest 4 stay, the rest are counted as dropped.
    for (int i = 0; i < 10; ++i)
        dev.send("m" + std::to_string(i));
    CHECK(payloads() == v{"m6", "m7", "m8", "m9"});
    CHECK(dev.sent_dropped() == 8);
    CHECK(dev.history_size() == 10); // the history has its own bounds
    auto j = c.get_json(log)["data"];
    CHECK(j["dropped"] == 8);
    CHECK(j["items"].size() == 4);
    auto d = c.get_json(std::string("/emulator/devices/") + dtu)["data"];
    CHECK(d["sent_items"] == 4);
    CHECK(d["sent_dropped"] == 8);

    // The byte bound: 2 + 8 bytes fit in 10.
    dev.send("abcdefgh");
    CHECK(payloads() == v{"m9", "abcdefgh"});
    CHECK(dev.sent_dropped() == 11);
    // A message larger than the bound goes at once, with everything else.
    dev.send("0123456789A");
    CHECK(dev.sent().empty());
    CHECK(dev.sent_dropped() == 14);
    CHECK(c.get_json(log)["data"]["dropped"] == 14);

    dev.clear_sent();
    CHECK(dev.sent_dropped() == 0);
    dev.send("z");
    CHECK(payloads() == v{"z"});
}

TEST_CASE("rest: the control API's log of what a device sent, read incrementally with from=K") {
    emulator::options opts;
    opts.max_sent_log_per_device = 6;
    emulator::server cloud(opts);
    client_io io;
    https_client c(io, cloud);
    const std::string dev = std::string("/emulator/devices/") + dtu;
    const std::string log = dev + "/sent";
    auto hexes = [&](const std::string& target) {
        auto r = c.get(target);
        INFO(target << ": " << r.body);
        REQUIRE(r.status == 200u);
        std::vector<std::string> out;
        const auto j = envelope_of(r);
        for (const auto& item : j["data"]["items"])
            out.push_back(item["hex"].get<std::string>());
        return out;
    };
    using v = std::vector<std::string>;

    auto empty = c.get_json(log);
    CHECK(empty["code"] == 200);
    CHECK(empty["data"] == json::parse(R"({"dropped":0,"items":[]})"));
    REQUIRE(c.post(dev + "/connect").status == 200u);
    for (auto h : {"01", "02", "03", "04", "05"})
        REQUIRE(c.post(dev + "/send", std::string(R"({"hex":")") + h + R"("})").status == 200u);

    CHECK(hexes(log) == v{"01", "02", "03", "04", "05"});
    CHECK(hexes(log + "?from=0") == v{"01", "02", "03", "04", "05"});
    CHECK(hexes(log + "?from=2") == v{"03", "04", "05"});
    CHECK(hexes(log + "?from=2&limit=2") == v{"03", "04"});
    CHECK(hexes(log + "?limit=1") == v{"01"});
    CHECK(hexes(log + "?from=5").empty());
    CHECK(hexes(log + "?from=6&limit=3").empty());

    // A reader that keeps up: from = (messages read so far) - dropped.
    std::vector<std::string> seen = hexes(log);
    auto read_more = [&] {
        auto j = c.get_json(
            log + "?from=" +
            std::to_string(seen.size() - c.get_json(log)["data"]["dropped"].get<std::size_t>()));
        for (const auto& item : j["data"]["items"])
            seen.push_back(item["hex"].get<std::string>());
    };
    for (auto h : {"06", "07", "08", "09"}) // 9 sent, 6 kept: 3 dropped
        REQUIRE(c.post(dev + "/send", std::string(R"({"hex":")") + h + R"("})").status == 200u);
    CHECK(c.get_json(log)["data"]["dropped"] == 3);
    CHECK(hexes(log) == v{"04", "05", "06", "07", "08", "09"});
    read_more();
    CHECK(seen == v{"01", "02", "03", "04", "05", "06", "07", "08", "09"});
    read_more();
    CHECK(seen.size() == 9);

    for (auto bad : {"?from=-1", "?from=x", "?from=", "?from=1.5", "?from=+1", "?from=0x1",
                     "?from=99999999999999999999", "?limit=0", "?limit=-1", "?from=%zz"}) {
        INFO(bad);
        auto r = c.get(log + bad);
        CHECK(r.status == 400u);
        CHECK(envelope_of(r)["code"] == 400);
    }
    CHECK(c.post(log).status == 405u);
    CHECK(c.get("/emulator/devices/00000000000000000000/sent").status == 404u);

    // DELETE empties the log and its dropped count; the history stays.
    CHECK(c.del(log).status == 200u);
    CHECK(c.get_json(log)["data"] == json::parse(R"({"dropped":0,"items":[]})"));
    CHECK(cloud.device(dtu).sent_count() == 0);
    CHECK(cloud.device(dtu).history_size() == 9);
}
