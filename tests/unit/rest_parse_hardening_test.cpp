// Response parsing against hostile or broken servers: integers out of range, ill-formed
// UTF-8, deep nesting, huge lists, fields in any order, and the peak heap of parsing a
// body of about 27 MB (counted by this executable's global operator new).
#include <atomcloud/detail/rest_protocol.hpp>

#include <catch2/catch.hpp>

#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>

using atomcloud::api_errc;
using atomcloud::client_errc;
using atomcloud::diagnostics;
using atomcloud::error_code;
namespace detail = atomcloud::detail;

// ---------------------------------------------------------------------------------------
// Heap accounting: every operator new of this executable counts its usable size.

namespace {

std::atomic<std::size_t> live_bytes{0};
std::atomic<std::size_t> peak_bytes{0};

void* counted_alloc(std::size_t size) noexcept {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (!p)
        return nullptr;
    const std::size_t now = live_bytes += malloc_usable_size(p);
    std::size_t peak = peak_bytes.load(std::memory_order_relaxed);
    while (now > peak && !peak_bytes.compare_exchange_weak(peak, now))
        ;
    return p;
}

#if defined(__GNUC__) && !defined(__clang__)
// GCC cannot see that every pointer freed here came from counted_alloc's malloc.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void counted_free(void* p) noexcept {
    if (!p)
        return;
    live_bytes -= malloc_usable_size(p);
    std::free(p);
}

} // namespace

void* operator new(std::size_t size) {
    if (void* p = counted_alloc(size))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    if (void* p = counted_alloc(size))
        return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return counted_alloc(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return counted_alloc(size);
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete[](void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    counted_free(p);
}

namespace {

const detail::parse_context ctx{"secret-token-123", std::chrono::minutes(480), nullptr};

std::string envelope(const std::string& data, int code = 200, const std::string& message = "") {
    return R"({"code":)" + std::to_string(code) + R"(,"message":")" + message + R"(","data":)" +
           data + "}";
}

std::string org_error(const std::string& data) {
    diagnostics diag;
    error_code ec;
    const auto orgs = detail::parse_orgs(200, envelope(data), ctx, diag, ec);
    CHECK(orgs.empty());
    CHECK(ec == client_errc::invalid_field);
    return diag.client_message();
}

// The peak bytes allocated while `parse` runs, above what was live before.
template <class Parse>
std::size_t peak_during(Parse parse) {
    const std::size_t base = live_bytes.load();
    peak_bytes = base;
    parse();
    return peak_bytes.load() - base;
}

constexpr std::size_t body_size = 27u * 1000u * 1000u;

// `head`, then `item` repeated (comma-separated) to about 27 MB, then `tail`.
std::string repeated(const std::string& head, const std::string& item, const std::string& tail) {
    std::string body;
    body.reserve(body_size + 64);
    body += head;
    for (bool first = true; body.size() + item.size() + tail.size() + 1 < body_size;
         first = false) {
        if (!first)
            body += ',';
        body += item;
    }
    return body + tail;
}

} // namespace

// ---------------------------------------------------------------------------------------
// Integers

TEST_CASE("integers in strings: the whole int64 range, out of range is an error",
          "[rest][parse][hardening]") {
    diagnostics diag;
    error_code ec;
    auto orgs = detail::parse_orgs(
        200,
        envelope(
            R"([{"id":"-9223372036854775808"},{"id":"9223372036854775807"},{"id":-9223372036854775808},{"id":"007","acc_id":"-0"}])"),
        ctx, diag, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(orgs.size() == 4);
    CHECK(orgs[0].id == std::numeric_limits<std::int64_t>::min());
    CHECK(orgs[1].id == std::numeric_limits<std::int64_t>::max());
    CHECK(orgs[2].id == std::numeric_limits<std::int64_t>::min());
    CHECK(orgs[3].id == 7);
    CHECK(orgs[3].acc_id == 0);

    // 19 digits that do not fit used to wrap to a negative id.
    CHECK(org_error(R"([{"id":"9999999999999999999"}])") == "data[0].id: integer out of range");
    CHECK(org_error(R"([{"id":"-9223372036854775809"}])") == "data[0].id: integer out of range");
    CHECK(org_error(R"([{"id":"9223372036854775808"}])") == "data[0].id: integer out of range");
    CHECK(org_error(R"([{"id":1,"device_limit":"99999999999999999999999"}])") ==
          "data[0].device_limit: integer out of range");
    for (const char* bad : {R"("")", R"("-")", R"("+5")", R"(" 5")", R"("5 ")", R"("0x10")",
                            R"("1e3")", R"("12a")", R"(true)", R"({})", R"(1e3)"}) {
        INFO(bad);
        CHECK(org_error(std::string(R"([{"id":)") + bad + "}]") ==
              "data[0].id: expected an integer");
    }

    detail::parse_packet_page(
        200,
        envelope(
            R"({"items":[{"time":"2018-08-11T17:03:39+08:00","hex_packet":"01","length":"9999999999999999999"}]})"),
        ctx, diag, ec);
    CHECK(ec == client_errc::invalid_field);
    CHECK(diag.client_message() == "data.items[0].length: integer out of range");
    detail::parse_packet_page(200, envelope(R"({"total_item":"-9223372036854775809","items":[]})"),
                              ctx, diag, ec);
    CHECK(diag.client_message() == "data.total_item: integer out of range");
    const auto page = detail::parse_packet_page(
        200, envelope(R"({"total_item":"9223372036854775807","items":[]})"), ctx, diag, ec);
    REQUIRE_FALSE(ec);
    CHECK(page.total_item == std::numeric_limits<std::int64_t>::max());
}

// ---------------------------------------------------------------------------------------
// UTF-8

TEST_CASE("ill-formed UTF-8 in an error envelope keeps the API error and its message",
          "[rest][parse][hardening]") {
    // GBK "正点" and the token, in a message the server did not encode as UTF-8.
    const std::string body =
        "{\"code\":401,\"message\":\"\xD5\xFD\xB5\xE3 secret-token-123\",\"data\":null}";
    diagnostics diag;
    error_code ec;
    CHECK(detail::parse_devices(200, body, ctx, diag, ec).empty());
    CHECK(ec == api_errc::not_found);
    CHECK(diag.api_code() == 401);
    CHECK(diag.server_message() == "\uFFFD ***");

    // The same on an HTTP error status, and for every endpoint.
    detail::parse_packet_page(500, body, ctx, diag, ec);
    CHECK(ec == client_errc::http_status);
    CHECK(diag.api_code() == 401);
    CHECK(diag.server_message() == "\uFFFD ***");
    detail::parse_device_state(200, body, ctx, diag, ec);
    CHECK(ec == api_errc::not_found);
}

TEST_CASE("ill-formed UTF-8 in data is read as U+FFFD, outside strings it is invalid JSON",
          "[rest][parse][hardening]") {
    diagnostics diag;
    error_code ec;
    // Truncated 4-byte sequence, overlong, surrogate, lone continuation, valid text.
    const auto devices = detail::parse_devices(
        200,
        envelope("[{\"id\":1,\"number\":\"n\",\"name\":\"a\xF0\x9F\x98\",\"show_id\":\"\xC0\xAF|"
                 "\xED\xA0\x80|\x80|\xE6\xAD\xA3\"}]"),
        ctx, diag, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(devices.size() == 1);
    CHECK(devices[0].name == "a\uFFFD");
    CHECK(devices[0].show_id == "\uFFFD|\uFFFD|\uFFFD|\u6B63");

    detail::parse_orgs(200, "{\"code\":401,\xFF\"message\":\"x\"}", ctx, diag, ec);
    CHECK(ec == client_errc::invalid_json);
    detail::parse_orgs(200, "{\"code\":401,\"message\":\"\xFF\"", ctx, diag, ec);
    CHECK(ec == client_errc::invalid_json);
}

// ---------------------------------------------------------------------------------------
// Structure

TEST_CASE("fields in any order, duplicates: the last one counts", "[rest][parse][hardening]") {
    diagnostics diag;
    error_code ec;
    // data before code: an API error still wins over a bad data field.
    detail::parse_orgs(200, R"({"data":[{"id":"x"}],"message":"m","code":401})", ctx, diag, ec);
    CHECK(ec == api_errc::not_found);
    CHECK(diag.server_message() == "m");

    auto orgs = detail::parse_orgs(
        200, R"({"data":[{"name":"a","id":3,"id":4}],"code":500,"code":200,"data":[{"id":5}]})",
        ctx, diag, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(orgs.size() == 1);
    CHECK(orgs[0].id == 5);

    // Items before the page's numbers; a bad page number is reported before bad items.
    const auto page = detail::parse_packet_page(
        200,
        R"({"data":{"items":[{"number":"1","hex_packet":"41","time":"2018-08-11T17:03:39+08:00"}],"x":{"items":[1]},"total_page":"7"},"code":200})",
        ctx, diag, ec);
    REQUIRE_FALSE(ec);
    CHECK(page.total_page == 7);
    REQUIRE(page.items.size() == 1);
    CHECK(page.items[0].payload == atomcloud::bytes{0x41});
    detail::parse_packet_page(200, envelope(R"({"items":[{}],"page_limit":[]})"), ctx, diag, ec);
    CHECK(diag.client_message() == "data.page_limit: expected an integer");
}

TEST_CASE("deep nesting is an error, not a stack overflow", "[rest][parse][hardening]") {
    const std::size_t limit = 64; // detail::max_response_depth
    auto nested = [](std::size_t levels) {
        return std::string(levels, '[') + std::string(levels, ']');
    };
    diagnostics diag;
    error_code ec;
    // The envelope is level 1: an unknown field may nest up to the limit.
    detail::parse_orgs(200, R"({"code":200,"x":)" + nested(limit - 1) + "}", ctx, diag, ec);
    CHECK_FALSE(ec);
    detail::parse_orgs(200, R"({"code":200,"x":)" + nested(limit) + "}", ctx, diag, ec);
    CHECK(ec == client_errc::invalid_json);
    CHECK(diag.client_message() ==
          "the response body nests deeper than " + std::to_string(limit) + " levels");
    detail::parse_orgs(200, R"({"code":200,"data":)" + nested(5000000) + "}", ctx, diag, ec);
    CHECK(ec == client_errc::invalid_json);
    detail::parse_packet_page(200, R"({"code":200,"data":{"items":[{"x":)" + nested(100000), ctx,
                              diag, ec);
    CHECK(ec == client_errc::invalid_json);
}

TEST_CASE("a list of more items than any response needs is refused", "[rest][parse][hardening]") {
    const std::size_t limit = 100000; // detail::max_response_items
    std::string items;
    for (std::size_t i = 0; i < limit; ++i)
        items += i ? R"(,{"id":1})" : R"({"id":1})";
    diagnostics diag;
    error_code ec;
    CHECK(detail::parse_orgs(200, envelope("[" + items + "]"), ctx, diag, ec).size() == limit);
    CHECK_FALSE(ec);
    CHECK(detail::parse_orgs(200, envelope("[" + items + R"(,{"id":1}])"), ctx, diag, ec).empty());
    CHECK(ec == client_errc::response_too_large);
    CHECK(diag.client_message() == "data: more than " + std::to_string(limit) + " items");

    std::string packets = R"({"items":[)";
    for (std::size_t i = 0; i <= limit; ++i)
        packets += i ? R"(,{"time":"2018-08-11T17:03:39Z","hex_packet":""})"
                     : R"({"time":"2018-08-11T17:03:39Z","hex_packet":""})";
    CHECK(detail::parse_packet_page(200, envelope(packets + "]}"), ctx, diag, ec).items.empty());
    CHECK(ec == client_errc::response_too_large);
    CHECK(diag.client_message() == "data.items: more than " + std::to_string(limit) + " items");
}

// ---------------------------------------------------------------------------------------
// Peak memory

namespace {

struct memory_case {
    const char* name;
    std::string body;
    int endpoint; // 0 orgs, 1 devices, 2 history page
    bool ok;
};

// The peak heap of parsing `c.body`, as a multiple of the body's size.
double peak_per_body(const memory_case& c) {
    diagnostics diag;
    error_code ec;
    const std::size_t peak = peak_during([&] {
        if (c.endpoint == 0) {
            const auto r = detail::parse_orgs(200, c.body, ctx, diag, ec);
            CHECK(r.empty() != c.ok);
        } else if (c.endpoint == 1) {
            const auto r = detail::parse_devices(200, c.body, ctx, diag, ec);
            CHECK(r.empty() != c.ok);
        } else {
            const auto r = detail::parse_packet_page(200, c.body, ctx, diag, ec);
            CHECK(r.items.empty() != c.ok);
        }
    });
    CHECK(static_cast<bool>(ec) != c.ok);
    const double ratio = static_cast<double>(peak) / static_cast<double>(c.body.size());
    UNSCOPED_INFO(c.name << ": peak " << peak << " bytes for a body of " << c.body.size() << " = "
                         << ratio << " x; " << diag.client_message());
    return ratio;
}

} // namespace

TEST_CASE("peak heap of a ~27 MB body of many items or deep nesting: under 4 times the body",
          "[rest][parse][hardening][memory]") {
    std::string hex;
    for (int i = 0; i < 9000; ++i)
        hex += i ? " 41" : "41";
    std::string large_items = R"({"code":200,"message":"","data":{"items":[)";
    for (int i = 0; i < 1000; ++i)
        large_items += std::string(i ? "," : "") +
                       R"({"time":"2018-08-11T17:03:39Z","hex_packet":")" + hex +
                       R"(","length":9000,"number":"18846494908532689575"})";
    large_items += "]}}";

    const memory_case cases[] = {
        {"orgs: small items",
         repeated(R"({"code":200,"message":"","data":[)", R"({"id":1,"name":"a"})", "]}"), 0,
         false},
        {"devices: small items",
         repeated(R"({"code":200,"message":"","data":[)", R"({"id":1,"number":"n"})", "]}"), 1,
         false},
        {"history: small items",
         repeated(R"({"code":200,"message":"","data":{"items":[)",
                  R"({"time":"2018-08-11T17:03:39Z","hex_packet":"41"})", "]}}"),
         2, false},
        {"history: 1000 items of 9000 bytes", large_items, 2, true},
        {"unknown field: small objects",
         repeated(R"({"code":200,"message":"","data":[{"id":1}],"extra":[)", R"({"a":[1]})", "]}"),
         0, true},
        {"deep nesting",
         R"({"code":200,"message":"","data":)" + std::string(body_size / 2, '[') +
             std::string(body_size / 2, ']') + "}",
         0, false},
    };
    for (const auto& c : cases)
        CHECK(peak_per_body(c) < 4.0);
}

// nlohmann's lexer keeps two copies of the token it reads (the decoded string and the raw
// characters, for its error messages), each grown by doubling: one huge string costs up
// to about 5 times its size while it is read, and the lenient UTF-8 pass can double a
// string (a lone bad byte between good ones becomes the 3 bytes of U+FFFD).
TEST_CASE("peak heap of a body that is one huge string: under 7 times the body",
          "[rest][parse][hardening][memory]") {
    const std::size_t just_past_power_of_two = (std::size_t{1} << 24) + 1;
    const memory_case cases[] = {
        {"one huge string, 27 MB",
         R"({"code":200,"message":"","data":[{"id":1,"name":")" + std::string(body_size, 'x') +
             R"("}]})",
         0, true},
        {"one huge string, 16 MiB + 1",
         R"({"code":200,"message":"","data":[{"id":1,"name":")" +
             std::string(just_past_power_of_two, 'x') + R"("}]})",
         0, true},
        {"ill-formed UTF-8 message",
         R"({"code":401,"data":null,"message":")" + std::string(body_size, '\xFF') + R"("})", 0,
         false},
        {"ill-formed UTF-8 message, every other byte",
         R"({"code":401,"data":null,"message":")" + repeated("", "\xFF", "").substr(0, body_size) +
             R"("})",
         0, false},
    };
    for (const auto& c : cases)
        CHECK(peak_per_body(c) < 7.0);
}
