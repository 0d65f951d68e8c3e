#include "fixture.hpp"

#include <atomcloud/device_id.hpp>
#include <atomcloud/payload.hpp>

#include <atomcloud/emulator/detail/default_fixture.hpp>

#include <stdexcept>

namespace atomcloud::emulator::detail {

const char* to_string(device_kind k) noexcept {
    switch (k) {
    case device_kind::dtu:
        return "DTU";
    case device_kind::wifi:
        return "WIFI";
    case device_kind::nbiot:
        return "NB-IoT";
    case device_kind::lte:
        return "4G DTU";
    }
    return "unknown";
}

std::string_view default_fixture_json() noexcept {
    return {default_fixture_text, sizeof(default_fixture_text) - 1};
}

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw std::runtime_error("fixture: " + where + ": " + what);
}

const json& member(const json& obj, const char* key, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end())
        fail(where, std::string("missing \"") + key + "\"");
    return *it;
}

std::int64_t integer_id(const json& obj, const std::string& where) {
    const json& id = member(obj, "id", where);
    if (!id.is_number_integer())
        fail(where, "\"id\" must be an integer");
    return id.get<std::int64_t>();
}

void check_strings_utf8(const json& j, const std::string& where) {
    if (j.is_string()) {
        if (!is_valid_utf8(j.get_ref<const std::string&>()))
            fail(where, "a string is not valid UTF-8");
    } else if (j.is_structured()) {
        for (const auto& item : j)
            check_strings_utf8(item, where);
    }
}

const json& array_member(const json& obj, const char* key, const std::string& where) {
    auto it = obj.find(key);
    static const json empty = json::array();
    if (it == obj.end())
        return empty;
    if (!it->is_array())
        fail(where, std::string("\"") + key + "\" must be an array");
    return *it;
}

device_kind kind_of(const json& d, const std::string& where) {
    std::string type;
    if (auto t = d.find("device_type"); t != d.end()) {
        if (!t->is_string())
            fail(where, "\"device_type\" must be a string");
        type = t->get<std::string>();
    }
    if (type.empty() || type == "01")
        return device_kind::dtu;
    if (type == "02")
        return device_kind::wifi;
    if (type == "03")
        return device_kind::nbiot;
    if (type == "04")
        return device_kind::lte;
    fail(where, "unknown device_type \"" + type + "\" (01, 02, 03 or 04)");
}

/// A device object, checked on its own (ids are checked for uniqueness by the caller).
device_entry parse_device(const json& d, const std::string& where) {
    if (!d.is_object())
        fail(where, "must be an object");
    device_entry dev;
    dev.id = integer_id(d, where);
    const json& number = member(d, "number", where);
    if (!number.is_string())
        fail(where, "\"number\" must be a string");
    dev.number = number.get<std::string>();
    dev.kind = kind_of(d, where);
    if (dev.kind == device_kind::nbiot) {
        if (!nbiot_id::is_valid(dev.number))
            fail(where, "an NB-IoT id must be 1 to 37 bytes without NUL");
    } else if (!device_number::is_valid(dev.number)) {
        fail(where,
             "\"" + dev.number + "\" is not a device number (20 printable ASCII characters)");
    }
    check_strings_utf8(d, where);
    dev.listing = d;
    return dev;
}

/// Adds the group `g` of organisation `org_index` (with its devices) to `fx` and `org`.
void add_group(fixture& fx, org_entry& org, std::size_t org_index, const json& g,
               const std::string& where) {
    if (!g.is_object())
        fail(where, "must be an object");
    group_entry group;
    group.id = integer_id(g, where);
    group.org = org_index;
    if (!fx.group_by_id.emplace(group.id, fx.groups.size()).second)
        fail(where, "duplicate group id " + std::to_string(group.id));
    const std::size_t group_index = fx.groups.size();
    const json& devices = array_member(g, "devices", where);
    for (std::size_t di = 0; di < devices.size(); ++di) {
        const std::string dwhere = where + ".devices[" + std::to_string(di) + "]";
        device_entry dev = parse_device(devices[di], dwhere);
        dev.org = org_index;
        dev.group = group_index;
        if (!fx.device_by_id.emplace(dev.id, fx.devices.size()).second)
            fail(dwhere, "duplicate device id " + std::to_string(dev.id));
        if (!fx.device_by_number.emplace(dev.number, fx.devices.size()).second)
            fail(dwhere, "duplicate device number " + dev.number);
        group.devices.push_back(fx.devices.size());
        org.devices.push_back(fx.devices.size());
        fx.devices.push_back(std::move(dev));
    }
    json listing = g;
    listing.erase("devices");
    check_strings_utf8(listing, where);
    group.listing = std::move(listing);
    org.groups.push_back(group_index);
    fx.groups.push_back(std::move(group));
}

void add_org(fixture& fx, const json& o, const std::string& where) {
    if (!o.is_object())
        fail(where, "must be an object");
    org_entry org;
    org.id = integer_id(o, where);
    if (!fx.org_by_id.emplace(org.id, fx.orgs.size()).second)
        fail(where, "duplicate org id " + std::to_string(org.id));
    const std::size_t org_index = fx.orgs.size();
    const json& groups = array_member(o, "groups", where);
    for (std::size_t gi = 0; gi < groups.size(); ++gi)
        add_group(fx, org, org_index, groups[gi], where + ".groups[" + std::to_string(gi) + "]");
    json listing = o;
    listing.erase("groups");
    check_strings_utf8(listing, where);
    listing["device_counter"] = org.devices.size();
    org.listing = std::move(listing);
    fx.orgs.push_back(std::move(org));
}

} // namespace

fixture parse_fixture(std::string_view json_text) {
    json doc = json::parse(json_text.begin(), json_text.end(), nullptr, false);
    if (doc.is_discarded())
        throw std::runtime_error("fixture: not valid JSON");
    if (!doc.is_object())
        throw std::runtime_error("fixture: the top level must be an object with \"orgs\"");
    fixture fx;
    const json& orgs = member(doc, "orgs", "top level");
    if (!orgs.is_array())
        fail("top level", "\"orgs\" must be an array");
    for (std::size_t oi = 0; oi < orgs.size(); ++oi)
        add_org(fx, orgs[oi], "orgs[" + std::to_string(oi) + "]");
    return fx;
}

} // namespace atomcloud::emulator::detail
