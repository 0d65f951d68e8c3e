// The control API (/emulator/...): the emulator's own endpoints, which stand in for the
// device link and let tests and scripts inject outages and faults.
#include "cloud.hpp"

#include <atomcloud/payload.hpp>

#include <algorithm>
#include <limits>

namespace atomcloud::emulator::detail {

namespace {

constexpr auto bad_request = http::status::bad_request;

/// The request's body as a JSON object ({} when empty); std::nullopt when it is not one.
std::optional<json> body_object(const http_request& req) {
    if (req.body().empty())
        return json::object();
    json j = json::parse(req.body(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::nullopt;
    return j;
}

http_reply bad_body(std::string_view what) {
    return bad_parameter_reply(what, bad_request);
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

http_reply cloud::handle_control(const http_request& req, const request_target& target) {
    auto token = req.find("token");
    if (token == req.end() || token->value() != opts_.token)
        return envelope_reply(http::status::unauthorized, 300, msg_not_logged_in);

    const auto& seg = target.segments; // seg[0] == "emulator"
    const auto method = req.method();
    const std::string_view what = seg.size() >= 2 ? std::string_view(seg[1]) : "";
    if (seg.size() == 2 && (what == "status" || what == "devices"))
        return status_reply(req, what == "devices");
    if ((seg.size() == 3 || seg.size() == 4) && what == "devices") {
        const device_entry* dev = fx_.find_device(seg[2]);
        if (!dev)
            return not_found_reply("device " + seg[2], http::status::not_found);
        const auto index = static_cast<std::size_t>(dev - fx_.devices.data());
        return device_control(req, index, seg.size() == 4 ? seg[3] : std::string_view(), target);
    }
    if (seg.size() != 2)
        return unknown_path();
    if (what == "faults")
        return faults_reply(req);
    if (what == "drop-connections")
        return drop_connections_reply(req);
    if (what == "suspend")
        return suspend_reply(req);
    if (what == "restart") {
        if (method != http::verb::post)
            return method_not_allowed("POST");
        auto r = ok_reply(nullptr);
        r.after = after_reply::restart;
        return r;
    }
    return unknown_path();
}

/// GET /emulator/status (counters and devices) and GET /emulator/devices.
http_reply cloud::status_reply(const http_request& req, bool devices_only) {
    if (req.method() != http::verb::get)
        return method_not_allowed("GET");
    json devs = json::array();
    for (std::size_t i = 0; i < fx_.devices.size(); ++i)
        devs.push_back(device_status_json(i));
    if (devices_only)
        return ok_reply(devs);
    json j = status_json();
    j["devices"] = std::move(devs);
    return ok_reply(j);
}

http_reply cloud::drop_connections_reply(const http_request& req) const {
    if (req.method() != http::verb::post)
        return method_not_allowed("POST");
    auto body = body_object(req);
    if (!body)
        return bad_body("the body must be a JSON object");
    auto ms = int_member(*body, "refuse_ms", 0, 0, 3600 * 1000);
    if (!ms)
        return bad_body("refuse_ms must be an integer from 0 to 3600000");
    auto r = ok_reply(nullptr);
    r.after = after_reply::drop_connections;
    r.refuse_websockets_for = std::chrono::milliseconds(*ms);
    return r;
}

http_reply cloud::suspend_reply(const http_request& req) const {
    if (req.method() != http::verb::post)
        return method_not_allowed("POST");
    auto body = body_object(req);
    if (!body)
        return bad_body("the body must be a JSON object");
    auto ms = int_member(*body, "duration_ms", -1, 1, 3600 * 1000);
    if (!ms || *ms < 0)
        return bad_body("duration_ms must be an integer from 1 to 3600000");
    auto r = ok_reply(nullptr);
    r.after = after_reply::suspend;
    r.suspend_for = std::chrono::milliseconds(*ms);
    return r;
}

/// GET (list), POST (inject) and DELETE (clear) /emulator/faults.
http_reply cloud::faults_reply(const http_request& req) {
    const auto method = req.method();
    if (method == http::verb::delete_) {
        clear_faults();
        return ok_reply(nullptr);
    }
    if (method == http::verb::get)
        return ok_reply(faults_.to_json());
    if (method != http::verb::post)
        return method_not_allowed("GET, POST, DELETE");
    auto body = body_object(req);
    if (!body)
        return bad_body("the body must be a JSON object");
    auto count = int_member(*body, "count", 1, 1, 1000000);
    if (!count)
        return bad_body("count must be an integer from 1 to 1000000");
    std::string problem;
    auto f = fault_from_json(*body, problem);
    if (!f)
        return bad_body(problem);
    inject_fault(*f, static_cast<std::size_t>(*count));
    log(log_level::info,
        std::string("fault injected: ") + to_string(f->what) + " x" + std::to_string(*count));
    json data = json::object();
    data["pending_faults"] = pending_faults();
    return ok_reply(data);
}

// ---- one device ---------------------------------------------------------------------------

http_reply cloud::device_control(const http_request& req, std::size_t device,
                                 std::string_view action, const request_target& target) {
    const auto method = req.method();
    const bool del = method == http::verb::delete_;
    if (action.empty())
        return method == http::verb::get ? ok_reply(device_status_json(device))
                                         : method_not_allowed("GET");
    if (action == "connect" || action == "disconnect") {
        if (method != http::verb::post)
            return method_not_allowed("POST");
        if (action == "connect")
            connect_device(device);
        else
            disconnect_device(device);
        return ok_reply(device_status_json(device));
    }
    if (action == "send")
        return method == http::verb::post ? device_send_reply(req, device)
                                          : method_not_allowed("POST");
    if (action != "sent" && action != "received")
        return unknown_path();
    if (!del && method != http::verb::get)
        return method_not_allowed("GET, DELETE");
    if (action == "sent" && del)
        clear_sent(device);
    else if (del)
        clear_received(device);
    if (del)
        return ok_reply(nullptr);
    return action == "sent" ? sent_reply(device, target) : received_reply(device);
}

namespace {

/// The payload of a send body {"hex": ...} or {"text": ..., "encoding": "utf8"|"gbk"}.
std::optional<bytes> send_payload(const json& body, std::string& problem) {
    auto fail = [&](std::string what) {
        problem = std::move(what);
        return std::optional<bytes>();
    };
    auto hex = body.find("hex");
    auto text = body.find("text");
    if ((hex != body.end()) == (text != body.end()))
        return fail("give exactly one of \"hex\" and \"text\"");
    if (hex != body.end()) {
        if (!hex->is_string())
            return fail("hex must be a string");
        error_code ec;
        auto payload = parse_hex_packet(hex->get<std::string>(), ec);
        if (ec)
            return fail("hex: " + ec.message());
        return payload;
    }
    if (!text->is_string())
        return fail("text must be a string");
    std::string encoding = "utf8";
    if (auto e = body.find("encoding"); e != body.end())
        encoding = e->is_string() ? e->get<std::string>() : std::string();
    const auto& t = text->get_ref<const std::string&>();
    if (encoding == "utf8" || encoding == "utf-8")
        return to_bytes(t);
    if (encoding != "gbk")
        return fail("encoding must be \"utf8\" or \"gbk\"");
    error_code ec;
    auto payload = utf8_to_gbk(t, ec);
    if (ec)
        return fail("text cannot be encoded as GBK");
    return payload;
}

} // namespace

http_reply cloud::device_send_reply(const http_request& req, std::size_t device) {
    json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return bad_body("the body must be a JSON object with \"hex\" or \"text\"");
    std::string problem;
    auto payload = send_payload(body, problem);
    if (!payload)
        return bad_body(problem);
    if (!states_[device].connected)
        return envelope_reply(http::status::conflict, 201,
                              "device " + fx_.devices[device].number + " is not connected");
    if (payload->size() > opts_.max_inbound_message_size)
        return bad_body("payload larger than " + std::to_string(opts_.max_inbound_message_size) +
                        " bytes");
    device_send(device, *payload);
    json data = json::object();
    data["length"] = payload->size();
    data["hex_packet"] = to_hex_packet(*payload);
    return ok_reply(data);
}

http_reply cloud::received_reply(std::size_t device) {
    json list = json::array();
    for (const auto& m : received(device)) {
        json j = json::object();
        j["hex"] = to_hex_packet(m.payload);
        j["length"] = m.payload.size();
        j["time"] = format_cloud_time(m.time);
        list.push_back(std::move(j));
    }
    return ok_reply(list);
}

http_reply cloud::sent_reply(std::size_t device, const request_target& target) {
    std::uint64_t from = 0;
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
    if (auto p = target.param("from")) {
        auto v = parse_unsigned(*p);
        if (!v)
            return bad_body("from must be a non-negative integer");
        from = *v;
    }
    if (auto p = target.param("limit")) {
        auto v = parse_positive(*p);
        if (!v)
            return bad_body("limit must be a positive integer");
        limit = *v;
    }
    // Written straight out: the log may be long.
    http_reply r;
    std::lock_guard lock(sent_mutex_);
    const auto& st = states_[device];
    const auto first = static_cast<std::size_t>(std::min<std::uint64_t>(from, st.sent.size()));
    const auto count =
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

} // namespace atomcloud::emulator::detail
