#include <atomcloud/device_id.hpp>

#include <catch2/catch.hpp>

#include <sstream>
#include <unordered_set>

using atomcloud::client_errc;
using atomcloud::device_number;
using atomcloud::nbiot_id;

TEST_CASE("device_number accepts exactly 20 printable ASCII characters", "[device_id]") {
    device_number n("18846494908532689575");
    CHECK(n.view() == "18846494908532689575");
    CHECK(n.str() == "18846494908532689575");
    CHECK(n.size() == 20);
    CHECK(device_number::is_valid("ABCDEFGHIJ0123456789"));
    CHECK(device_number::is_valid("!~!~!~!~!~!~!~!~!~!~"));
}

TEST_CASE("device_number rejects wrong lengths and non-printable bytes", "[device_id]") {
    for (std::string_view bad :
         {std::string_view(""), std::string_view("1884649490853268957"),
          std::string_view("188464949085326895750"), std::string_view("1884649490853268957 "),
          std::string_view("18846494908532689\t75"), std::string_view("1884649490853268957\0", 20),
          std::string_view("1884649490853268957\xc3", 20)}) {
        INFO(bad);
        CHECK_FALSE(device_number::is_valid(bad));
        CHECK_FALSE(device_number::parse(bad));
        atomcloud::error_code ec;
        CHECK_FALSE(device_number::parse(bad, ec));
        CHECK(ec == client_errc::invalid_device_number);
        CHECK_THROWS_AS(device_number(bad), atomcloud::error);
    }
}

TEST_CASE("device_number parse with error_code clears it on success", "[device_id]") {
    atomcloud::error_code ec = client_errc::invalid_hex;
    auto n = device_number::parse("18846494908532689575", ec);
    REQUIRE(n);
    CHECK_FALSE(ec);
}

TEST_CASE("device_number compares, hashes and prints", "[device_id]") {
    device_number a("18846494908532689575"), b("18846494908532689576");
    CHECK(a == device_number("18846494908532689575"));
    CHECK(a != b);
    CHECK(a < b);
    std::unordered_set<device_number> set{a, b, a};
    CHECK(set.size() == 2);
    std::ostringstream os;
    os << a;
    CHECK(os.str() == "18846494908532689575");
}

TEST_CASE("nbiot_id holds up to 37 bytes", "[device_id]") {
    nbiot_id id("b6d85634-9d34-4052-80cd-b840b75cb910");
    CHECK(id.view() == "b6d85634-9d34-4052-80cd-b840b75cb910");
    CHECK(id.size() == 36);
    CHECK(nbiot_id::is_valid(std::string(37, 'x')));
    CHECK(nbiot_id::is_valid("a"));
}

TEST_CASE("nbiot_id rejects empty, too long and NUL-containing ids", "[device_id]") {
    const std::string too_long(38, 'x');
    for (std::string_view bad :
         {std::string_view(""), std::string_view(too_long), std::string_view("ab\0cd", 5)}) {
        CHECK_FALSE(nbiot_id::parse(bad));
        atomcloud::error_code ec;
        CHECK_FALSE(nbiot_id::parse(bad, ec));
        CHECK(ec == client_errc::invalid_nbiot_id);
        CHECK_THROWS_AS(nbiot_id(bad), atomcloud::error);
    }
}

TEST_CASE("nbiot_id is 37 bytes on the wire, NUL padded", "[device_id]") {
    nbiot_id id("b6d85634-9d34-4052-80cd-b840b75cb910");
    std::uint8_t wire[37];
    std::fill(std::begin(wire), std::end(wire), 0xAA);
    id.to_wire(wire);
    CHECK(std::string_view(reinterpret_cast<const char*>(wire), 36) ==
          "b6d85634-9d34-4052-80cd-b840b75cb910");
    CHECK(wire[36] == 0x00);

    nbiot_id short_id("abc");
    short_id.to_wire(wire);
    CHECK(wire[2] == 'c');
    for (int i = 3; i < 37; ++i)
        CHECK(wire[i] == 0);
}

TEST_CASE("nbiot_id from_wire strips trailing NUL padding only", "[device_id]") {
    std::string field = "b6d85634-9d34-4052-80cd-b840b75cb910";
    field.push_back('\0');
    auto id = nbiot_id::from_wire(field);
    REQUIRE(id);
    CHECK(id->view() == "b6d85634-9d34-4052-80cd-b840b75cb910");

    auto full = nbiot_id::from_wire(std::string(37, 'z'));
    REQUIRE(full);
    CHECK(full->size() == 37);

    CHECK_FALSE(nbiot_id::from_wire(std::string(37, '\0'))); // nothing left
    CHECK_FALSE(
        nbiot_id::from_wire(std::string("ab\0cd", 5) + std::string(32, '\0'))); // NUL inside
    CHECK_FALSE(nbiot_id::from_wire(std::string(38, 'z'))); // longer than any id
    // A narrower field (session_options::nbiot_id_width) holds ids up to its width.
    CHECK(nbiot_id::from_wire(std::string("short\0", 6))->view() == "short");
}

TEST_CASE("nbiot_id compares and hashes", "[device_id]") {
    nbiot_id a("abc"), b("abd");
    CHECK(a == nbiot_id("abc"));
    CHECK(a != b);
    CHECK(a < b);
    std::unordered_set<nbiot_id> set{a, b, nbiot_id("abc")};
    CHECK(set.size() == 2);
    std::ostringstream os;
    os << b;
    CHECK(os.str() == "abd");
}
