// Fuzzes REST response parsing: the first byte picks the endpoint (orgs, groups, devices,
// device state, history page) and whether the HTTP status is 200; the rest is the body.
// Properties checked: nothing throws; a failure returns an empty value with an error of
// the client or API category and an explanation; the server's message is valid UTF-8
// and never holds the token; valid JSON is never called invalid (but for nesting beyond
// the limit); parsed values are consistent (device types and states match their text,
// a packet's bytes come from its hex text, lists stay within the item limit).
#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/payload.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

namespace detail = atomcloud::detail;

constexpr std::string_view token = "fuzz-token";

void check(bool condition) {
    if (!condition)
        std::abort();
}

void check_outcome(int http_status, std::string_view body, const atomcloud::diagnostics& diag,
                   const atomcloud::error_code& ec, bool empty) {
    check(diag.http_status() == http_status);
    check(atomcloud::is_valid_utf8(diag.server_message()));
    check(diag.server_message().find(token) == std::string::npos);
    if (!ec)
        return;
    check(empty);
    check(ec.category() == atomcloud::client_category() ||
          ec.category() == atomcloud::api_category());
    if (ec.category() == atomcloud::client_category())
        check(!diag.client_message().empty());
    if (ec == atomcloud::client_errc::invalid_json && nlohmann::json::accept(body))
        check(diag.client_message().find("nests deeper") != std::string::npos);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const unsigned selector = data[0];
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    const int http_status = (selector & 0x80) ? 503 : 200;
    const detail::parse_context ctx{token, std::chrono::minutes(480), nullptr};
    atomcloud::diagnostics diag;
    atomcloud::error_code ec;
    switch (selector % 5) {
    case 0: {
        const auto v = detail::parse_orgs(http_status, body, ctx, diag, ec);
        check_outcome(http_status, body, diag, ec, v.empty());
        check(v.size() <= detail::max_response_items);
        break;
    }
    case 1: {
        const auto v = detail::parse_groups(http_status, body, ctx, diag, ec);
        check_outcome(http_status, body, diag, ec, v.empty());
        check(v.size() <= detail::max_response_items);
        break;
    }
    case 2: {
        const auto v = detail::parse_devices(http_status, body, ctx, diag, ec);
        check_outcome(http_status, body, diag, ec, v.empty());
        check(v.size() <= detail::max_response_items);
        for (const auto& d : v)
            check(d.type == atomcloud::parse_device_type(d.type_raw));
        break;
    }
    case 3: {
        const auto v = detail::parse_device_state(http_status, body, ctx, diag, ec);
        check_outcome(http_status, body, diag, ec, v.raw.empty());
        check(v.state == atomcloud::parse_connection_state(v.raw));
        break;
    }
    default: {
        const auto v = detail::parse_packet_page(http_status, body, ctx, diag, ec);
        check_outcome(http_status, body, diag, ec, v.items.empty());
        check(v.items.size() <= detail::max_response_items);
        for (const auto& p : v.items) {
            atomcloud::error_code hex_ec;
            check(atomcloud::parse_hex_packet(p.hex, hex_ec) == p.payload && !hex_ec);
            atomcloud::packet_time t;
            std::chrono::minutes off{};
            check(detail::parse_api_time(p.raw_time, ctx.default_offset, t, off));
            check(t == p.time && off == p.utc_offset);
        }
        break;
    }
    }
    return 0;
}
