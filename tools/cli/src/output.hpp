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

/// A table printed with its columns aligned (by display width, so Chinese names line up).
class table {
public:
    explicit table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::ostream& out) const;

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
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
