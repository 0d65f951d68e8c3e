// The API's times: calendar arithmetic, "yyyy-MM-dd hh:mm:ss", ISO 8601 with offsets, and
// the public parse_time / format_time over them.
#include <atomcloud/detail/time.hpp>
#include <atomcloud/time.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>

using namespace std::chrono_literals;
namespace detail = atomcloud::detail;
using atomcloud::packet_time;

namespace {

packet_time utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
    const auto days = detail::days_from_civil(y, mo, d);
    return packet_time(std::chrono::seconds(days * 86400 + h * 3600 + mi * 60 + s));
}

} // namespace

TEST_CASE("times: civil date conversion round-trips", "[time]") {
    CHECK(detail::days_from_civil(1970, 1, 1) == 0);
    CHECK(detail::days_from_civil(2000, 3, 1) == 11017);
    CHECK(detail::days_from_civil(1969, 12, 31) == -1);
    for (std::int64_t d : {-800000LL, -1LL, 0LL, 59LL, 11016LL, 17754LL, 2932896LL}) {
        const auto c = detail::civil_from_days(d);
        CHECK(detail::days_from_civil(c.year, c.month, c.day) == d);
    }
    const auto leap = detail::civil_from_days(detail::days_from_civil(2024, 2, 29));
    CHECK((leap.year == 2024 && leap.month == 2 && leap.day == 29));
}

TEST_CASE("times: the API's format, as the history query writes it", "[time]") {
    CHECK(detail::format_api_time(utc(2018, 8, 11, 9, 0, 0), 480min) == "2018-08-11 17:00:00");
    CHECK(detail::format_api_time(utc(2018, 8, 11, 9, 0, 0) + 999ms, 480min) ==
          "2018-08-11 17:00:00");
    CHECK(detail::format_api_time(utc(1969, 12, 31, 23, 59, 59), 0min) == "1969-12-31 23:59:59");
    CHECK(detail::format_api_time(utc(2020, 1, 1, 0, 30, 0), -60min) == "2019-12-31 23:30:00");
}

TEST_CASE("times: the API's times with varying fractions and offsets", "[time]") {
    atomcloud::packet_time t;
    std::chrono::minutes off{};
    const auto base = utc(2018, 8, 11, 9, 3, 39);

    REQUIRE(detail::parse_api_time("2018-08-11T17:03:39.300928+08:00", 480min, t, off));
    CHECK(t.time_since_epoch() == (base + 300928us).time_since_epoch());
    CHECK(off == 480min);

    REQUIRE(detail::parse_api_time("2018-08-11T17:03:39.28068+08:00", 480min, t, off));
    CHECK(t.time_since_epoch() == (base + 280680us).time_since_epoch());
    REQUIRE(detail::parse_api_time("2018-08-11T17:03:39.3+08:00", 480min, t, off));
    CHECK(t.time_since_epoch() == (base + 300000us).time_since_epoch());
    REQUIRE(detail::parse_api_time("2018-08-11T17:03:39+08:00", 480min, t, off));
    CHECK(t.time_since_epoch() == base.time_since_epoch());
    REQUIRE(detail::parse_api_time("2018-08-11T17:03:39.123456789+08:00", 480min, t, off));
    CHECK(t.time_since_epoch() == (base + 123456us).time_since_epoch());

    REQUIRE(detail::parse_api_time("2018-08-11T09:03:39Z", 480min, t, off));
    CHECK(t.time_since_epoch() == base.time_since_epoch());
    CHECK(off == 0min);
    REQUIRE(detail::parse_api_time("2018-08-11T04:03:39.5-05:00", 480min, t, off));
    CHECK(t.time_since_epoch() == (base + 500ms).time_since_epoch());
    CHECK(off == -300min);
    REQUIRE(detail::parse_api_time("2018-08-11T14:33:39+0530", 480min, t, off));
    CHECK(t.time_since_epoch() == base.time_since_epoch());
    CHECK(off == 330min);
    // No offset: the platform's time zone; a space for the T.
    REQUIRE(detail::parse_api_time("2018-08-11 17:03:39", 480min, t, off));
    CHECK(t.time_since_epoch() == base.time_since_epoch());
    CHECK(off == 480min);

    for (const char* bad :
         {"", "2018-08-11", "2018-08-11T17:03", "2018-13-11T17:03:39+08:00",
          "2018-02-30T17:03:39+08:00", "2018-08-11T24:00:00+08:00", "2018-08-11T17:03:39.+08:00",
          "2018-08-11T17:03:39.1234567890Z", "2018-08-11T17:03:39+8:00",
          "2018-08-11T17:03:39 +08:00", "2018-08-11T17:03:39Zjunk", "yyyy-08-11T17:03:39Z"}) {
        INFO(bad);
        CHECK_FALSE(detail::parse_api_time(bad, 480min, t, off));
    }
}

TEST_CASE("times: ISO 8601 with microseconds and the offset", "[time]") {
    const auto t = utc(2018, 8, 11, 9, 3, 39) + 300928us;
    CHECK(detail::format_iso_time(t, 480min) == "2018-08-11T17:03:39.300928+08:00");
    CHECK(detail::format_iso_time(t, 0min) == "2018-08-11T09:03:39.300928+00:00");
    CHECK(detail::format_iso_time(t, -330min) == "2018-08-11T03:33:39.300928-05:30");
    CHECK(detail::format_iso_time(utc(1970, 1, 1, 0, 0, 0) - 1us, 0min) ==
          "1969-12-31T23:59:59.999999+00:00");
}

TEST_CASE("times: the public parse_time and format_time round-trip", "[time]") {
    const auto t = utc(2024, 5, 6, 6, 0, 0) + 500000us;
    const std::string iso = atomcloud::format_time(t); // the platform's zone, ISO by default
    CHECK(iso == "2024-05-06T14:00:00.500000+08:00");
    auto back = atomcloud::parse_time(iso);
    REQUIRE(back);
    CHECK(back->time == t);
    CHECK(back->utc_offset == atomcloud::platform_utc_offset);

    CHECK(atomcloud::format_time(t, 0min, atomcloud::time_format::api) == "2024-05-06 06:00:00");
    auto api = atomcloud::parse_time("2024-05-06 14:00:00"); // in UTC+8 by default
    REQUIRE(api);
    CHECK(api->time == utc(2024, 5, 6, 6, 0, 0));
    auto utc_api = atomcloud::parse_time("2024-05-06 14:00:00", 0min);
    REQUIRE(utc_api);
    CHECK(utc_api->time == utc(2024, 5, 6, 14, 0, 0));
    CHECK(utc_api->utc_offset == 0min);

    CHECK_FALSE(atomcloud::parse_time("2023-02-29 00:00:00"));
    CHECK_FALSE(atomcloud::parse_time("now"));
}
