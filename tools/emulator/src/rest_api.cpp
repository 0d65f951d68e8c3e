// The platform's REST API (/api/...) as functions from a request to a reply, and the
// admission of WebSocket upgrades (/connection/...).
#include "cloud.hpp"

#include <atomcloud/payload.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <variant>

namespace atomcloud::emulator::detail {

namespace {

bool under(std::string_view path, std::string_view root) {
    return path == root || (path.size() > root.size() && path.substr(0, root.size()) == root &&
                            path[root.size()] == '/');
}

} // namespace

bool cloud::is_api_target(std::string_view target) noexcept {
    return under(target_path(target), "/api");
}

http_reply cloud::handle_http(const http_request& req) {
    const auto path = target_path(req.target());
    const bool api = under(path, "/api");
    if (!api && !under(path, "/emulator"))
        return unknown_path();
    auto target = parse_target(req.target());
    if (!target)
        return bad_parameter_reply("the target is not a valid, validly percent-encoded URL path",
                                   api ? http::status::ok : http::status::bad_request);
    return api ? handle_api(req, *target) : handle_control(req, *target);
}

http_reply cloud::handle_api(const http_request& req, const request_target& target) {
    if (req.method() != http::verb::get)
        return method_not_allowed("GET");

    // /api/orgs | /api/orgs/:org/grouplist | /api/orgs/:org/groups/:group/devices
    // /api/orgs/:org/devicestate/:device_id | /api/orgs/:org/devicepacket/:number
    const auto& seg = target.segments;
    enum class route { none, orgs, groups, devices, state, packets } which = route::none;
    if (seg.size() == 2 && seg[1] == "orgs")
        which = route::orgs;
    else if (seg.size() == 4 && seg[1] == "orgs" && seg[3] == "grouplist")
        which = route::groups;
    else if (seg.size() == 6 && seg[1] == "orgs" && seg[3] == "groups" && seg[5] == "devices")
        which = route::devices;
    else if (seg.size() == 5 && seg[1] == "orgs" && seg[3] == "devicestate")
        which = route::state;
    else if (seg.size() == 5 && seg[1] == "orgs" && seg[3] == "devicepacket")
        which = route::packets;
    if (which == route::none)
        return unknown_path();

    auto token = req.find("token");
    if (token == req.end() || token->value() != opts_.token)
        return envelope_reply(http::status::ok, 300, msg_not_logged_in);

    if (which == route::orgs) {
        json data = json::array();
        for (const auto& o : fx_.orgs)
            data.push_back(o.listing);
        return ok_reply(data);
    }
    auto org_id = parse_int(seg[2]);
    if (!org_id)
        return bad_parameter_reply("org_id must be an integer");
    auto org_it = fx_.org_by_id.find(*org_id);
    if (org_it == fx_.org_by_id.end())
        return not_found_reply("org " + std::to_string(*org_id));
    const std::size_t org = org_it->second;
    switch (which) {
    case route::groups:
        return groups_reply(org);
    case route::devices:
        return devices_reply(org, seg[4]);
    case route::state:
        return state_reply(org, seg[4]);
    default:
        return history_reply(org, seg[4], target);
    }
}

http_reply cloud::groups_reply(std::size_t org) const {
    json data = json::array();
    for (auto g : fx_.orgs[org].groups)
        data.push_back(fx_.groups[g].listing);
    return ok_reply(data);
}

namespace {

/// Where `items` holds the group or device (`what`) whose id is the path segment `text`, if
/// it belongs to organisation `org`; otherwise the reply that says why not.
template <class Items>
std::variant<std::size_t, http_reply> find_in_org(std::string_view text, std::string_view what,
                                                  const std::map<std::int64_t, std::size_t>& by_id,
                                                  const Items& items, std::size_t org) {
    auto id = parse_int(text);
    if (!id)
        return bad_parameter_reply(std::string(what) + "_id must be an integer");
    auto found = by_id.find(*id);
    if (found == by_id.end() || items[found->second].org != org)
        return not_found_reply(std::string(what) + " " + std::to_string(*id));
    return found->second;
}

} // namespace

http_reply cloud::devices_reply(std::size_t org, std::string_view group) const {
    auto g = find_in_org(group, "group", fx_.group_by_id, fx_.groups, org);
    if (auto* reply = std::get_if<http_reply>(&g))
        return std::move(*reply);
    json data = json::array();
    for (auto d : fx_.groups[std::get<std::size_t>(g)].devices)
        data.push_back(fx_.devices[d].listing);
    return ok_reply(data);
}

http_reply cloud::state_reply(std::size_t org, std::string_view device) const {
    auto d = find_in_org(device, "device", fx_.device_by_id, fx_.devices, org);
    if (auto* reply = std::get_if<http_reply>(&d))
        return std::move(*reply);
    return ok_reply(state_text(std::get<std::size_t>(d)));
}

namespace {

struct history_params {
    std::uint64_t page = 1;
    std::uint64_t limit = 30;
    std::optional<time_point> start, end;
};

/// page, limit, start, end; the problem when one is invalid.
std::optional<history_params> read_history_params(const request_target& target,
                                                  std::string& problem) {
    history_params out;
    auto fail = [&](const char* what) {
        problem = what;
        return std::optional<history_params>();
    };
    if (auto p = target.param("page")) {
        auto v = parse_positive(*p);
        if (!v)
            return fail("page must be a positive integer");
        out.page = *v;
    }
    if (auto p = target.param("limit")) {
        auto v = parse_positive(*p);
        if (!v)
            return fail("limit must be a positive integer");
        out.limit = std::min<std::uint64_t>(*v, 1000);
    }
    if (auto p = target.param("start"); p && !p->empty()) {
        out.start = parse_query_time(*p);
        if (!out.start)
            return fail("start must be yyyy-MM-dd hh:mm:ss");
    }
    if (auto p = target.param("end"); p && !p->empty()) {
        out.end = parse_query_time(*p);
        if (!out.end)
            return fail("end must be yyyy-MM-dd hh:mm:ss");
    }
    if (out.start && out.end && *out.start > *out.end)
        return fail("start is after end");
    return out;
}

/// The page written straight out (the same text a JSON document of it would dump to): the
/// page is the emulator's largest reply and its cost is most of a history request's.
std::string history_page_body(const history_page& result, const history_params& q,
                              const std::string& number) {
    const std::string number_json =
        json(number).dump(-1, ' ', false, json::error_handler_t::replace);
    std::string body;
    body.reserve(96 + result.items.size() * (number_json.size() + 96));
    body += R"({"code":200,"data":{"current_page":)";
    body += std::to_string(q.page);
    body += R"(,"items":[)";
    bool first = true;
    std::string hex;
    for (const auto* m : result.items) {
        body += first ? R"({"hex_packet":")" : R"(,{"hex_packet":")";
        first = false;
        hex.clear();
        append_hex_packet(m->payload, hex); // hex digits and spaces: nothing to escape
        body += hex;
        body += R"(","length":)";
        body += std::to_string(m->payload.size());
        body += R"(,"number":)";
        body += number_json;
        body += R"(,"time":")";
        body += format_cloud_time(m->time); // digits and punctuation
        body += R"("})";
    }
    body += R"(],"page_limit":)";
    body += std::to_string(q.limit);
    body += R"(,"total_item":)";
    body += std::to_string(result.total_items);
    body += R"(,"total_page":)";
    body += std::to_string(result.total_pages);
    body += R"(},"message":""})";
    return body;
}

} // namespace

http_reply cloud::history_reply(std::size_t org, std::string_view number,
                                const request_target& target) {
    const device_entry* dev = org_device(org, number);
    if (!dev)
        return not_found_reply("device " + std::string(number));
    std::string problem;
    auto q = read_history_params(target, problem);
    if (!q)
        return bad_parameter_reply(problem);
    auto& st = states_[static_cast<std::size_t>(dev - fx_.devices.data())];
    st.hist.evict(now(), limits_);
    http_reply r;
    r.body = history_page_body(st.hist.query(q->start, q->end, q->page, q->limit), *q, dev->number);
    return r;
}

ws_admission cloud::admit_websocket(std::string_view target_text) const {
    ws_admission out;
    out.log_target = atomcloud::redact(std::string(target_text), opts_.token);
    auto target = parse_target(target_text);
    const auto& seg = target ? target->segments : std::vector<std::string>{};
    // connection/:api_token/org/:org_id
    if (seg.size() != 4 || seg[0] != "connection" || seg[2] != "org") {
        out.rejection = unknown_path();
        return out;
    }
    if (seg[1] != opts_.token) {
        out.rejection = envelope_reply(http::status::unauthorized, 300, msg_not_logged_in);
        return out;
    }
    auto org_id = parse_int(seg[3]);
    auto org = org_id ? fx_.org_by_id.find(*org_id) : fx_.org_by_id.end();
    if (org == fx_.org_by_id.end()) {
        out.rejection = not_found_reply("org " + seg[3], http::status::not_found);
        return out;
    }
    const std::string* random = target->param("token");
    if (!random || random->empty()) {
        out.rejection = bad_parameter_reply("the query parameter token, a random id, is missing",
                                            http::status::bad_request);
        return out;
    }
    out.accepted = true;
    out.org = org->second;
    return out;
}

} // namespace atomcloud::emulator::detail
