#ifndef ATOMCLOUD_IMPL_REST_PROTOCOL_IPP
#define ATOMCLOUD_IMPL_REST_PROTOCOL_IPP

#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/payload.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <limits>

namespace atomcloud::detail {

// ---------------------------------------------------------------------------------------
// Targets

ATOMCLOUD_DECL std::string orgs_target(std::string_view prefix) {
    std::string out(prefix);
    out += "/api/orgs";
    return out;
}

ATOMCLOUD_DECL std::string groups_target(std::string_view prefix, std::int64_t org_id) {
    return orgs_target(prefix) + '/' + std::to_string(org_id) + "/grouplist";
}

ATOMCLOUD_DECL std::string devices_target(std::string_view prefix, std::int64_t org_id,
                                          std::int64_t group_id) {
    return orgs_target(prefix) + '/' + std::to_string(org_id) + "/groups/" +
           std::to_string(group_id) + "/devices";
}

ATOMCLOUD_DECL std::string device_state_target(std::string_view prefix, std::int64_t org_id,
                                               std::int64_t device_id) {
    return orgs_target(prefix) + '/' + std::to_string(org_id) + "/devicestate/" +
           std::to_string(device_id);
}

ATOMCLOUD_DECL std::string packets_target(std::string_view prefix, std::int64_t org_id,
                                          std::string_view number, const history_query& q,
                                          std::chrono::minutes utc_offset) {
    std::string out = orgs_target(prefix) + '/' + std::to_string(org_id) + "/devicepacket/" +
                      percent_encode(number);
    char sep = '?';
    auto add = [&](const char* name, const std::string& value) {
        out += sep;
        out += name;
        out += '=';
        out += value;
        sep = '&';
    };
    if (q.page)
        add("page", std::to_string(*q.page));
    if (q.limit)
        add("limit", std::to_string(*q.limit));
    if (q.start)
        add("start", percent_encode(format_query_time(*q.start, utc_offset)));
    if (q.end)
        add("end", percent_encode(format_query_time(*q.end, utc_offset)));
    return out;
}

// ---------------------------------------------------------------------------------------
// Times

// Proleptic Gregorian calendar <-> day numbers (the well-known era-based algorithms).
ATOMCLOUD_DECL std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

ATOMCLOUD_DECL civil_date civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2 ? 1 : 0), m, d};
}

ATOMCLOUD_DECL std::string format_query_time(std::chrono::system_clock::time_point t,
                                             std::chrono::minutes utc_offset) {
    using namespace std::chrono;
    const auto local = floor<seconds>(t) + utc_offset;
    const std::int64_t secs = local.time_since_epoch().count();
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    const civil_date date = civil_from_days(days);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d:%02d",
                  static_cast<long long>(date.year), date.month, date.day,
                  static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                  static_cast<int>(rem % 60));
    return buf;
}

namespace time_impl {

// Reads exactly n decimal digits at text[pos], advancing pos.
inline bool read_digits(std::string_view text, std::size_t& pos, std::size_t n,
                        unsigned& out) noexcept {
    if (text.size() < pos + n)
        return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = text[pos + i];
        if (c < '0' || c > '9')
            return false;
        out = out * 10 + static_cast<unsigned>(c - '0');
    }
    pos += n;
    return true;
}

inline bool expect(std::string_view text, std::size_t& pos, char c) noexcept {
    if (pos >= text.size() || text[pos] != c)
        return false;
    ++pos;
    return true;
}

inline unsigned days_in_month(unsigned y, unsigned m) noexcept {
    static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 29;
    return days[m - 1];
}

} // namespace time_impl

ATOMCLOUD_DECL bool parse_api_time(std::string_view text, std::chrono::minutes default_offset,
                                   packet_time& out, std::chrono::minutes& offset) noexcept {
    using namespace time_impl;
    std::size_t pos = 0;
    unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') ||
        !read_digits(text, pos, 2, month) || !expect(text, pos, '-') ||
        !read_digits(text, pos, 2, day))
        return false;
    if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' '))
        return false;
    ++pos;
    if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, minute) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, second))
        return false;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return false;
    std::int64_t micros = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        std::size_t digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (digits < 6)
                micros = micros * 10 + (text[pos] - '0');
            ++digits;
            ++pos;
        }
        if (digits == 0 || digits > 9)
            return false;
        for (std::size_t i = digits; i < 6; ++i)
            micros *= 10;
    }
    std::chrono::minutes off = default_offset;
    if (pos < text.size()) {
        const char c = text[pos];
        if (c == 'Z' || c == 'z') {
            off = std::chrono::minutes(0);
            ++pos;
        } else if (c == '+' || c == '-') {
            ++pos;
            unsigned oh = 0, om = 0;
            if (!read_digits(text, pos, 2, oh))
                return false;
            if (pos < text.size()) {
                if (text[pos] == ':')
                    ++pos;
                if (!read_digits(text, pos, 2, om))
                    return false;
            }
            if (oh > 23 || om > 59)
                return false;
            const int total = static_cast<int>(oh * 60 + om);
            off = std::chrono::minutes(c == '-' ? -total : total);
        } else {
            return false;
        }
    }
    if (pos != text.size())
        return false;
    const std::int64_t days = days_from_civil(year, month, day);
    const std::int64_t local_seconds =
        days * 86400 + static_cast<std::int64_t>(hour) * 3600 + minute * 60 + second;
    const std::int64_t utc_seconds = local_seconds - static_cast<std::int64_t>(off.count()) * 60;
    out = packet_time(std::chrono::microseconds(utc_seconds * 1000000 + micros));
    offset = off;
    return true;
}

// ---------------------------------------------------------------------------------------
// Responses

namespace parse_impl {

using json = nlohmann::json;

// Reads fields of `data`, remembering the first problem as "path: expected ...".
class field_reader {
public:
    bool failed() const noexcept { return !error_.empty(); }
    const std::string& error() const noexcept { return error_; }

    void fail(const std::string& path, const char* what) {
        if (error_.empty())
            error_ = path + ": " + what;
    }

    static std::string path_of(std::string_view prefix, const char* key) {
        std::string p(prefix);
        p += '.';
        p += key;
        return p;
    }

    // Integers: a JSON integer, or text of decimal digits. Missing or null: 0, or an
    // error if required.
    std::int64_t integer(const json& obj, std::string_view prefix, const char* key, bool required) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            if (required)
                fail(path_of(prefix, key), "missing (expected an integer)");
            return 0;
        }
        if (it->is_number_unsigned()) {
            const auto v = it->get<std::uint64_t>();
            if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                fail(path_of(prefix, key), "integer out of range");
                return 0;
            }
            return static_cast<std::int64_t>(v);
        }
        if (it->is_number_integer())
            return it->get<std::int64_t>();
        if (it->is_string()) {
            const auto& s = it->get_ref<const std::string&>();
            std::int64_t v = 0;
            if (parse_int(s, v))
                return v;
        }
        fail(path_of(prefix, key), "expected an integer");
        return 0;
    }

    // Text: a JSON string, or a number (written as decimal text). Missing or null: empty,
    // or an error if required.
    std::string text(const json& obj, std::string_view prefix, const char* key, bool required) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            if (required)
                fail(path_of(prefix, key), "missing (expected a string)");
            return {};
        }
        if (it->is_string())
            return it->get<std::string>();
        if (it->is_number_integer() || it->is_number_unsigned())
            return it->dump();
        fail(path_of(prefix, key), "expected a string");
        return {};
    }

private:
    static bool parse_int(const std::string& s, std::int64_t& out) noexcept {
        if (s.empty() || s.size() > 19)
            return false;
        std::size_t i = s[0] == '-' ? 1 : 0;
        if (i == s.size())
            return false;
        std::int64_t v = 0;
        for (; i < s.size(); ++i) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            v = v * 10 + (s[i] - '0');
        }
        out = s[0] == '-' ? -v : v;
        return true;
    }

    std::string error_;
};

// Checks the status and the envelope; returns the parsed body (data at ["data"]) or
// sets ec.
inline json read_envelope(int http_status, std::string_view body, const parse_context& ctx,
                          diagnostics& diag, error_code& ec) {
    ec = {};
    diag.clear();
    diag.set_http_status(http_status);
    json doc;
    try {
        doc = json::parse(body.begin(), body.end(), nullptr, false);
    } catch (const std::bad_alloc&) {
        throw;
    } catch (...) {
        doc = json(json::value_t::discarded);
    }
    const bool is_envelope = !doc.is_discarded() && doc.is_object() && doc.contains("code") &&
                             doc["code"].is_number_integer();
    if (is_envelope) {
        const auto& code = doc["code"];
        const std::int64_t c = code.is_number_unsigned()
                                   ? static_cast<std::int64_t>(std::min<std::uint64_t>(
                                         code.get<std::uint64_t>(), 1u << 30))
                                   : code.get<std::int64_t>();
        const int api_code = static_cast<int>(
            std::max<std::int64_t>(std::min<std::int64_t>(c, std::numeric_limits<int>::max()),
                                   std::numeric_limits<int>::min()));
        diag.set_api_code(api_code);
        const auto msg = doc.find("message");
        if (msg != doc.end() && msg->is_string())
            diag.set_server_message(redact(msg->get<std::string>(), ctx.token));
    }
    if (http_status != 200) {
        ec = make_error_code(client_errc::http_status);
        diag.set_client_message("HTTP status " + std::to_string(http_status) + " (expected 200)");
        return json();
    }
    if (doc.is_discarded()) {
        ec = make_error_code(client_errc::invalid_json);
        diag.set_client_message("the response body is not valid JSON (" +
                                std::to_string(body.size()) + " bytes)");
        return json();
    }
    if (!is_envelope) {
        ec = make_error_code(client_errc::missing_envelope);
        diag.set_client_message(doc.is_object() ? "the response has no integer field `code`"
                                                : "the response body is not a JSON object");
        return json();
    }
    if (diag.api_code() != 200) {
        ec = make_api_error(diag.api_code());
        return json();
    }
    return doc;
}

inline void set_field_error(const field_reader& r, diagnostics& diag, error_code& ec) {
    ec = make_error_code(client_errc::invalid_field);
    diag.set_client_message(r.error());
}

// Runs `item(reader, element, path)` on each element of the array at doc["data"].
// Missing or null data is an empty list.
template <class T, class ItemFn>
std::vector<T> read_list(const json& doc, diagnostics& diag, error_code& ec, ItemFn item) {
    std::vector<T> out;
    const auto data = doc.find("data");
    if (data == doc.end() || data->is_null())
        return out;
    field_reader r;
    if (!data->is_array()) {
        r.fail("data", "expected an array");
        set_field_error(r, diag, ec);
        return out;
    }
    out.reserve(data->size());
    std::size_t index = 0;
    for (const auto& element : *data) {
        const std::string path = "data[" + std::to_string(index++) + "]";
        if (!element.is_object()) {
            r.fail(path, "expected an object");
            break;
        }
        out.push_back(item(r, element, path));
        if (r.failed())
            break;
    }
    if (r.failed()) {
        set_field_error(r, diag, ec);
        out.clear();
    }
    return out;
}

template <class Fn>
auto guarded(error_code& ec, diagnostics& diag, Fn fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        // Defensive: the readers above check types before converting.
        ec = make_error_code(client_errc::invalid_field);
        diag.set_client_message(std::string("unexpected response content: ") + e.what());
        return {};
    }
}

} // namespace parse_impl

using parse_impl::field_reader;
using parse_impl::guarded;
using parse_impl::json;
using parse_impl::read_envelope;
using parse_impl::read_list;
using parse_impl::set_field_error;

ATOMCLOUD_DECL std::vector<org> parse_orgs(int http_status, std::string_view body,
                                           const parse_context& ctx, diagnostics& diag,
                                           error_code& ec) {
    return guarded(ec, diag, [&]() -> std::vector<org> {
        const json doc = read_envelope(http_status, body, ctx, diag, ec);
        if (ec)
            return {};
        return read_list<org>(doc, diag, ec,
                              [](field_reader& r, const json& o, const std::string& p) {
                                  org x;
                                  x.id = r.integer(o, p, "id", true);
                                  x.name = r.text(o, p, "name", false);
                                  x.acc_id = r.integer(o, p, "acc_id", false);
                                  x.device_limit = r.integer(o, p, "device_limit", false);
                                  x.device_counter = r.integer(o, p, "device_counter", false);
                                  x.created_at = r.text(o, p, "created_at", false);
                                  return x;
                              });
    });
}

ATOMCLOUD_DECL std::vector<group> parse_groups(int http_status, std::string_view body,
                                               const parse_context& ctx, diagnostics& diag,
                                               error_code& ec) {
    return guarded(ec, diag, [&]() -> std::vector<group> {
        const json doc = read_envelope(http_status, body, ctx, diag, ec);
        if (ec)
            return {};
        return read_list<group>(doc, diag, ec,
                                [](field_reader& r, const json& o, const std::string& p) {
                                    group x;
                                    x.id = r.integer(o, p, "id", true);
                                    x.name = r.text(o, p, "name", false);
                                    x.org_id = r.integer(o, p, "org_id", false);
                                    x.org_name = r.text(o, p, "org_name", false);
                                    x.acc_id = r.integer(o, p, "acc_id", false);
                                    x.acc_name = r.text(o, p, "acc_name", false);
                                    x.created_at = r.text(o, p, "created_at", false);
                                    return x;
                                });
    });
}

ATOMCLOUD_DECL std::vector<device> parse_devices(int http_status, std::string_view body,
                                                 const parse_context& ctx, diagnostics& diag,
                                                 error_code& ec) {
    return guarded(ec, diag, [&]() -> std::vector<device> {
        const json doc = read_envelope(http_status, body, ctx, diag, ec);
        if (ec)
            return {};
        return read_list<device>(doc, diag, ec,
                                 [](field_reader& r, const json& o, const std::string& p) {
                                     device x;
                                     x.id = r.integer(o, p, "id", true);
                                     x.show_id = r.text(o, p, "show_id", false);
                                     x.name = r.text(o, p, "name", false);
                                     x.number = r.text(o, p, "number", true);
                                     x.type_raw = r.text(o, p, "device_type", false);
                                     x.type = parse_device_type(x.type_raw);
                                     return x;
                                 });
    });
}

ATOMCLOUD_DECL device_state parse_device_state(int http_status, std::string_view body,
                                               const parse_context& ctx, diagnostics& diag,
                                               error_code& ec) {
    return guarded(ec, diag, [&]() -> device_state {
        const json doc = read_envelope(http_status, body, ctx, diag, ec);
        if (ec)
            return {};
        const auto data = doc.find("data");
        if (data == doc.end() || !data->is_string()) {
            ec = make_error_code(client_errc::invalid_field);
            diag.set_client_message(data == doc.end() ? "data: missing (expected a string)"
                                                      : "data: expected a string");
            return {};
        }
        device_state s;
        s.raw = data->get<std::string>();
        s.state = parse_connection_state(s.raw);
        return s;
    });
}

ATOMCLOUD_DECL packet_page parse_packet_page(int http_status, std::string_view body,
                                             const parse_context& ctx, diagnostics& diag,
                                             error_code& ec) {
    return guarded(ec, diag, [&]() -> packet_page {
        const json doc = read_envelope(http_status, body, ctx, diag, ec);
        if (ec)
            return {};
        field_reader r;
        const auto data = doc.find("data");
        if (data == doc.end() || !data->is_object()) {
            r.fail("data",
                   data == doc.end() ? "missing (expected an object)" : "expected an object");
            set_field_error(r, diag, ec);
            return {};
        }
        packet_page page;
        page.current_page = r.integer(*data, "data", "current_page", false);
        page.total_page = r.integer(*data, "data", "total_page", false);
        page.total_item = r.integer(*data, "data", "total_item", false);
        page.page_limit = r.integer(*data, "data", "page_limit", false);
        const auto items = data->find("items");
        if (items != data->end() && !items->is_null()) {
            if (!items->is_array()) {
                r.fail("data.items", "expected an array");
            } else {
                page.items.reserve(items->size());
                std::size_t index = 0;
                for (const auto& item : *items) {
                    const std::string p = "data.items[" + std::to_string(index++) + "]";
                    if (!item.is_object()) {
                        r.fail(p, "expected an object");
                        break;
                    }
                    packet pk;
                    pk.raw_time = r.text(item, p, "time", true);
                    pk.hex = r.text(item, p, "hex_packet", true);
                    pk.number = r.text(item, p, "number", false);
                    const bool has_length = item.contains("length") && !item["length"].is_null();
                    const std::int64_t length = r.integer(item, p, "length", false);
                    if (r.failed())
                        break;
                    if (!parse_api_time(pk.raw_time, ctx.default_offset, pk.time, pk.utc_offset)) {
                        r.fail(p + ".time",
                               "expected a time such as 2018-08-11T17:03:39.300928+08:00");
                        break;
                    }
                    error_code hex_ec;
                    pk.payload = parse_hex_packet(pk.hex, hex_ec);
                    if (hex_ec) {
                        r.fail(p + ".hex_packet", "expected hex pairs such as \"41 4C 49\"");
                        break;
                    }
                    if (length < 0) {
                        r.fail(p + ".length", "expected a non-negative integer");
                        break;
                    }
                    pk.length = has_length ? static_cast<std::uint64_t>(length) : pk.payload.size();
                    if (!pk.length_matches() && ctx.log && ctx.log->enabled(log_level::warning))
                        ctx.log->log(log_level::warning, p + ": length " +
                                                             std::to_string(pk.length) +
                                                             " disagrees with hex_packet (" +
                                                             std::to_string(pk.payload.size()) +
                                                             " bytes); the bytes are kept");
                    page.items.push_back(std::move(pk));
                }
            }
        }
        if (r.failed()) {
            set_field_error(r, diag, ec);
            return {};
        }
        return page;
    });
}

// ---------------------------------------------------------------------------------------
// Retries

ATOMCLOUD_DECL bool is_connection_closed(const error_code& ec) noexcept {
    namespace net = boost::asio;
    namespace http = boost::beast::http;
    return ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::connection_aborted || ec == net::error::broken_pipe ||
           ec == net::error::not_connected || ec == net::ssl::error::stream_truncated ||
           ec == http::error::end_of_stream || ec == http::error::partial_message;
}

ATOMCLOUD_DECL bool is_transient(const error_code& ec, int http_status) noexcept {
    namespace net = boost::asio;
    if (!ec)
        return false;
    if (ec == client_errc::http_status)
        return http_status >= 500 && http_status <= 599;
    if (ec == api_errc::server_error)
        return true;
    if (is_connection_closed(ec))
        return true;
    return ec == net::error::connection_refused || ec == net::error::host_unreachable ||
           ec == net::error::network_unreachable || ec == net::error::network_down ||
           ec == net::error::network_reset || ec == net::error::host_not_found_try_again ||
           ec == net::error::try_again;
}

ATOMCLOUD_DECL std::chrono::milliseconds backoff_delay(const retry_options& opts,
                                                       unsigned attempt) noexcept {
    const double cap = static_cast<double>(std::max<std::int64_t>(opts.max_backoff.count(), 0));
    double delay = static_cast<double>(std::max<std::int64_t>(opts.initial_backoff.count(), 0));
    const double m =
        opts.multiplier >= 1.0 && std::isfinite(opts.multiplier) ? opts.multiplier : 1.0;
    for (unsigned i = 1; i < attempt && delay < cap; ++i)
        delay *= m;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(delay, cap)));
}

} // namespace atomcloud::detail

#endif
