#ifndef ATOMCLOUD_IMPL_REST_PROTOCOL_IPP
#define ATOMCLOUD_IMPL_REST_PROTOCOL_IPP

#include <atomcloud/detail/proxy.hpp>
#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/payload.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <system_error>

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
                                          std::string_view number, const packet_query& q,
                                          std::chrono::minutes utc_offset) {
    std::string out = orgs_target(prefix) + '/' + std::to_string(org_id) + "/devicepacket/" +
                      percent_encode(number);
    char sep = '?';
    auto query_time = [utc_offset](std::chrono::system_clock::time_point t) {
        return format_api_time(std::chrono::floor<std::chrono::microseconds>(t), utc_offset);
    };
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
        add("start", percent_encode(query_time(*q.start)));
    if (q.end)
        add("end", percent_encode(query_time(*q.end)));
    return out;
}

// ---------------------------------------------------------------------------------------
// Responses
//
// One pass over the body with nlohmann's SAX parser, straight into the models: no
// document tree, so memory stays a small multiple of the body (the models and at most
// one string being read). The envelope's fields and an item's fields may come in any
// order; of a duplicated key the last one counts (as in a parsed document). Errors are
// ranked as before: HTTP status, invalid JSON, missing envelope, API code, then the
// first field problem in the order the fields are listed below.

namespace parse_impl {

using json = nlohmann::json;

// ---- Integers and their text

enum class int_parse { ok, invalid, out_of_range };

// Decimal text with an optional '-', nothing else (no '+', no spaces).
inline int_parse parse_int(std::string_view s, std::int64_t& out) noexcept {
    const char* const last = s.data() + s.size();
    const auto [ptr, err] = std::from_chars(s.data(), last, out);
    if (ptr != last || s.empty())
        return int_parse::invalid;
    if (err == std::errc::result_out_of_range)
        return int_parse::out_of_range;
    return err == std::errc() ? int_parse::ok : int_parse::invalid;
}

template <class Int>
std::string int_text(Int v) {
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}

// ---- One SAX event's value, as the readers see it

// `other`: true, false (and binary values, which JSON text never has).
enum class value_kind { null, other, integer, unsigned_integer, floating, string, object, array };

struct sax_value {
    value_kind kind;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    std::string* s = nullptr;

    bool container() const noexcept {
        return kind == value_kind::object || kind == value_kind::array;
    }
};

// ---- The fields of one object (an item of a list, a packet, the page)

struct field_spec {
    std::string_view name;
    bool integer; // else text
    bool required;
};

class field_set {
public:
    static constexpr std::size_t max_fields = 8;

    field_set(const field_spec* specs, std::size_t count) noexcept : specs_(specs), count_(count) {}

    int find(std::string_view key) const noexcept {
        for (std::size_t i = 0; i < count_; ++i)
            if (specs_[i].name == key)
                return static_cast<int>(i);
        return -1;
    }

    void reset() noexcept {
        for (std::size_t i = 0; i < count_; ++i) {
            values_[i].state = absent;
            values_[i].integer = 0;
            values_[i].text.clear();
        }
    }

    // Integers: a JSON integer, or decimal text. Text: a JSON string, or an integer
    // (taken as its decimal text). Null counts as absent.
    void set(int index, const sax_value& v) {
        value& f = values_[static_cast<std::size_t>(index)];
        f.text.clear();
        f.integer = 0;
        f.state = wrong_type;
        switch (v.kind) {
        case value_kind::null:
            f.state = absent;
            break;
        case value_kind::integer:
            f.state = present;
            if (specs_[index].integer)
                f.integer = v.i;
            else
                f.text = int_text(v.i);
            break;
        case value_kind::unsigned_integer:
            if (!specs_[index].integer) {
                f.state = present;
                f.text = int_text(v.u);
            } else if (v.u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                f.state = out_of_range;
            } else {
                f.state = present;
                f.integer = static_cast<std::int64_t>(v.u);
            }
            break;
        case value_kind::string:
            if (!specs_[index].integer) {
                f.state = present;
                // A copy leaves the lexer its buffer (no regrowth for the next string);
                // a large string is taken over instead, so it never exists twice.
                if (v.s->size() < 4096)
                    f.text.assign(*v.s);
                else
                    f.text = std::move(*v.s);
            } else {
                switch (parse_int(*v.s, f.integer)) {
                case int_parse::ok:
                    f.state = present;
                    break;
                case int_parse::out_of_range:
                    f.state = out_of_range;
                    break;
                case int_parse::invalid:
                    break;
                }
            }
            break;
        default:
            break;
        }
    }

    // The first problem in the order of the specs, as "path.name: what"; empty if none.
    std::string first_error(std::string_view path) const {
        for (std::size_t i = 0; i < count_; ++i) {
            const char* what = nullptr;
            switch (values_[i].state) {
            case absent:
                if (specs_[i].required)
                    what = specs_[i].integer ? "missing (expected an integer)"
                                             : "missing (expected a string)";
                break;
            case wrong_type:
                what = specs_[i].integer ? "expected an integer" : "expected a string";
                break;
            case out_of_range:
                what = "integer out of range";
                break;
            case present:
                break;
            }
            if (what) {
                std::string out(path);
                out += '.';
                out += specs_[i].name;
                out += ": ";
                out += what;
                return out;
            }
        }
        return {};
    }

    bool has(std::size_t i) const noexcept { return values_[i].state == present; }
    std::int64_t integer(std::size_t i) const noexcept { return values_[i].integer; }
    std::string take_text(std::size_t i) noexcept { return std::move(values_[i].text); }

private:
    enum state_t : unsigned char { absent, present, wrong_type, out_of_range };
    struct value {
        state_t state = absent;
        std::int64_t integer = 0;
        std::string text;
    };
    const field_spec* specs_;
    std::size_t count_;
    std::array<value, max_fields> values_;
};

// ---- The models' fields, in the order their problems are reported

template <class T>
struct model_fields;

template <>
struct model_fields<org> {
    static constexpr field_spec specs[] = {
        {"id", true, true},
        {"name", false, false},
        {"acc_id", true, false},
        {"device_limit", true, false},
        {"device_counter", true, false},
        {"created_at", false, false},
    };
    static org build(field_set& f) {
        org x;
        x.id = f.integer(0);
        x.name = f.take_text(1);
        x.acc_id = f.integer(2);
        x.device_limit = f.integer(3);
        x.device_counter = f.integer(4);
        x.created_at = f.take_text(5);
        return x;
    }
};

template <>
struct model_fields<group> {
    static constexpr field_spec specs[] = {
        {"id", true, true},           {"name", false, false},  {"org_id", true, false},
        {"org_name", false, false},   {"acc_id", true, false}, {"acc_name", false, false},
        {"created_at", false, false},
    };
    static group build(field_set& f) {
        group x;
        x.id = f.integer(0);
        x.name = f.take_text(1);
        x.org_id = f.integer(2);
        x.org_name = f.take_text(3);
        x.acc_id = f.integer(4);
        x.acc_name = f.take_text(5);
        x.created_at = f.take_text(6);
        return x;
    }
};

template <>
struct model_fields<device> {
    static constexpr field_spec specs[] = {
        {"id", true, true},      {"show_id", false, false},     {"name", false, false},
        {"number", false, true}, {"device_type", false, false},
    };
    static device build(field_set& f) {
        device x;
        x.id = f.integer(0);
        x.show_id = f.take_text(1);
        x.name = f.take_text(2);
        x.number = f.take_text(3);
        x.type_raw = f.take_text(4);
        x.type = parse_device_type(x.type_raw);
        return x;
    }
};

inline constexpr field_spec packet_specs[] = {
    {"time", false, true},
    {"hex_packet", false, true},
    {"number", false, false},
    {"length", true, false},
};

inline constexpr field_spec page_specs[] = {
    {"current_page", true, false},
    {"total_page", true, false},
    {"total_item", true, false},
    {"page_limit", true, false},
};

// ---- Readers of `data`: each receives the SAX events of the data value only

class data_reader {
public:
    bool seen() const noexcept { return seen_; }
    bool failed() const noexcept { return !error_.empty(); }

    // Sets ec and the message if a problem was found (or data is missing where needed).
    bool report(diagnostics& diag, error_code& ec) const {
        if (error_.empty())
            return false;
        ec = make_error_code(error_kind_);
        diag.set_client_message(error_);
        return true;
    }

protected:
    void fail(std::string message, client_errc kind = client_errc::invalid_field) {
        if (error_.empty()) {
            error_ = std::move(message);
            error_kind_ = kind;
        }
    }

    void restart() {
        seen_ = true;
        error_.clear();
        skip_ = 0;
    }

    // Inside a value being skipped (an unknown field, or the rest after a problem):
    // returns true and keeps count of its nesting.
    bool skipping_value(const sax_value& v) noexcept {
        if (skip_ == 0)
            return false;
        if (v.container())
            ++skip_;
        return true;
    }
    bool skipping_end() noexcept {
        if (skip_ == 0)
            return false;
        --skip_;
        return true;
    }
    void skip(const sax_value& v) noexcept {
        if (v.container())
            skip_ = 1;
    }

    static std::string index_path(const char* prefix, std::size_t index) {
        std::string p(prefix);
        p += '[';
        p += int_text(index);
        p += ']';
        return p;
    }

    static std::string too_many(const char* path) {
        return std::string(path) + ": more than " + int_text(max_response_items) + " items";
    }

    bool seen_ = false;
    std::string error_;
    client_errc error_kind_ = client_errc::invalid_field;
    std::size_t skip_ = 0;
};

// data: an array of objects (orgs, groups, devices). Missing or null: an empty list.
template <class T>
class list_reader : public data_reader {
public:
    void reset() { *this = list_reader(); }
    void begin() {
        restart();
        items_.clear();
        depth_ = 0;
    }

    void value(const sax_value& v) {
        if (failed() || skipping_value(v))
            return;
        switch (depth_) {
        case 0: // data itself
            if (v.kind == value_kind::array)
                depth_ = 1;
            else if (v.kind != value_kind::null)
                fail("data: expected an array");
            break;
        case 1: // an item
            if (v.kind != value_kind::object) {
                fail(index_path("data", items_.size()) + ": expected an object");
            } else if (items_.size() >= max_response_items) {
                fail(too_many("data"), client_errc::response_too_large);
            } else {
                fields_.reset();
                field_ = -1;
                depth_ = 2;
            }
            break;
        default: // a field of the item
            if (field_ >= 0)
                fields_.set(field_, v);
            skip(v);
            break;
        }
    }

    void key(std::string_view k) {
        if (!failed() && skip_ == 0 && depth_ == 2)
            field_ = fields_.find(k);
    }

    void end() {
        if (failed() || skipping_end())
            return;
        if (depth_ == 2) {
            std::string problem = fields_.first_error(index_path("data", items_.size()));
            if (!problem.empty()) {
                fail(std::move(problem));
                return;
            }
            items_.push_back(model_fields<T>::build(fields_));
        }
        --depth_;
    }

    std::vector<T> take() { return std::move(items_); }

private:
    std::vector<T> items_;
    field_set fields_{model_fields<T>::specs, std::size(model_fields<T>::specs)};
    int field_ = -1;
    int depth_ = 0;
};

// data: a string (the device state).
class state_reader : public data_reader {
public:
    void reset() { *this = state_reader(); }
    void begin() {
        restart();
        raw_.clear();
    }
    void value(const sax_value& v) {
        if (failed() || skipping_value(v))
            return;
        if (v.kind == value_kind::string) {
            raw_ = std::move(*v.s);
        } else {
            fail("data: expected a string");
            skip(v);
        }
    }
    void key(std::string_view) {}
    void end() { skipping_end(); }

    bool report(diagnostics& diag, error_code& ec) const {
        if (!seen_) {
            ec = make_error_code(client_errc::invalid_field);
            diag.set_client_message("data: missing (expected a string)");
            return true;
        }
        return data_reader::report(diag, ec);
    }

    device_state take() {
        device_state s;
        s.raw = std::move(raw_);
        s.state = parse_connection_state(s.raw);
        return s;
    }

private:
    std::string raw_;
};

// data: the history page, an object with the page's numbers and `items`.
class page_reader : public data_reader {
public:
    explicit page_reader(const parse_context& ctx) : ctx_(&ctx) {}

    void reset() { *this = page_reader(*ctx_); }
    void begin() {
        restart();
        page_fields_.reset();
        begin_items();
        depth_ = 0;
    }

    void value(const sax_value& v) {
        if (failed() || skipping_value(v))
            return;
        switch (depth_) {
        case 0: // data itself
            if (v.kind == value_kind::object)
                depth_ = 1;
            else
                fail("data: expected an object");
            break;
        case 1: // a field of the page
            if (field_ == items_field) {
                begin_items();
                if (v.kind == value_kind::array) {
                    depth_ = 2;
                } else if (v.kind != value_kind::null) {
                    items_error_ = "data.items: expected an array";
                    skip(v);
                }
            } else {
                if (field_ >= 0)
                    page_fields_.set(field_, v);
                skip(v);
            }
            break;
        case 2: // an item
            if (!items_error_.empty()) {
                skip(v);
            } else if (v.kind != value_kind::object) {
                items_error_ = index_path("data.items", items_.size()) + ": expected an object";
                skip(v);
            } else if (items_.size() >= max_response_items) {
                items_error_ = too_many("data.items");
                items_too_many_ = true;
                skip(v);
            } else {
                packet_fields_.reset();
                field_ = -1;
                depth_ = 3;
            }
            break;
        default: // a field of an item
            if (field_ >= 0)
                packet_fields_.set(field_, v);
            skip(v);
            break;
        }
    }

    void key(std::string_view k) {
        if (failed() || skip_ != 0)
            return;
        if (depth_ == 1)
            field_ = k == "items" ? items_field : page_fields_.find(k);
        else if (depth_ == 3)
            field_ = packet_fields_.find(k);
    }

    void end() {
        if (failed() || skipping_end())
            return;
        if (depth_ == 3)
            finish_item();
        --depth_;
        field_ = -1;
    }

    bool report(diagnostics& diag, error_code& ec) {
        if (!seen_)
            fail("data: missing (expected an object)");
        if (!failed())
            fail(page_fields_.first_error("data"));
        if (!failed() && !items_error_.empty())
            fail(items_error_,
                 items_too_many_ ? client_errc::response_too_large : client_errc::invalid_field);
        return data_reader::report(diag, ec);
    }

    packet_page take() {
        packet_page page;
        page.current_page = page_fields_.integer(0);
        page.total_page = page_fields_.integer(1);
        page.total_item = page_fields_.integer(2);
        page.page_limit = page_fields_.integer(3);
        page.items = std::move(items_);
        if (ctx_->log && ctx_->log->enabled(log_level::warning)) {
            for (std::size_t i = 0; i < page.items.size(); ++i) {
                const packet& pk = page.items[i];
                if (!pk.length_matches())
                    ctx_->log->log(log_level::warning,
                                   index_path("data.items", i) + ": length " + int_text(pk.length) +
                                       " disagrees with hex_packet (" +
                                       int_text(pk.payload.size()) + " bytes); the bytes are kept");
            }
        }
        return page;
    }

private:
    static constexpr int items_field = 100;

    void begin_items() {
        items_.clear();
        items_error_.clear();
        items_too_many_ = false;
    }

    void finish_item() {
        if (!items_error_.empty())
            return;
        const std::string path = index_path("data.items", items_.size());
        items_error_ = packet_fields_.first_error(path);
        if (!items_error_.empty())
            return;
        packet pk;
        pk.raw_time = packet_fields_.take_text(0);
        pk.hex = packet_fields_.take_text(1);
        pk.number = packet_fields_.take_text(2);
        const bool has_length = packet_fields_.has(3);
        const std::int64_t length = packet_fields_.integer(3);
        if (!parse_api_time(pk.raw_time, ctx_->default_offset, pk.time, pk.utc_offset)) {
            items_error_ = path + ".time: expected a time such as 2018-08-11T17:03:39.300928+08:00";
            return;
        }
        error_code hex_ec;
        pk.payload = parse_hex_packet(pk.hex, hex_ec);
        if (hex_ec) {
            items_error_ = path + ".hex_packet: expected hex pairs such as \"41 4C 49\"";
            return;
        }
        if (length < 0) {
            items_error_ = path + ".length: expected a non-negative integer";
            return;
        }
        pk.length = has_length ? static_cast<std::uint64_t>(length) : pk.payload.size();
        items_.push_back(std::move(pk));
    }

    const parse_context* ctx_;
    field_set page_fields_{page_specs, std::size(page_specs)};
    field_set packet_fields_{packet_specs, std::size(packet_specs)};
    std::vector<packet> items_;
    std::string items_error_;
    bool items_too_many_ = false;
    int field_ = -1;
    int depth_ = 0;
};

// ---- The envelope: the SAX handler given to nlohmann

template <class Reader>
class envelope_handler {
public:
    explicit envelope_handler(Reader& reader) noexcept : reader_(&reader) {}

    bool null() { return on_value({value_kind::null}); }
    bool boolean(bool) { return on_value({value_kind::other}); }
    bool number_integer(json::number_integer_t v) {
        return on_value({value_kind::integer, static_cast<std::int64_t>(v)});
    }
    bool number_unsigned(json::number_unsigned_t v) {
        return on_value({value_kind::unsigned_integer, 0, static_cast<std::uint64_t>(v)});
    }
    bool number_float(json::number_float_t, const json::string_t&) {
        return on_value({value_kind::floating});
    }
    bool string(json::string_t& s) { return on_value({value_kind::string, 0, 0, &s}); }
    bool binary(json::binary_t&) { return on_value({value_kind::other}); }
    bool start_object(std::size_t) { return on_value({value_kind::object}); }
    bool start_array(std::size_t) { return on_value({value_kind::array}); }
    bool end_object() { return on_end(); }
    bool end_array() { return on_end(); }

    bool key(json::string_t& k) {
        if (depth_ == 1 && top_is_object_) {
            member_ = k == "code"      ? member::code
                      : k == "message" ? member::message
                      : k == "data"    ? member::data
                                       : member::other;
        } else if (in_data_) {
            reader_->key(k);
        }
        return true;
    }

    bool parse_error(std::size_t, const std::string&, const json::exception& e) {
        utf8_error_ = std::strstr(e.what(), "UTF-8") != nullptr;
        return false;
    }

    bool top_is_object() const noexcept { return top_is_object_; }
    bool too_deep() const noexcept { return too_deep_; }
    bool utf8_error() const noexcept { return utf8_error_; }
    bool has_code() const noexcept { return has_code_; }
    int code() const noexcept { return code_; }
    bool has_message() const noexcept { return has_message_; }
    std::string& message() noexcept { return message_; }

private:
    enum class member { other, code, message, data };

    bool on_value(const sax_value& v) {
        const std::size_t at = depth_;
        if (v.container() && ++depth_ > max_response_depth) {
            too_deep_ = true;
            return false;
        }
        if (at == 0) {
            top_is_object_ = v.kind == value_kind::object;
        } else if (at == 1 && top_is_object_) {
            switch (member_) {
            case member::code:
                has_code_ = v.kind == value_kind::integer || v.kind == value_kind::unsigned_integer;
                code_ = v.kind == value_kind::unsigned_integer
                            ? static_cast<int>(std::min<std::uint64_t>(v.u, 1u << 30))
                            : static_cast<int>(
                                  std::clamp<std::int64_t>(v.i, std::numeric_limits<int>::min(),
                                                           std::numeric_limits<int>::max()));
                break;
            case member::message:
                has_message_ = v.kind == value_kind::string;
                if (has_message_)
                    message_ = std::move(*v.s);
                break;
            case member::data:
                reader_->begin();
                reader_->value(v);
                in_data_ = v.container();
                break;
            case member::other:
                break;
            }
        } else if (in_data_) {
            reader_->value(v);
        }
        return true;
    }

    bool on_end() {
        --depth_;
        if (in_data_) {
            reader_->end();
            if (depth_ == 1)
                in_data_ = false;
        }
        return true;
    }

    Reader* reader_;
    std::size_t depth_ = 0;
    member member_ = member::other;
    bool top_is_object_ = false;
    bool in_data_ = false;
    bool too_deep_ = false;
    bool utf8_error_ = false;
    bool has_code_ = false;
    int code_ = 0;
    bool has_message_ = false;
    std::string message_;
};

// ---- Lenient UTF-8

// The length of the UTF-8 sequence at p (1..4) if it is well-formed; otherwise `valid`
// is false and the result is the length of its maximal ill-formed subpart (1..3).
inline std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end,
                                 bool& valid) noexcept {
    const unsigned char c = *p;
    valid = true;
    if (c < 0x80)
        return 1;
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        valid = false;
        return 1;
    }
    std::size_t i = 1;
    for (; i <= need && p + i < end; ++i) {
        const unsigned char b = p[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            break;
    }
    valid = i > need;
    return i;
}

// The body's bytes with each run of ill-formed UTF-8 read as one U+FFFD: the input of
// the lenient second parse, without a repaired copy of the body.
class utf8_repairing_iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = char;

    utf8_repairing_iterator(const char* p, const char* end) noexcept
        : p_(reinterpret_cast<const unsigned char*>(p)),
          end_(reinterpret_cast<const unsigned char*>(end)) {
        classify();
    }

    char operator*() const noexcept {
        return replacing_ ? "\xEF\xBF\xBD"[emitted_] : static_cast<char>(*p_);
    }

    utf8_repairing_iterator& operator++() noexcept {
        if (replacing_) {
            if (++emitted_ < 3)
                return *this;
            replacing_ = false;
            p_ += left_;
            classify();
        } else if (--left_ == 0) {
            ++p_;
            classify();
        } else {
            ++p_;
        }
        return *this;
    }

    utf8_repairing_iterator operator++(int) noexcept {
        auto copy = *this;
        ++*this;
        return copy;
    }

    friend bool operator==(const utf8_repairing_iterator& a,
                           const utf8_repairing_iterator& b) noexcept {
        return a.p_ == b.p_ && a.replacing_ == b.replacing_ && a.emitted_ == b.emitted_;
    }
    friend bool operator!=(const utf8_repairing_iterator& a,
                           const utf8_repairing_iterator& b) noexcept {
        return !(a == b);
    }

private:
    void classify() noexcept {
        emitted_ = 0;
        if (p_ == end_)
            return;
        bool valid = true;
        left_ = utf8_sequence(p_, end_, valid);
        replacing_ = !valid;
        // A run of ill-formed subparts is one U+FFFD: the text never grows more than
        // twofold (a lone bad byte between good ones), however hostile the body.
        while (!valid && p_ + left_ < end_) {
            const std::size_t next = utf8_sequence(p_ + left_, end_, valid);
            if (!valid)
                left_ += next;
        }
    }

    const unsigned char* p_;
    const unsigned char* end_;
    std::size_t left_ = 0; // bytes left of the current sequence (or subpart to replace)
    bool replacing_ = false;
    unsigned emitted_ = 0; // bytes of U+FFFD given out so far
};

// ---- The envelope, whatever the data

// Parses `body` through `handler` (data into its reader); true when it is valid JSON.
// Ill-formed UTF-8 in a string (a GBK message, say) gets a second reading with the bad
// sequences as U+FFFD rather than lose the server's code and message. When the body is an
// envelope, its code and message (token redacted) go to `diag`.
template <class Reader>
bool parse_envelope(std::string_view body, std::string_view token, Reader& reader,
                    envelope_handler<Reader>& handler, diagnostics& diag, bool& is_envelope) {
    const char* const first = body.data();
    const char* const last = first + body.size();
    bool parsed = json::sax_parse(first, last, &handler);
    if (!parsed && handler.utf8_error()) {
        reader.reset();
        handler = envelope_handler<Reader>(reader);
        parsed = json::sax_parse(utf8_repairing_iterator(first, last),
                                 utf8_repairing_iterator(last, last), &handler);
    }
    is_envelope = parsed && handler.top_is_object() && handler.has_code();
    if (is_envelope) {
        diag.set_api_code(handler.code());
        if (handler.has_message())
            diag.set_server_message(redact(std::move(handler.message()), token));
    }
    return parsed;
}

// The reader of an envelope whose data nobody wants.
struct no_data_reader {
    void reset() noexcept {}
    void begin() noexcept {}
    void value(const sax_value&) noexcept {}
    void key(std::string_view) noexcept {}
    void end() noexcept {}
};

// ---- The whole response

// Parses the body into `reader`; checks the HTTP status, the JSON and the envelope.
// Returns true when the envelope says 200 and `data` may be taken (after checking
// reader.report()); otherwise sets ec and diag.
template <class Reader>
bool read_response(int http_status, std::string_view body, const parse_context& ctx,
                   diagnostics& diag, error_code& ec, Reader& reader) {
    ec = {};
    diag.clear();
    diag.set_http_status(http_status);

    envelope_handler<Reader> handler(reader);
    bool is_envelope = false;
    const bool parsed = parse_envelope(body, ctx.token, reader, handler, diag, is_envelope);
    if (http_status != 200) {
        ec = make_error_code(client_errc::http_status);
        diag.set_client_message("HTTP status " + std::to_string(http_status) + " (expected 200)");
        return false;
    }
    if (!parsed && !(handler.too_deep() && !handler.top_is_object())) {
        ec = make_error_code(client_errc::invalid_json);
        diag.set_client_message(handler.too_deep()
                                    ? "the response body nests deeper than " +
                                          std::to_string(max_response_depth) + " levels"
                                    : "the response body is not valid JSON (" +
                                          std::to_string(body.size()) + " bytes)");
        return false;
    }
    if (!is_envelope) {
        ec = make_error_code(client_errc::missing_envelope);
        diag.set_client_message(handler.top_is_object() ? "the response has no integer field `code`"
                                                        : "the response body is not a JSON object");
        return false;
    }
    if (diag.api_code() != 200) {
        ec = make_api_error(diag.api_code());
        return false;
    }
    return !reader.report(diag, ec);
}

template <class Fn>
auto guarded(error_code& ec, diagnostics& diag, Fn fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        // Defensive: the readers check types before converting.
        ec = make_error_code(client_errc::invalid_field);
        diag.set_client_message(std::string("unexpected response content: ") + e.what());
        return {};
    }
}

// For read_envelope: an envelope that cannot be read leaves diag as it was.
template <class Fn>
void guarded_void(Fn fn) {
    try {
        fn();
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception&) {
    }
}

template <class T>
std::vector<T> parse_list(int http_status, std::string_view body, const parse_context& ctx,
                          diagnostics& diag, error_code& ec) {
    return guarded(ec, diag, [&]() -> std::vector<T> {
        list_reader<T> reader;
        if (!read_response(http_status, body, ctx, diag, ec, reader))
            return {};
        return reader.take();
    });
}

} // namespace parse_impl

ATOMCLOUD_DECL void read_envelope(std::string_view body, std::string_view token,
                                  diagnostics& diag) {
    parse_impl::guarded_void([&] {
        parse_impl::no_data_reader reader;
        parse_impl::envelope_handler<parse_impl::no_data_reader> handler(reader);
        bool is_envelope = false;
        parse_impl::parse_envelope(body, token, reader, handler, diag, is_envelope);
    });
}

ATOMCLOUD_DECL std::vector<org> parse_orgs(int http_status, std::string_view body,
                                           const parse_context& ctx, diagnostics& diag,
                                           error_code& ec) {
    return parse_impl::parse_list<org>(http_status, body, ctx, diag, ec);
}

ATOMCLOUD_DECL std::vector<group> parse_groups(int http_status, std::string_view body,
                                               const parse_context& ctx, diagnostics& diag,
                                               error_code& ec) {
    return parse_impl::parse_list<group>(http_status, body, ctx, diag, ec);
}

ATOMCLOUD_DECL std::vector<device> parse_devices(int http_status, std::string_view body,
                                                 const parse_context& ctx, diagnostics& diag,
                                                 error_code& ec) {
    return parse_impl::parse_list<device>(http_status, body, ctx, diag, ec);
}

ATOMCLOUD_DECL device_state parse_device_state(int http_status, std::string_view body,
                                               const parse_context& ctx, diagnostics& diag,
                                               error_code& ec) {
    return parse_impl::guarded(ec, diag, [&]() -> device_state {
        parse_impl::state_reader reader;
        if (!parse_impl::read_response(http_status, body, ctx, diag, ec, reader))
            return {};
        return reader.take();
    });
}

ATOMCLOUD_DECL packet_page parse_packet_page(int http_status, std::string_view body,
                                             const parse_context& ctx, diagnostics& diag,
                                             error_code& ec) {
    return parse_impl::guarded(ec, diag, [&]() -> packet_page {
        parse_impl::page_reader reader(ctx);
        if (!parse_impl::read_response(http_status, body, ctx, diag, ec, reader))
            return {};
        return reader.take();
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
    if (ec == client_errc::proxy_rejected)
        return proxy_status_is_transient(http_status);
    if (ec == api_errc::server_error)
        return true;
    if (is_connection_closed(ec))
        return true;
    return ec == net::error::connection_refused || ec == net::error::host_unreachable ||
           ec == net::error::network_unreachable || ec == net::error::network_down ||
           ec == net::error::network_reset || ec == net::error::host_not_found_try_again ||
           ec == net::error::try_again;
}

} // namespace atomcloud::detail

#endif
