#include "faults.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace atomcloud::emulator {

const char* to_string(fault::kind k) noexcept {
    // Names are string literals in the table, so data() is NUL-terminated.
    return detail::spec_of(k).name.data();
}

} // namespace atomcloud::emulator

namespace atomcloud::emulator::detail {

namespace {

using ms = std::chrono::milliseconds;
constexpr std::int64_t max_delay_ms = 600000;

constexpr fault_param status_param{
    "status",
    false,
    200,
    599,
    [](const fault& f) -> std::int64_t { return f.status; },
    [](fault& f, std::int64_t v) { f.status = static_cast<int>(v); }};
constexpr fault_param code_param{"code",
                                 false,
                                 std::numeric_limits<int>::min(),
                                 std::numeric_limits<int>::max(),
                                 [](const fault& f) -> std::int64_t { return f.code; },
                                 [](fault& f, std::int64_t v) { f.code = static_cast<int>(v); }};
constexpr fault_param message_param{"message", true};
constexpr fault_param delay_param{"delay_ms",
                                  false,
                                  0,
                                  max_delay_ms,
                                  [](const fault& f) -> std::int64_t { return f.delay.count(); },
                                  [](fault& f, std::int64_t v) { f.delay = ms(v); }};
constexpr fault_param chunk_param{
    "chunk_bytes",
    false,
    1,
    65536,
    [](const fault& f) {
        return static_cast<std::int64_t>(std::min<std::size_t>(f.chunk_bytes, 1u << 30));
    },
    [](fault& f, std::int64_t v) { f.chunk_bytes = static_cast<std::size_t>(v); }};
constexpr fault_param cut_param{
    "cut_after_bytes",
    false,
    0,
    1 << 30,
    [](const fault& f) {
        return static_cast<std::int64_t>(std::min<std::size_t>(f.cut_after_bytes, 1u << 31));
    },
    [](fault& f, std::int64_t v) { f.cut_after_bytes = static_cast<std::size_t>(v); }};

constexpr std::array<const fault_param*, 0> no_params{};
constexpr std::array<const fault_param*, 1> status_params{&status_param};
constexpr std::array<const fault_param*, 2> code_params{&code_param, &message_param};
constexpr std::array<const fault_param*, 1> delay_params{&delay_param};
constexpr std::array<const fault_param*, 1> cut_params{&cut_param};
constexpr std::array<const fault_param*, 2> slow_params{&chunk_param, &delay_param};

using k = fault::kind;
using site = fault_site;
using on = fault_trigger;

// The order is the enum's: spec_of() indexes it.
const std::array<fault_spec, 10> table{{
    {k::http_status, "http_status", site::reply, on::api_request, status_params},
    {k::api_code, "api_code", site::reply, on::api_request, code_params},
    {k::delay, "delay", site::transport, on::api_request, delay_params},
    {k::close_connection, "close_connection", site::transport, on::api_request, no_params},
    {k::truncated_body, "truncated_body", site::transport, on::api_request, no_params},
    {k::malformed_body, "malformed_body", site::reply, on::api_request, no_params},
    {k::websocket_stall, "websocket_stall", site::websocket, on::websocket_frame, delay_params},
    {k::websocket_drop_mid_frame, "websocket_drop_mid_frame", site::websocket, on::websocket_frame,
     cut_params},
    {k::websocket_no_pong, "websocket_no_pong", site::websocket, on::websocket_ping, no_params},
    {k::websocket_slow_writes, "websocket_slow_writes", site::websocket, on::websocket_frame,
     slow_params},
}};

std::string kind_names() {
    std::string out;
    for (const auto& s : table)
        out += (out.empty() ? "" : ", ") + std::string(s.name);
    return out;
}

bool takes(const fault_spec& s, std::string_view member) {
    return std::any_of(s.params.begin(), s.params.end(),
                       [&](const fault_param* p) { return p->name == member; });
}

} // namespace

std::string fault_param::rule() const {
    if (is_text)
        return "a string";
    return "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
}

std::span<const fault_spec> fault_table() noexcept {
    return table;
}

const fault_spec& spec_of(fault::kind kind) noexcept {
    const auto i = static_cast<std::size_t>(kind);
    return table[i < table.size() ? i : 0];
}

const fault_spec* find_fault(std::string_view name) noexcept {
    for (const auto& s : table)
        if (s.name == name)
            return &s;
    return nullptr;
}

std::string check_fault(const fault& f) {
    const auto i = static_cast<std::size_t>(f.what);
    if (i >= table.size())
        return "unknown fault kind";
    for (const auto* p : table[i].params) {
        if (p->is_text)
            continue;
        const auto v = p->get(f);
        if (v < p->lo || v > p->hi)
            return std::string(table[i].name) + ": " + std::string(p->name) + " must be " +
                   p->rule();
    }
    return {};
}

std::optional<fault> fault_from_json(const json& body, std::string& problem) {
    auto kind = body.find("kind");
    const fault_spec* spec =
        kind != body.end() && kind->is_string() ? find_fault(kind->get<std::string>()) : nullptr;
    if (!spec) {
        problem = "kind must be one of " + kind_names();
        return std::nullopt;
    }
    fault f;
    f.what = spec->kind;
    for (const auto& [name, value] : body.items()) {
        if (name == "kind" || name == "count")
            continue;
        if (!takes(*spec, name)) {
            problem = std::string(spec->name) + " takes no " + name;
            return std::nullopt;
        }
    }
    for (const auto* p : spec->params) {
        auto it = body.find(p->name);
        if (it == body.end())
            continue;
        if (p->is_text && it->is_string()) {
            f.message = it->get<std::string>();
            continue;
        }
        auto v = p->is_text ? std::nullopt : json_int(*it, p->lo, p->hi);
        if (!v) {
            problem = std::string(p->name) + " must be " + p->rule();
            return std::nullopt;
        }
        p->set(f, *v);
    }
    return f;
}

json fault_to_json(const fault& f) {
    const auto& spec = spec_of(f.what);
    json j = json::object();
    j["kind"] = spec.name;
    for (const auto* p : spec.params) {
        if (p->is_text)
            j[std::string(p->name)] = f.message;
        else
            j[std::string(p->name)] = p->get(f);
    }
    return j;
}

http_reply fault_reply(const fault& f) {
    http_reply r;
    switch (f.what) {
    case fault::kind::http_status:
        r.status = static_cast<http::status>(f.status);
        r.content_type = "text/html";
        r.body = "<html><head><title>" + std::to_string(f.status) +
                 "</title></head><body><center><h1>" + std::to_string(f.status) + " " +
                 std::string(http::obsolete_reason(r.status)) +
                 "</h1></center><hr><center>nginx</center></body></html>\r\n";
        return r;
    case fault::kind::api_code:
        return envelope_reply(http::status::ok, f.code, f.message);
    case fault::kind::malformed_body:
        r.body = R"({"code":200,"message":"","data":[{"id":1,"name":"正点)";
        return r;
    default:
        return ok_reply(nullptr);
    }
}

// ---- the queue --------------------------------------------------------------------------

void fault_queue::push(const fault& f, std::size_t count) {
    if (count > 0)
        pending_.push_back({f, count});
}

std::optional<fault> fault_queue::take(fault_trigger t) {
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [t](const entry& e) { return spec_of(e.f.what).trigger == t; });
    if (it == pending_.end())
        return std::nullopt;
    fault f = it->f;
    if (--it->remaining == 0)
        pending_.erase(it);
    return f;
}

std::size_t fault_queue::size() const noexcept {
    std::size_t n = 0;
    for (const auto& e : pending_)
        n += e.remaining;
    return n;
}

json fault_queue::to_json() const {
    json list = json::array();
    for (const auto& e : pending_) {
        json j = fault_to_json(e.f);
        j["count"] = e.remaining;
        list.push_back(std::move(j));
    }
    return list;
}

} // namespace atomcloud::emulator::detail
