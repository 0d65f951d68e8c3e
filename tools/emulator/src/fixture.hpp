// The fixture: organisations, groups and devices the emulator serves, read from JSON.
//
//   {"orgs": [{"id": 1, "name": "...", ...other fields...,
//              "groups": [{"id": 45, "name": "...", ...,
//                          "devices": [{"id": 146, "show_id": 1007, "name": "...",
//                                       "number": "18846494908532689575", ...}]}]}]}
//
// Every object is served as written, except the nesting keys ("groups", "devices") and
// the org's "device_counter", which is the number of its devices. `device_type` "03"
// makes an NB-IoT device (its number is the NB-IoT id, 1..37 bytes); any other type
// ("01" DTU, "02" WIFI, "04" 4G DTU, or none) needs a 20-character device number.
#ifndef ATOMCLOUD_EMULATOR_SRC_FIXTURE_HPP
#define ATOMCLOUD_EMULATOR_SRC_FIXTURE_HPP

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace atomcloud::emulator::detail {

using json = nlohmann::ordered_json;

enum class device_kind { dtu, wifi, nbiot, lte };

/// "DTU", "WIFI", "NB-IoT", "4G DTU".
const char* to_string(device_kind k) noexcept;

struct device_entry {
    std::int64_t id = 0;
    std::string number;
    device_kind kind = device_kind::dtu;
    std::size_t org = 0;   // index into fixture::orgs
    std::size_t group = 0; // index into fixture::groups
    json listing;          // as the devices endpoint returns it
};

struct group_entry {
    std::int64_t id = 0;
    std::size_t org = 0;
    std::vector<std::size_t> devices;
    json listing;
};

struct org_entry {
    std::int64_t id = 0;
    std::vector<std::size_t> groups;
    std::vector<std::size_t> devices;
    json listing;
};

/// The parsed fixture; immutable once built.
struct fixture {
    std::vector<org_entry> orgs;
    std::vector<group_entry> groups;
    std::vector<device_entry> devices;
    std::map<std::int64_t, std::size_t> org_by_id;
    std::map<std::int64_t, std::size_t> group_by_id;
    std::map<std::int64_t, std::size_t> device_by_id;
    std::unordered_map<std::string, std::size_t> device_by_number;

    const device_entry* find_device(std::string_view number) const {
        auto it = device_by_number.find(std::string(number));
        return it == device_by_number.end() ? nullptr : &devices[it->second];
    }
};

/// Parses and checks a fixture. Throws std::runtime_error naming what is wrong (bad JSON,
/// a missing or duplicate id, an invalid device number, an unknown device_type).
fixture parse_fixture(std::string_view json_text);

/// The built-in default fixture (fixtures/default.json, embedded at build time).
std::string_view default_fixture_json() noexcept;

} // namespace atomcloud::emulator::detail

#endif
