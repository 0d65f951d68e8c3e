// The cloud's core: construction, its clock and log, and the devices' connection state.
#include "cloud.hpp"

#include <stdexcept>
#include <utility>

namespace atomcloud::emulator::detail {

cloud::cloud(const options& opts, fixture fx)
    : opts_(opts), fx_(std::move(fx)), log_(opts.log), states_(fx_.devices.size()),
      org_links_(fx_.orgs.size()) {
    limits_.retention = opts.retention;
    limits_.max_items = opts.max_history_per_device;
    limits_.max_bytes = opts.max_history_bytes_per_device;
    for (std::size_t i = 0; i < fx_.devices.size(); ++i) {
        const auto& d = fx_.devices[i];
        if (d.kind == device_kind::nbiot)
            states_[i].nb_id = nbiot_id::parse(d.number);
        else
            states_[i].number = device_number::parse(d.number);
    }
}

std::chrono::system_clock::time_point cloud::now() const {
    return opts_.clock ? opts_.clock() : std::chrono::system_clock::now();
}

namespace {

/// Hides the API-token segment of every "connection/<token>/" path in `text`, whatever
/// the token: a client's wrong token is often the right one mistyped.
std::string redact_connection_paths(std::string text) {
    static constexpr std::string_view marker = "/connection/";
    for (std::size_t at = text.find(marker); at != std::string::npos;
         at = text.find(marker, at + 1)) {
        const std::size_t begin = at + marker.size();
        const std::size_t end = text.find_first_of("/? \t\r\n", begin);
        const std::size_t n = (end == std::string::npos ? text.size() : end) - begin;
        if (n > 0 && text.compare(begin, n, "***") != 0)
            text.replace(begin, n, "***");
    }
    return text;
}

} // namespace

void cloud::log(log_level l, std::string_view message) const {
    if (log_.enabled(l))
        log_.sink(l, redact_connection_paths(atomcloud::redact(std::string(message), opts_.token)));
}

void cloud::inject_fault(const fault& f, std::size_t count) {
    if (auto problem = check_fault(f); !problem.empty())
        throw std::invalid_argument("atomcloud::emulator: fault " + problem);
    faults_.push(f, count);
}

// ---- devices ---------------------------------------------------------------------------

const device_entry* cloud::org_device(std::size_t org, std::string_view number) const {
    const device_entry* dev = fx_.find_device(number);
    return dev && dev->org == org ? dev : nullptr;
}

std::string cloud::state_text(std::size_t device) const {
    const bool nb = fx_.devices[device].kind == device_kind::nbiot;
    if (states_[device].connected)
        return nb ? "binded" : "connected";
    return nb ? "notbind" : "disconnected";
}

bool cloud::connect_device(std::size_t device) {
    auto& st = states_[device];
    if (st.connected)
        return false;
    st.connected = true;
    log(log_level::info, "device " + fx_.devices[device].number + " " + state_text(device));
    publish_event(device, true);
    return true;
}

bool cloud::disconnect_device(std::size_t device) {
    auto& st = states_[device];
    if (!st.connected)
        return false;
    st.connected = false;
    log(log_level::info, "device " + fx_.devices[device].number + " " + state_text(device));
    publish_event(device, false);
    return true;
}

std::size_t cloud::history_size(std::size_t device) {
    auto& st = states_[device];
    st.hist.evict(now(), limits_);
    return st.hist.size();
}

} // namespace atomcloud::emulator::detail
