// atomcloud export: what `record` stored, as CSV (RFC 4180) or JSON lines, row by row.
#include "commands.hpp"
#include "record_db.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace atomcloud::cli {

namespace {

// Output through one buffer, written out in large pieces.
class writer {
public:
    writer() { buf_.reserve(capacity); }
    std::string& buffer() noexcept { return buf_; }
    void end_row() {
        if (buf_.size() >= capacity)
            flush();
    }
    void flush() {
        if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), stdout) != buf_.size())
            fail();
        buf_.clear();
        if (std::fflush(stdout) != 0)
            fail();
    }

private:
    [[noreturn]] static void fail() {
        throw std::runtime_error(std::string("cannot write the output: ") + std::strerror(errno));
    }
    static constexpr std::size_t capacity = 64 * 1024;
    std::string buf_;
};

// The length of the valid UTF-8 sequence at text[i], or 0.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (i + n > text.size() || !is_valid_utf8(text.substr(i, n)))
        return 0;
    return n;
}

// The bytes as UTF-8 text; each byte that is not part of valid UTF-8 becomes "\xHH".
std::string utf8_escaped(bytes_view payload) {
    const std::string_view text = as_chars(payload);
    if (is_valid_utf8(text))
        return std::string(text);
    std::string out;
    out.reserve(text.size() + 16);
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8_sequence(text, i);
        if (n == 0) {
            const auto b = static_cast<unsigned char>(text[i]);
            out += "\\x";
            out += hex_digit(b >> 4);
            out += hex_digit(b);
            ++i;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string payload_as(bytes_view payload, encoding enc) {
    switch (enc) {
    case encoding::hex:
        return to_hex_packet(payload);
    case encoding::utf8:
        return utf8_escaped(payload);
    case encoding::gbk:
        return gbk_to_utf8(payload);
    }
    return {};
}

// A CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF; quotes doubled.
// On a terminal, what a terminal would act on is escaped first (terminal_safe).
void csv_field(std::string& out, std::string_view value, bool tty) {
    std::string safe;
    if (tty) {
        safe = terminal_safe(value);
        value = safe;
    }
    if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
        out.append(value);
        return;
    }
    out += '"';
    for (char c : value) {
        if (c == '"')
            out += '"';
        out += c;
    }
    out += '"';
}

// A JSON string of valid UTF-8 text. Besides what JSON requires (quote, backslash, C0
// controls), DEL, the C1 controls, the line and paragraph separators and the
// bidirectional overrides are written as \uXXXX: the lines stay safe on a terminal and
// decode to the same text.
void json_string(std::string& out, std::string_view text) {
    out += '"';
    auto escape = [&](std::uint32_t cp) {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4)
            out += hex_digit(cp >> shift);
    };
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (c < 0x20 || c == 0x7F)
                    escape(c);
                else
                    out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        std::size_t n = utf8_sequence(text, i);
        if (n == 0) { // not expected (the text is valid UTF-8): U+FFFD
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        std::uint32_t cp = n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
        for (std::size_t k = 1; k < n; ++k)
            cp = cp << 6 | (static_cast<unsigned char>(text[i + k]) & 0x3Fu);
        if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
            (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
            escape(cp);
        else
            out.append(text.substr(i, n));
        i += n;
    }
    out += '"';
}

// A column of an export: its name, and how a row's value is read.
enum class column_kind {
    text,    // TEXT
    time,    // microseconds since the epoch, or NULL; written as ISO 8601
    payload, // BLOB, written in the chosen encoding
    integer, // INTEGER or NULL
};

struct column {
    const char* name;
    column_kind kind;
};

// Writes rows of `columns` (the query's result columns, in order) as CSV or JSON lines.
class row_writer {
public:
    row_writer(std::vector<column> columns, export_format format, encoding enc)
        : columns_(std::move(columns)), format_(format), enc_(enc),
          tty_(::isatty(STDOUT_FILENO) == 1) {}

    void header(std::string& out) const {
        if (format_ != export_format::csv)
            return;
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            out += i == 0 ? "" : ",";
            out += columns_[i].name;
        }
        out += "\r\n";
    }

    void row(std::string& out, const statement& q) const {
        const bool csv = format_ == export_format::csv;
        out += csv ? "" : "{";
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            const int col = static_cast<int>(i);
            const column_kind kind = columns_[i].kind;
            const bool null =
                kind != column_kind::text && kind != column_kind::payload && q.is_null(col);
            const std::string value = null ? std::string() : read(q, col, kind);
            if (csv) {
                if (i != 0)
                    out += ',';
                csv_field(out, value, tty_);
                continue;
            }
            out += i == 0 ? "\"" : ",\"";
            out += columns_[i].name;
            out += "\":";
            if (null)
                out += "null";
            else if (kind == column_kind::integer)
                out += value;
            else
                json_string(out, valid_utf8(value));
        }
        out += csv ? "\r\n" : "}\n";
    }

private:
    std::string read(const statement& q, int col, column_kind kind) const {
        switch (kind) {
        case column_kind::text:
            return std::string(q.text(col));
        case column_kind::time:
            return iso_time(q.int64(col));
        case column_kind::payload:
            return payload_as(q.blob(col), enc_);
        case column_kind::integer:
            return std::to_string(q.int64(col));
        }
        return {};
    }

    std::vector<column> columns_;
    export_format format_;
    encoding enc_;
    bool tty_;
};

// Runs `q` and writes its rows.
int write_rows(statement& q, const row_writer& rows) {
    writer w;
    rows.header(w.buffer());
    while (q.step()) {
        rows.row(w.buffer(), q);
        w.end_row();
    }
    w.flush();
    return exit_ok;
}

// The WHERE clause of the filters, with its parameters from ?1 on; `time` is the SQL of
// a row's time (start inclusive, end exclusive).
struct filter {
    std::string where;
    std::vector<std::string> numbers;
    std::optional<std::int64_t> start;
    std::optional<std::int64_t> end;

    void bind(statement& q) const {
        int i = 1;
        for (const auto& n : numbers)
            q.bind(i++, std::string_view(n));
        if (start)
            q.bind(i++, *start);
        if (end)
            q.bind(i++, *end);
    }
};

filter make_filter(const export_args& a, const char* start_time, const char* end_time) {
    filter f;
    f.numbers = a.numbers;
    std::vector<std::string> conditions;
    if (!a.numbers.empty()) {
        std::string in = "number IN (";
        for (std::size_t i = 0; i < a.numbers.size(); ++i)
            in += i == 0 ? "?" : ", ?";
        conditions.push_back(in + ")");
    }
    const auto offset = config{}.server_utc_offset;
    if (!a.start.empty()) {
        f.start = parse_time_option(a.start, "--start", offset).time_since_epoch().count();
        conditions.push_back(std::string(start_time) + " >= ?");
    }
    if (!a.end.empty()) {
        f.end = parse_time_option(a.end, "--end", offset).time_since_epoch().count();
        conditions.push_back(std::string(end_time) + " < ?");
    }
    if (f.start && f.end && *f.start > *f.end)
        throw usage_error("--start is after --end");
    for (std::size_t i = 0; i < conditions.size(); ++i)
        f.where += (i == 0 ? " WHERE " : " AND ") + conditions[i];
    return f;
}

int export_messages(database& db, const export_args& a, export_format format) {
    const filter f = make_filter(a, "coalesce(cloud_time_us, received_at_us)",
                                 "coalesce(cloud_time_us, received_at_us)");
    statement q(db,
                "SELECT number, cloud_time_us, received_at_us, origin, payload FROM messages" +
                    f.where + " ORDER BY id",
                "reading its messages");
    f.bind(q);
    return write_rows(q, row_writer({{"number", column_kind::text},
                                     {"cloud_time", column_kind::time},
                                     {"received_at", column_kind::time},
                                     {"origin", column_kind::text},
                                     {"payload", column_kind::payload}},
                                    format, a.enc));
}

int export_gaps(database& db, const export_args& a, export_format format) {
    // A gap is in the window when the window meets it (an open bound meets everything).
    const filter f = make_filter(a, "coalesce(to_us, from_us, recorded_at_us)",
                                 "coalesce(from_us, to_us, recorded_at_us)");
    statement q(db,
                "SELECT number, from_us, to_us, reason, recorded_at_us, after_id FROM gaps" +
                    f.where + " ORDER BY id",
                "reading its gaps");
    f.bind(q);
    return write_rows(q, row_writer({{"number", column_kind::text},
                                     {"from", column_kind::time},
                                     {"to", column_kind::time},
                                     {"reason", column_kind::text},
                                     {"recorded_at", column_kind::time},
                                     {"after_id", column_kind::integer}},
                                    format, a.enc));
}

} // namespace

int run_export(const global_options& g, const export_args& a) {
    const export_format format =
        a.format ? *a.format : (g.json ? export_format::jsonl : export_format::csv);
    if (a.db.empty())
        throw usage_error("export needs --db FILE");
    make_filter(a, "", ""); // the options' usage errors before the database's
    try {
        database db(a.db, database::access::read_only);
        check_record_schema(db);
        return a.gaps ? export_gaps(db, a, format) : export_messages(db, a, format);
    } catch (const database_error& e) {
        std::cerr << "atomcloud: error: " << terminal_safe(e.what()) << std::endl;
        return exit_failure;
    }
}

} // namespace atomcloud::cli
