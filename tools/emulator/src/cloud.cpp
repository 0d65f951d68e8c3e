#include "cloud.hpp"

#include <atomcloud/detail/url.hpp>
#include <atomcloud/frame.hpp>
#include <atomcloud/payload.hpp>

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>
#include <utility>

namespace atomcloud::emulator {

const char* to_string(fault::kind k) noexcept {
    switch (k) {
    case fault::kind::http_status:
        return "http_status";
    case fault::kind::api_code:
        return "api_code";
    case fault::kind::delay:
        return "delay";
    case fault::kind::close_connection:
        return "close_connection";
    case fault::kind::truncated_body:
        return "truncated_body";
    case fault::kind::malformed_body:
        return "malformed_body";
    }
    return "unknown";
}

} // namespace atomcloud::emulator

namespace atomcloud::emulator::detail {

namespace {

// ---- text helpers --------------------------------------------------------------------

std::string envelope(int code, std::string_view message, const json& data) {
    json j = json::object();
    j["code"] = code;
    j["message"] = message;
    j["data"] = data;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

http_reply reply(http::status status, int code, std::string_view message,
                 const json& data = nullptr) {
    http_reply r;
    r.status = status;
    r.body = envelope(code, message, data);
    return r;
}

http_reply ok(const json& data) {
    return reply(http::status::ok, 200, "", data);
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// Percent-decodes; '+' is a space in query strings. std::nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size())
                return std::nullopt;
            int hi = hex_value(text[i + 1]);
            int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0)
                return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

struct query_param {
    std::string name;
    std::string value;
};

/// Splits and decodes "a=1&b=2". std::nullopt on a bad escape.
std::optional<std::vector<query_param>> parse_query(std::string_view query) {
    std::vector<query_param> out;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (part.empty())
            continue;
        auto eq = part.find('=');
        auto name = percent_decode(part.substr(0, eq), true);
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
        if (!name || !value)
            return std::nullopt;
        out.push_back({std::move(*name), std::move(*value)});
        if (out.size() > 64)
            return std::nullopt;
    }
    return out;
}

const std::string* find_param(const std::vector<query_param>& params, std::string_view name) {
    const std::string* found = nullptr;
    for (const auto& p : params)
        if (p.name == name)
            found = &p.value; // the last one wins
    return found;
}

/// "/a/b/c" -> {"a","b","c"}; segments are not decoded.
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (!path.empty() && path.front() == '/')
        path.remove_prefix(1);
    while (true) {
        auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos)
            break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
    auto q = target.find('?');
    if (q == std::string_view::npos)
        return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

/// A decimal integer, optionally negative, nothing else.
std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t v = 0;
    if (text.empty() || text.front() == '+')
        return std::nullopt;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size())
        return std::nullopt;
    return v;
}

/// A decimal integer >= 0, digits only.
std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
    std::uint64_t v = 0;
    if (text.empty() || text.front() < '0' || text.front() > '9')
        return std::nullopt;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size())
        return std::nullopt;
    return v;
}

/// A decimal integer > 0, digits only.
std::optional<std::uint64_t> parse_positive(std::string_view text) {
    auto v = parse_unsigned(text);
    if (v && *v == 0)
        return std::nullopt;
    return v;
}

constexpr std::string_view msg_not_logged_in =
    "未登录，没有操作权限 (not logged in: bad or missing token)";
constexpr std::string_view msg_not_found = "指定对象不存在";
constexpr std::string_view msg_bad_parameter = "参数错误";

http_reply api_not_found(std::string_view what) {
    return reply(http::status::ok, 401,
                 std::string(msg_not_found) + " (" + std::string(what) + ")");
}

http_reply api_bad_parameter(std::string_view what) {
    return reply(http::status::ok, 400,
                 std::string(msg_bad_parameter) + " (" + std::string(what) + ")");
}

http_reply method_not_allowed(std::string_view allow) {
    auto r = reply(http::status::method_not_allowed, 400,
                   "method not allowed (use " + std::string(allow) + ")");
    r.allow = allow;
    return r;
}

http_reply unknown_path() {
    return reply(http::status::not_found, 401, std::string(msg_not_found) + " (no such path)");
}

} // namespace

// ---- construction ----------------------------------------------------------------------

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
        log_.sink(l, redact_connection_paths(
                         atomcloud::redact(std::string(message), opts_.token)));
}

// ---- HTTP ------------------------------------------------------------------------------

http_reply cloud::error_reply(http::status status, int code, std::string_view message) {
    return reply(status, code, message);
}

http_reply cloud::websocket_outage_reply() {
    return reply(http::status::service_unavailable, 500, "websocket unavailable (injected outage)");
}

bool cloud::is_api_target(std::string_view target) noexcept {
    auto path = split_target(target).first;
    return path == "/api" || path.substr(0, 5) == "/api/";
}

http_reply cloud::handle_http(const http_request& req) {
    auto [path, query] = split_target(req.target());
    if (path == "/api" || path.substr(0, 5) == "/api/")
        return handle_api(req, path, query);
    if (path == "/emulator" || path.substr(0, 10) == "/emulator/")
        return handle_control(req, path, query);
    return unknown_path();
}

http_reply cloud::handle_api(const http_request& req, std::string_view path,
                             std::string_view query) {
    if (req.method() != http::verb::get)
        return method_not_allowed("GET");

    // /api/orgs | /api/orgs/:org/grouplist | /api/orgs/:org/groups/:group/devices
    // /api/orgs/:org/devicestate/:device_id | /api/orgs/:org/devicepacket/:number
    auto seg = split_path(path);
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
        return reply(http::status::ok, 300, msg_not_logged_in);

    if (which == route::orgs) {
        json data = json::array();
        for (const auto& o : fx_.orgs)
            data.push_back(o.listing);
        return ok(data);
    }

    auto org_text = percent_decode(seg[2], false);
    auto org_id = org_text ? parse_int(*org_text) : std::nullopt;
    if (!org_id)
        return api_bad_parameter("org_id must be an integer");
    auto org_it = fx_.org_by_id.find(*org_id);
    if (org_it == fx_.org_by_id.end())
        return api_not_found("org " + std::to_string(*org_id));
    const std::size_t org = org_it->second;

    switch (which) {
    case route::groups: {
        json data = json::array();
        for (auto g : fx_.orgs[org].groups)
            data.push_back(fx_.groups[g].listing);
        return ok(data);
    }
    case route::devices: {
        auto group_text = percent_decode(seg[4], false);
        auto group_id = group_text ? parse_int(*group_text) : std::nullopt;
        if (!group_id)
            return api_bad_parameter("group_id must be an integer");
        auto g = fx_.group_by_id.find(*group_id);
        if (g == fx_.group_by_id.end() || fx_.groups[g->second].org != org)
            return api_not_found("group " + std::to_string(*group_id));
        json data = json::array();
        for (auto d : fx_.groups[g->second].devices)
            data.push_back(fx_.devices[d].listing);
        return ok(data);
    }
    case route::state: {
        auto id_text = percent_decode(seg[4], false);
        auto device_id = id_text ? parse_int(*id_text) : std::nullopt;
        if (!device_id)
            return api_bad_parameter("device_id must be an integer");
        auto d = fx_.device_by_id.find(*device_id);
        if (d == fx_.device_by_id.end() || fx_.devices[d->second].org != org)
            return api_not_found("device " + std::to_string(*device_id));
        return ok(state_text(d->second));
    }
    case route::packets: {
        auto number = percent_decode(seg[4], false);
        if (!number)
            return api_bad_parameter("device_number is not validly percent-encoded");
        return history_reply(org, *number, query);
    }
    default:
        return unknown_path();
    }
}

http_reply cloud::history_reply(std::size_t org, std::string_view number, std::string_view query) {
    const device_entry* dev = org_device(org, number);
    if (!dev)
        return api_not_found("device " + std::string(number));
    auto params = parse_query(query);
    if (!params)
        return api_bad_parameter("the query string is not validly percent-encoded");

    std::uint64_t page = 1;
    std::uint64_t limit = 30;
    std::optional<time_point> start, end;
    if (auto p = find_param(*params, "page")) {
        auto v = parse_positive(*p);
        if (!v)
            return api_bad_parameter("page must be a positive integer");
        page = *v;
    }
    if (auto p = find_param(*params, "limit")) {
        auto v = parse_positive(*p);
        if (!v)
            return api_bad_parameter("limit must be a positive integer");
        limit = std::min<std::uint64_t>(*v, 1000);
    }
    if (auto p = find_param(*params, "start"); p && !p->empty()) {
        start = parse_query_time(*p);
        if (!start)
            return api_bad_parameter("start must be yyyy-MM-dd hh:mm:ss");
    }
    if (auto p = find_param(*params, "end"); p && !p->empty()) {
        end = parse_query_time(*p);
        if (!end)
            return api_bad_parameter("end must be yyyy-MM-dd hh:mm:ss");
    }
    if (start && end && *start > *end)
        return api_bad_parameter("start is after end");

    const std::size_t index = static_cast<std::size_t>(dev - fx_.devices.data());
    auto& st = states_[index];
    st.hist.evict(now(), limits_);
    auto result = st.hist.query(start, end, page, limit);

    // Written straight out (the same text a JSON document of the page would dump to): the
    // page is the emulator's largest reply and its cost is most of a history request's.
    const std::string number_json =
        json(dev->number).dump(-1, ' ', false, json::error_handler_t::replace);
    http_reply r;
    r.body.reserve(96 + result.items.size() * (number_json.size() + 96));
    r.body += R"({"code":200,"data":{"current_page":)";
    r.body += std::to_string(page);
    r.body += R"(,"items":[)";
    bool first = true;
    std::string hex;
    for (const auto* m : result.items) {
        r.body += first ? R"({"hex_packet":")" : R"(,{"hex_packet":")";
        first = false;
        hex.clear();
        append_hex_packet(m->payload, hex); // hex digits and spaces: nothing to escape
        r.body += hex;
        r.body += R"(","length":)";
        r.body += std::to_string(m->payload.size());
        r.body += R"(,"number":)";
        r.body += number_json;
        r.body += R"(,"time":")";
        r.body += format_cloud_time(m->time); // digits and punctuation
        r.body += R"("})";
    }
    r.body += R"(],"page_limit":)";
    r.body += std::to_string(limit);
    r.body += R"(,"total_item":)";
    r.body += std::to_string(result.total_items);
    r.body += R"(,"total_page":)";
    r.body += std::to_string(result.total_pages);
    r.body += R"(},"message":""})";
    return r;
}

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

ws_admission cloud::admit_websocket(std::string_view target) const {
    ws_admission out;
    out.log_target = atomcloud::redact(std::string(target), opts_.token);
    auto [path, query] = split_target(target);
    auto seg = split_path(path);
    // connection/:api_token/org/:org_id
    if (seg.size() != 4 || seg[0] != "connection" || seg[2] != "org") {
        out.rejection = unknown_path();
        return out;
    }
    auto api_token = percent_decode(seg[1], false);
    if (!api_token || *api_token != opts_.token) {
        out.rejection = reply(http::status::unauthorized, 300, msg_not_logged_in);
        return out;
    }
    auto org_text = percent_decode(seg[3], false);
    auto org_id = org_text ? parse_int(*org_text) : std::nullopt;
    auto org = org_id ? fx_.org_by_id.find(*org_id) : fx_.org_by_id.end();
    if (org == fx_.org_by_id.end()) {
        out.rejection = reply(http::status::not_found, 401,
                              std::string(msg_not_found) + " (org " + std::string(seg[3]) + ")");
        return out;
    }
    auto params = parse_query(query);
    const std::string* random = params ? find_param(*params, "token") : nullptr;
    if (!random || random->empty()) {
        out.rejection = reply(http::status::bad_request, 400,
                              std::string(msg_bad_parameter) +
                                  " (the query parameter token, a random id, is missing)");
        return out;
    }
    out.accepted = true;
    out.org = org->second;
    return out;
}

// ---- faults ----------------------------------------------------------------------------

void cloud::inject_fault(const fault& f, std::size_t count) {
    if (count > 0)
        faults_.push_back({f, count});
}

std::optional<fault> cloud::take_fault() {
    if (faults_.empty())
        return std::nullopt;
    fault f = faults_.front().f;
    if (--faults_.front().remaining == 0)
        faults_.pop_front();
    return f;
}

std::size_t cloud::pending_faults() const noexcept {
    std::size_t n = 0;
    for (const auto& p : faults_)
        n += p.remaining;
    return n;
}

http_reply cloud::fault_reply(const fault& f) const {
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
        return reply(http::status::ok, f.code, f.message);
    case fault::kind::malformed_body:
        r.body = R"({"code":200,"message":"","data":[{"id":1,"name":"正点)";
        return r;
    default:
        return ok(nullptr);
    }
}

// ---- WebSocket sessions ----------------------------------------------------------------

void cloud::attach(app_link& link) {
    if (link.attached_)
        return;
    link.attached_ = true;
    org_links_[link.org_].push_back(&link);
    ++links_;
}

void cloud::detach(app_link& link) noexcept {
    if (!link.attached_)
        return;
    link.attached_ = false;
    auto& org = org_links_[link.org_];
    org.erase(std::remove(org.begin(), org.end(), &link), org.end());
    for (auto d : link.subscriptions_) {
        auto& subs = states_[d].subscribers;
        subs.erase(std::remove(subs.begin(), subs.end(), &link), subs.end());
    }
    link.subscriptions_.clear();
    --links_;
}

std::size_t cloud::subscriptions() const noexcept {
    std::size_t n = 0;
    for (const auto& s : states_)
        n += s.subscribers.size();
    return n;
}

error_code cloud::on_app_message(app_link& link, bytes_view message) {
    error_code ec;
    auto f = decode_frame(message, frame_origin::app, ec);
    if (!f)
        return ec;

    auto ignore = [&](std::string_view what, std::string_view number) {
        if (logs(log_level::info))
            log(log_level::info, std::string(what) + " for device " + std::string(number) +
                                     " ignored: not a device of org " +
                                     std::to_string(fx_.orgs[link.org_].id));
    };

    switch (type_of(*f)) {
    case frame_type::subscribe: {
        const auto& number = std::get<subscribe_frame>(*f).device;
        const device_entry* dev = org_device(link.org_, number.view());
        if (!dev || dev->kind == device_kind::nbiot) {
            ignore("subscribe (0x01)", number.view());
            break;
        }
        const auto index = static_cast<std::size_t>(dev - fx_.devices.data());
        auto& subs = link.subscriptions_;
        if (std::find(subs.begin(), subs.end(), index) == subs.end()) {
            subs.push_back(index);
            states_[index].subscribers.push_back(&link);
        }
        log(log_level::debug, "subscribed to " + dev->number);
        break;
    }
    case frame_type::unsubscribe: {
        const auto& number = std::get<unsubscribe_frame>(*f).device;
        const device_entry* dev = org_device(link.org_, number.view());
        if (!dev) {
            ignore("unsubscribe (0x02)", number.view());
            break;
        }
        const auto index = static_cast<std::size_t>(dev - fx_.devices.data());
        auto& subs = link.subscriptions_;
        subs.erase(std::remove(subs.begin(), subs.end(), index), subs.end());
        auto& links = states_[index].subscribers;
        links.erase(std::remove(links.begin(), links.end(), &link), links.end());
        log(log_level::debug, "unsubscribed from " + dev->number);
        break;
    }
    case frame_type::send: {
        const auto& s = std::get<send_frame>(*f);
        const device_entry* dev = org_device(link.org_, s.device.view());
        if (!dev || dev->kind == device_kind::nbiot) {
            ignore("send (0x03)", s.device.view());
            break;
        }
        record_received(static_cast<std::size_t>(dev - fx_.devices.data()), s.payload);
        break;
    }
    case frame_type::nbiot_send: {
        const auto& s = std::get<nbiot_send_frame>(*f);
        const device_entry* dev = org_device(link.org_, s.device.view());
        if (!dev || dev->kind != device_kind::nbiot) {
            ignore("NB-IoT send (0x07)", s.device.view());
            break;
        }
        record_received(static_cast<std::size_t>(dev - fx_.devices.data()), s.payload);
        break;
    }
    default: // decode_frame(frame_origin::app) only returns the four app types
        break;
    }
    return {};
}

// ---- devices ---------------------------------------------------------------------------

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

void cloud::publish_event(std::size_t device, bool connected) {
    auto& st = states_[device];
    if (!st.number || st.subscribers.empty()) // NB-IoT: no 37-byte event frames exist
        return;
    auto buf = std::make_shared<bytes>();
    if (connected)
        encode_frame(device_connected_frame{*st.number}, *buf);
    else
        encode_frame(device_disconnected_frame{*st.number}, *buf);
    std::shared_ptr<const bytes> frame = std::move(buf);
    for (auto* l : st.subscribers)
        l->deliver(frame);
}

void cloud::device_send(std::size_t device, bytes_view payload) {
    auto& st = states_[device];
    const auto& dev = fx_.devices[device];
    if (!st.connected)
        throw std::logic_error("device " + dev.number +
                               " is not connected: connect() it before it sends");
    if (payload.size() > opts_.max_inbound_message_size)
        throw std::logic_error("payload of " + std::to_string(payload.size()) +
                               " bytes is larger than the limit of " +
                               std::to_string(opts_.max_inbound_message_size));
    // The history keeps microseconds (its text has six digits at most), and a device's
    // times never go backwards, so that the history's order is the order of sending,
    // which is the order of the frames below.
    const auto clock_now = now();
    auto t = std::chrono::floor<std::chrono::microseconds>(clock_now);
    if (st.last_sent && t < *st.last_sent)
        t = *st.last_sent;
    st.last_sent = t;
    st.hist.add(time_point(t), bytes(payload.begin(), payload.end()), clock_now, limits_);
    record_sent(device, t, payload);

    if (st.nb_id) {
        auto& links = org_links_[dev.org];
        if (links.empty())
            return;
        auto buf = std::make_shared<bytes>();
        encode_frame(nbiot_data_frame{*st.nb_id, payload}, *buf);
        std::shared_ptr<const bytes> frame = std::move(buf);
        for (auto* l : links)
            l->deliver(frame);
    } else {
        if (st.subscribers.empty())
            return;
        auto buf = std::make_shared<bytes>();
        encode_frame(device_data_frame{*st.number, payload}, *buf);
        std::shared_ptr<const bytes> frame = std::move(buf);
        for (auto* l : st.subscribers)
            l->deliver(frame);
    }
}

std::size_t cloud::history_size(std::size_t device) {
    auto& st = states_[device];
    st.hist.evict(now(), limits_);
    return st.hist.size();
}

// ---- the log of what devices sent -------------------------------------------------------

void cloud::record_sent(std::size_t device, sent_time t, bytes_view payload) {
    std::lock_guard lock(sent_mutex_);
    auto& st = states_[device];
    st.sent_bytes += payload.size();
    st.sent.push_back(sent_message{t, bytes(payload.begin(), payload.end())});
    while (!st.sent.empty() && (st.sent.size() > opts_.max_sent_log_per_device ||
                                st.sent_bytes > opts_.max_sent_log_bytes_per_device)) {
        st.sent_bytes -= st.sent.front().payload.size();
        st.sent.pop_front();
        ++st.sent_dropped;
    }
}

std::vector<sent_message> cloud::sent(std::size_t device) const {
    std::lock_guard lock(sent_mutex_);
    const auto& q = states_[device].sent;
    return {q.begin(), q.end()};
}

std::size_t cloud::sent_count(std::size_t device) const {
    std::lock_guard lock(sent_mutex_);
    return states_[device].sent.size();
}

std::size_t cloud::sent_dropped(std::size_t device) const {
    std::lock_guard lock(sent_mutex_);
    return states_[device].sent_dropped;
}

void cloud::clear_sent(std::size_t device) {
    std::lock_guard lock(sent_mutex_);
    auto& st = states_[device];
    st.sent.clear();
    st.sent_bytes = 0;
    st.sent_dropped = 0;
}

http_reply cloud::sent_reply(std::size_t device, std::string_view query) {
    auto params = parse_query(query);
    if (!params)
        return reply(http::status::bad_request, 400,
                     std::string(msg_bad_parameter) +
                         " (the query string is not validly percent-encoded)");
    std::uint64_t from = 0;
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
    if (auto p = find_param(*params, "from")) {
        auto v = parse_unsigned(*p);
        if (!v)
            return reply(http::status::bad_request, 400,
                         std::string(msg_bad_parameter) + " (from must be a non-negative integer)");
        from = *v;
    }
    if (auto p = find_param(*params, "limit")) {
        auto v = parse_positive(*p);
        if (!v)
            return reply(http::status::bad_request, 400,
                         std::string(msg_bad_parameter) + " (limit must be a positive integer)");
        limit = *v;
    }

    // Written straight out: the log may be long.
    http_reply r;
    std::lock_guard lock(sent_mutex_);
    const auto& st = states_[device];
    const std::size_t first =
        static_cast<std::size_t>(std::min<std::uint64_t>(from, st.sent.size()));
    const std::size_t count =
        static_cast<std::size_t>(std::min<std::uint64_t>(limit, st.sent.size() - first));
    r.body.reserve(64 + count * 64);
    r.body += R"({"code":200,"data":{"dropped":)";
    r.body += std::to_string(st.sent_dropped);
    r.body += R"(,"items":[)";
    std::string hex;
    for (std::size_t i = first; i < first + count; ++i) {
        const auto& m = st.sent[i];
        r.body += i == first ? R"({"hex":")" : R"(,{"hex":")";
        hex.clear();
        append_hex_packet(m.payload, hex); // hex digits and spaces: nothing to escape
        r.body += hex;
        r.body += R"(","length":)";
        r.body += std::to_string(m.payload.size());
        r.body += R"(,"time":")";
        r.body += format_cloud_time(time_point(m.time)); // digits and punctuation
        r.body += R"("})";
    }
    r.body += R"(]},"message":""})";
    return r;
}

// ---- received payloads -----------------------------------------------------------------

void cloud::record_received(std::size_t device, bytes_view payload) {
    const auto& dev = fx_.devices[device];
    if (!states_[device].connected) {
        log(log_level::info,
            "data for device " + dev.number + " dropped: the device is not connected");
        return;
    }
    received_message m{now(), bytes(payload.begin(), payload.end())};
    {
        std::lock_guard lock(received_mutex_);
        auto& st = states_[device];
        st.received_bytes += m.payload.size();
        st.received.push_back(std::move(m));
        while (!st.received.empty() && (st.received.size() > opts_.max_received_per_device ||
                                        st.received_bytes > opts_.max_received_bytes_per_device)) {
            st.received_bytes -= st.received.front().payload.size();
            st.received.pop_front();
        }
    }
    received_cv_.notify_all();
    if (logs(log_level::debug))
        log(log_level::debug,
            "device " + dev.number + " received " + std::to_string(payload.size()) + " bytes");
}

std::vector<received_message> cloud::received(std::size_t device) const {
    std::lock_guard lock(received_mutex_);
    const auto& q = states_[device].received;
    return {q.begin(), q.end()};
}

bool cloud::wait_received(std::size_t device, std::size_t count,
                          std::chrono::milliseconds timeout) const {
    std::unique_lock lock(received_mutex_);
    return received_cv_.wait_for(lock, timeout,
                                 [&] { return states_[device].received.size() >= count; });
}

void cloud::clear_received(std::size_t device) {
    std::lock_guard lock(received_mutex_);
    states_[device].received.clear();
    states_[device].received_bytes = 0;
}

// ---- the control API -------------------------------------------------------------------

namespace {

http_reply control_error(http::status status, int code, std::string_view message) {
    return reply(status, code, message);
}

std::optional<fault::kind> fault_kind_from(std::string_view name) {
    for (auto k :
         {fault::kind::http_status, fault::kind::api_code, fault::kind::delay,
          fault::kind::close_connection, fault::kind::truncated_body, fault::kind::malformed_body})
        if (name == to_string(k))
            return k;
    return std::nullopt;
}

/// An integer member in [lo, hi], `fallback` when absent; std::nullopt when invalid.
std::optional<std::int64_t> int_member(const json& body, const char* key, std::int64_t fallback,
                                       std::int64_t lo, std::int64_t hi) {
    auto it = body.find(key);
    if (it == body.end())
        return fallback;
    if (!it->is_number_integer())
        return std::nullopt;
    // Above INT64_MAX the JSON number is unsigned: it must not wrap to a negative one.
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    auto v = it->get<std::int64_t>();
    if (v < lo || v > hi)
        return std::nullopt;
    return v;
}

} // namespace

json cloud::device_status_json(std::size_t device) {
    const auto& dev = fx_.devices[device];
    json j = json::object();
    j["number"] = dev.number;
    j["id"] = dev.id;
    j["type"] = to_string(dev.kind);
    j["org_id"] = fx_.orgs[dev.org].id;
    j["group_id"] = fx_.groups[dev.group].id;
    j["state"] = state_text(device);
    j["subscribers"] = states_[device].subscribers.size();
    j["history_items"] = history_size(device);
    {
        std::lock_guard lock(received_mutex_);
        j["received_items"] = states_[device].received.size();
    }
    {
        std::lock_guard lock(sent_mutex_);
        j["sent_items"] = states_[device].sent.size();
        j["sent_dropped"] = states_[device].sent_dropped;
    }
    return j;
}

json cloud::status_json() const {
    json j = json::object();
    j["connections"] = open_connections;
    j["websocket_connections"] = links_;
    j["subscriptions"] = subscriptions();
    j["pending_faults"] = pending_faults();
    j["listening"] = listening;
    j["websocket_refusing"] = refusing_websockets();
    return j;
}

http_reply cloud::handle_control(const http_request& req, std::string_view path,
                                 std::string_view query) {
    auto token = req.find("token");
    if (token == req.end() || token->value() != opts_.token)
        return control_error(http::status::unauthorized, 300, msg_not_logged_in);

    auto seg = split_path(path); // seg[0] == "emulator"
    const auto method = req.method();
    auto parse_body = [&]() -> std::optional<json> {
        if (req.body().empty())
            return json::object();
        json j = json::parse(req.body(), nullptr, false);
        if (j.is_discarded() || !j.is_object())
            return std::nullopt;
        return j;
    };
    const auto bad_body = [](std::string_view what) {
        return control_error(http::status::bad_request, 400,
                             std::string(msg_bad_parameter) + " (" + std::string(what) + ")");
    };

    if (seg.size() == 2 && seg[1] == "status") {
        if (method != http::verb::get)
            return method_not_allowed("GET");
        json j = status_json();
        json devs = json::array();
        for (std::size_t i = 0; i < fx_.devices.size(); ++i)
            devs.push_back(device_status_json(i));
        j["devices"] = std::move(devs);
        return ok(j);
    }
    if (seg.size() == 2 && seg[1] == "devices") {
        if (method != http::verb::get)
            return method_not_allowed("GET");
        json devs = json::array();
        for (std::size_t i = 0; i < fx_.devices.size(); ++i)
            devs.push_back(device_status_json(i));
        return ok(devs);
    }
    if ((seg.size() == 3 || seg.size() == 4) && seg[1] == "devices") {
        auto number = percent_decode(seg[2], false);
        const device_entry* dev = number ? fx_.find_device(*number) : nullptr;
        if (!dev)
            return control_error(http::status::not_found, 401,
                                 std::string(msg_not_found) + " (device " +
                                     (number ? *number : std::string(seg[2])) + ")");
        const auto index = static_cast<std::size_t>(dev - fx_.devices.data());
        return device_control(req, index, seg.size() == 4 ? seg[3] : std::string_view(), query);
    }
    if (seg.size() == 2 && seg[1] == "drop-connections") {
        if (method != http::verb::post)
            return method_not_allowed("POST");
        auto body = parse_body();
        if (!body)
            return bad_body("the body must be a JSON object");
        auto ms = int_member(*body, "refuse_ms", 0, 0, 3600 * 1000);
        if (!ms)
            return bad_body("refuse_ms must be an integer from 0 to 3600000");
        auto r = ok(nullptr);
        r.after = after_reply::drop_connections;
        r.refuse_websockets_for = std::chrono::milliseconds(*ms);
        return r;
    }
    if (seg.size() == 2 && seg[1] == "restart") {
        if (method != http::verb::post)
            return method_not_allowed("POST");
        auto r = ok(nullptr);
        r.after = after_reply::restart;
        return r;
    }
    if (seg.size() == 2 && seg[1] == "suspend") {
        if (method != http::verb::post)
            return method_not_allowed("POST");
        auto body = parse_body();
        if (!body)
            return bad_body("the body must be a JSON object");
        auto ms = int_member(*body, "duration_ms", -1, 1, 3600 * 1000);
        if (!ms || *ms < 0)
            return bad_body("duration_ms must be an integer from 1 to 3600000");
        auto r = ok(nullptr);
        r.after = after_reply::suspend;
        r.suspend_for = std::chrono::milliseconds(*ms);
        return r;
    }
    if (seg.size() == 2 && seg[1] == "faults") {
        if (method == http::verb::delete_) {
            clear_faults();
            return ok(nullptr);
        }
        if (method == http::verb::get) {
            json list = json::array();
            for (const auto& p : faults_) {
                json j = json::object();
                j["kind"] = to_string(p.f.what);
                j["status"] = p.f.status;
                j["code"] = p.f.code;
                j["message"] = p.f.message;
                j["delay_ms"] = p.f.delay.count();
                j["count"] = p.remaining;
                list.push_back(std::move(j));
            }
            return ok(list);
        }
        if (method != http::verb::post)
            return method_not_allowed("GET, POST, DELETE");
        auto body = parse_body();
        if (!body)
            return bad_body("the body must be a JSON object");
        auto kind_it = body->find("kind");
        auto kind = kind_it != body->end() && kind_it->is_string()
                        ? fault_kind_from(kind_it->get<std::string>())
                        : std::nullopt;
        if (!kind)
            return bad_body("kind must be one of http_status, api_code, delay, "
                            "close_connection, truncated_body, malformed_body");
        fault f;
        f.what = *kind;
        auto status = int_member(*body, "status", 503, 200, 599);
        auto code = int_member(*body, "code", 500, std::numeric_limits<int>::min(),
                               std::numeric_limits<int>::max());
        auto delay = int_member(*body, "delay_ms", 0, 0, 600000);
        auto count = int_member(*body, "count", 1, 1, 1000000);
        if (!status)
            return bad_body("status must be an integer from 200 to 599");
        if (!code)
            return bad_body("code must be an integer");
        if (!delay)
            return bad_body("delay_ms must be an integer from 0 to 600000");
        if (!count)
            return bad_body("count must be an integer from 1 to 1000000");
        if (auto m = body->find("message"); m != body->end()) {
            if (!m->is_string())
                return bad_body("message must be a string");
            f.message = m->get<std::string>();
        }
        f.status = static_cast<int>(*status);
        f.code = static_cast<int>(*code);
        f.delay = std::chrono::milliseconds(*delay);
        inject_fault(f, static_cast<std::size_t>(*count));
        log(log_level::info,
            std::string("fault injected: ") + to_string(f.what) + " x" + std::to_string(*count));
        json data = json::object();
        data["pending_faults"] = pending_faults();
        return ok(data);
    }
    return unknown_path();
}

http_reply cloud::device_control(const http_request& req, std::size_t device,
                                 std::string_view action, std::string_view query) {
    const auto method = req.method();
    const auto& dev = fx_.devices[device];
    if (action.empty()) {
        if (method != http::verb::get)
            return method_not_allowed("GET");
        return ok(device_status_json(device));
    }
    if (action == "connect" || action == "disconnect") {
        if (method != http::verb::post)
            return method_not_allowed("POST");
        if (action == "connect")
            connect_device(device);
        else
            disconnect_device(device);
        return ok(device_status_json(device));
    }
    if (action == "send") {
        if (method != http::verb::post)
            return method_not_allowed("POST");
        json body = json::parse(req.body(), nullptr, false);
        auto bad = [](std::string_view what) {
            return control_error(http::status::bad_request, 400,
                                 std::string(msg_bad_parameter) + " (" + std::string(what) + ")");
        };
        if (body.is_discarded() || !body.is_object())
            return bad("the body must be a JSON object with \"hex\" or \"text\"");
        auto hex = body.find("hex");
        auto text = body.find("text");
        if ((hex != body.end()) == (text != body.end()))
            return bad("give exactly one of \"hex\" and \"text\"");
        bytes payload;
        if (hex != body.end()) {
            if (!hex->is_string())
                return bad("hex must be a string");
            error_code ec;
            payload = parse_hex_packet(hex->get<std::string>(), ec);
            if (ec)
                return bad("hex: " + ec.message());
        } else {
            if (!text->is_string())
                return bad("text must be a string");
            std::string encoding = "utf8";
            if (auto e = body.find("encoding"); e != body.end()) {
                if (!e->is_string())
                    return bad("encoding must be \"utf8\" or \"gbk\"");
                encoding = e->get<std::string>();
            }
            const auto& t = text->get_ref<const std::string&>();
            if (encoding == "utf8" || encoding == "utf-8") {
                payload = to_bytes(t);
            } else if (encoding == "gbk") {
                error_code ec;
                payload = utf8_to_gbk(t, ec);
                if (ec)
                    return bad("text cannot be encoded as GBK");
            } else {
                return bad("encoding must be \"utf8\" or \"gbk\"");
            }
        }
        if (!states_[device].connected)
            return control_error(http::status::conflict, 201,
                                 "device " + dev.number + " is not connected");
        if (payload.size() > opts_.max_inbound_message_size)
            return bad("payload larger than " + std::to_string(opts_.max_inbound_message_size) +
                       " bytes");
        device_send(device, payload);
        json data = json::object();
        data["length"] = payload.size();
        data["hex_packet"] = to_hex_packet(payload);
        return ok(data);
    }
    if (action == "sent") {
        if (method == http::verb::delete_) {
            clear_sent(device);
            return ok(nullptr);
        }
        if (method != http::verb::get)
            return method_not_allowed("GET, DELETE");
        return sent_reply(device, query);
    }
    if (action == "received") {
        if (method == http::verb::delete_) {
            clear_received(device);
            return ok(nullptr);
        }
        if (method != http::verb::get)
            return method_not_allowed("GET, DELETE");
        json list = json::array();
        for (const auto& m : received(device)) {
            json j = json::object();
            j["hex"] = to_hex_packet(m.payload);
            j["length"] = m.payload.size();
            j["time"] = format_cloud_time(m.time);
            list.push_back(std::move(j));
        }
        return ok(list);
    }
    return unknown_path();
}

} // namespace atomcloud::emulator::detail
