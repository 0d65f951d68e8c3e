#include "output.hpp"

#include <algorithm>
#include <cstdint>
#include <ostream>

namespace atomcloud::cli {

namespace {

// Decodes one UTF-8 sequence at p (valid input assumed; invalid bytes count as one column).
std::uint32_t next_code_point(std::string_view text, std::size_t& i) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80             ? 0
                    : (c & 0xE0) == 0xC0 ? 1
                    : (c & 0xF0) == 0xE0 ? 2
                    : (c & 0xF8) == 0xF0 ? 3
                                         : 0;
    if (c >= 0x80 && n == 0) {
        ++i;
        return 0xFFFD;
    }
    std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1Fu) : n == 2 ? (c & 0x0Fu) : (c & 0x07u);
    for (std::size_t k = 1; k <= n && i + k < text.size(); ++k)
        cp = cp << 6 | (static_cast<unsigned char>(text[i + k]) & 0x3Fu);
    i += n + 1;
    return cp;
}

bool is_wide(std::uint32_t cp) {
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
           (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
           (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
           (cp >= 0x20000 && cp <= 0x3FFFD);
}

bool is_zero_width(std::uint32_t cp) {
    return (cp >= 0x0300 && cp <= 0x036F) || cp == 0x200B || cp == 0x200D || cp == 0xFEFF;
}

} // namespace

std::size_t display_width(std::string_view text) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        const std::uint32_t cp = next_code_point(text, i);
        width += is_zero_width(cp) ? 0 : is_wide(cp) ? 2 : 1;
    }
    return width;
}

std::string valid_utf8(std::string_view text) {
    if (is_valid_utf8(text))
        return std::string(text);
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        // Take the longest valid sequence (1 to 4 bytes) starting at i.
        std::size_t len = 0;
        for (std::size_t n = 1; n <= 4 && i + n <= text.size(); ++n)
            if (is_valid_utf8(text.substr(i, n)))
                len = n;
        if (len == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out += text.substr(i, len);
            i += len;
        }
    }
    return out;
}

std::string payload_text(bytes_view payload, encoding enc) {
    switch (enc) {
    case encoding::hex:
        return to_hex_packet(payload);
    case encoding::utf8:
        return valid_utf8(as_chars(payload));
    case encoding::gbk:
        return gbk_to_utf8(payload);
    }
    return {};
}

std::string terminal_safe(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    auto escape_byte = [&](unsigned char b) {
        out += "\\x";
        out += hex_digit(b >> 4);
        out += hex_digit(b);
    };
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F)
                escape_byte(c);
            else
                out += static_cast<char>(c);
            ++i;
            continue;
        }
        // The longest valid UTF-8 sequence (2 to 4 bytes) starting at i, if any.
        std::size_t len = 0;
        for (std::size_t n = 2; n <= 4 && i + n <= text.size(); ++n)
            if (is_valid_utf8(text.substr(i, n))) {
                len = n;
                break;
            }
        if (len == 0) {
            escape_byte(c);
            ++i;
            continue;
        }
        std::size_t j = i;
        const std::uint32_t cp = next_code_point(text, j);
        const bool control = (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
                             (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
        if (control) {
            out += "\\u{";
            for (int shift = 12; shift >= 0; shift -= 4)
                out += hex_digit(cp >> shift);
            out += '}';
        } else {
            out.append(text.substr(i, len));
        }
        i += len;
    }
    return out;
}

table::table(std::vector<std::string> headers) : headers_(std::move(headers)) {
    for (auto& h : headers_)
        h = terminal_safe(h);
    widths_.assign(headers_.size(), 0);
    measure(headers_);
}

void table::add(const std::vector<std::string>& row) {
    std::vector<std::string> safe;
    safe.reserve(row.size());
    for (const auto& cell : row)
        safe.push_back(terminal_safe(cell));
    measure(safe);
    rows_.push_back(std::move(safe));
}

void table::measure(const std::vector<std::string>& row) {
    for (std::size_t c = 0; c < row.size() && c < widths_.size(); ++c)
        widths_[c] = std::max(widths_[c], display_width(row[c]));
}

void table::print_row(std::ostream& out, const std::vector<std::string>& row) const {
    std::string line;
    for (std::size_t c = 0; c < row.size() && c < widths_.size(); ++c) {
        line += row[c];
        if (c + 1 < row.size())
            line.append(widths_[c] - display_width(row[c]) + 2, ' ');
    }
    out << line << '\n';
}

void table::print(std::ostream& out) const {
    print_row(out, headers_);
    for (const auto& row : rows_)
        print_row(out, row);
}

void table::print_rows(std::ostream& out) {
    if (!header_printed_) {
        print_row(out, headers_);
        header_printed_ = true;
    }
    for (const auto& row : rows_)
        print_row(out, row);
    rows_.clear();
    out.flush();
}

nlohmann::ordered_json to_json(const org& o) {
    return {{"id", o.id},
            {"name", valid_utf8(o.name)},
            {"acc_id", o.acc_id},
            {"device_limit", o.device_limit},
            {"device_counter", o.device_counter},
            {"created_at", o.created_at}};
}

nlohmann::ordered_json to_json(const group& g) {
    return {{"id", g.id},
            {"name", valid_utf8(g.name)},
            {"org_id", g.org_id},
            {"org_name", valid_utf8(g.org_name)},
            {"acc_id", g.acc_id},
            {"acc_name", valid_utf8(g.acc_name)},
            {"created_at", g.created_at}};
}

nlohmann::ordered_json device_type_json(const device& d) {
    switch (d.type) {
    case device_type::dtu:
        return "01";
    case device_type::wifi:
        return "02";
    case device_type::nbiot:
        return "03";
    case device_type::dtu_4g:
        return "04";
    case device_type::unknown:
        break;
    }
    return nullptr;
}

nlohmann::ordered_json to_json(const device& d) {
    return {{"id", d.id},
            {"show_id", valid_utf8(d.show_id)},
            {"name", valid_utf8(d.name)},
            {"number", valid_utf8(d.number)},
            {"device_type", device_type_json(d)}};
}

nlohmann::ordered_json to_json(const packet& p, encoding enc) {
    nlohmann::ordered_json item = {{"time", p.raw_time},
                                   {"hex_packet", to_hex_packet(p.payload)},
                                   {"length", p.length},
                                   {"number", valid_utf8(p.number)}};
    if (enc != encoding::hex)
        item["text"] = payload_text(p.payload, enc);
    return item;
}

} // namespace atomcloud::cli
