// A request target (/path?query) parsed with Boost.URL: the decoded path segments and
// query parameters ('+' is a space in the query), and the integer forms routes accept.
#ifndef ATOMCLOUD_EMULATOR_SRC_TARGET_HPP
#define ATOMCLOUD_EMULATOR_SRC_TARGET_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud::emulator::detail {

struct query_param {
    std::string name;
    std::string value;
};

struct request_target {
    std::vector<std::string> segments; ///< "/a/b%20c" -> {"a", "b c"}
    std::vector<query_param> params;   ///< in order; see param()
    /// The value of the last parameter named `name`; nullptr when there is none.
    const std::string* param(std::string_view name) const;
};

/// At most this many query parameters are accepted.
inline constexpr std::size_t max_query_params = 64;

/// Parses an origin-form target. std::nullopt when it is not one (bad percent-encoding,
/// characters a URL may not hold) or has more than max_query_params parameters.
std::optional<request_target> parse_target(std::string_view target);

/// The path of a target (up to '?'), undecoded: for routing by prefix before parsing.
std::string_view target_path(std::string_view target) noexcept;

/// A decimal integer, optionally negative, nothing else.
std::optional<std::int64_t> parse_int(std::string_view text);
/// A decimal integer >= 0, digits only.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);
/// A decimal integer > 0, digits only.
std::optional<std::uint64_t> parse_positive(std::string_view text);

} // namespace atomcloud::emulator::detail

#endif
