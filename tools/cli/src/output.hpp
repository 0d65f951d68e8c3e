// Output of the atomcloud command: aligned tables for people, JSON for programs.
#ifndef ATOMCLOUD_CLI_OUTPUT_HPP
#define ATOMCLOUD_CLI_OUTPUT_HPP

#include <atomcloud/atomcloud.hpp>

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud::cli {

/// How device payloads are shown.
enum class encoding { hex, utf8, gbk };

/// Payload as text in `enc` (invalid bytes become U+FFFD), or as hex for encoding::hex.
std::string payload_text(bytes_view payload, encoding enc);

/// Columns of a terminal that `text` (UTF-8) occupies: East Asian wide characters take
/// two, combining marks none.
std::size_t display_width(std::string_view text);

/// Text that is safe to write to a terminal: every character that a terminal would act
/// on instead of showing is replaced by a visible escape. C0 controls (ESC, CR, LF, TAB,
/// BEL ...) and DEL become `\xHH`; C1 controls (U+0080-U+009F), the line and paragraph
/// separators and the bidirectional overrides become `\u{HHHH}`; bytes that are not
/// UTF-8 become `\xHH`. Everything the tool prints as text (tables, event lines, stderr)
/// goes through here; names, payloads and server messages come from the network.
std::string terminal_safe(std::string_view text);

/// A table printed with its columns aligned (by display width, so Chinese names line up).
/// Cells are made terminal_safe() when added.
///
/// print() prints the header and every row added. For output that must not be kept in
/// memory, print_rows() prints the header (the first time) and the rows added since the
/// previous call, then forgets them; columns keep the widest width seen so far.
class table {
public:
    explicit table(std::vector<std::string> headers);
    void add(const std::vector<std::string>& row);
    void print(std::ostream& out) const;
    void print_rows(std::ostream& out);

private:
    void measure(const std::vector<std::string>& row);
    void print_row(std::ostream& out, const std::vector<std::string>& row) const;

    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
    std::vector<std::size_t> widths_;
    bool header_printed_ = false;
};

// The API's `data`, with the API's field names and normalised types.
nlohmann::ordered_json to_json(const org& o);
nlohmann::ordered_json to_json(const group& g);
nlohmann::ordered_json to_json(const device& d);
/// "01".."04" for the known types, null otherwise.
nlohmann::ordered_json device_type_json(const device& d);
/// One history item; with a text encoding, also a "text" field.
nlohmann::ordered_json to_json(const packet& p, encoding enc);

/// Replaces bytes that are not UTF-8 by U+FFFD (JSON output must be valid UTF-8).
std::string valid_utf8(std::string_view text);

} // namespace atomcloud::cli

#endif
