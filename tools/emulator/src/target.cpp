#include "target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace atomcloud::emulator::detail {

const std::string* request_target::param(std::string_view name) const {
    const std::string* found = nullptr;
    for (const auto& p : params)
        if (p.name == name)
            found = &p.value; // the last one wins
    return found;
}

std::optional<request_target> parse_target(std::string_view target) {
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed)
        return std::nullopt;
    const boost::urls::url_view& url = *parsed;
    request_target out;
    for (auto segment : url.segments())
        out.segments.push_back(std::move(segment));
    for (auto p : url.params()) { // '+' decodes to a space here
        if (p.key.empty() && p.value.empty())
            continue; // "a=1&&b=2"
        if (out.params.size() == max_query_params)
            return std::nullopt;
        out.params.push_back({std::move(p.key), std::move(p.value)});
    }
    return out;
}

std::string_view target_path(std::string_view target) noexcept {
    return target.substr(0, target.find('?'));
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t v = 0;
    if (text.empty() || text.front() == '+')
        return std::nullopt;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size())
        return std::nullopt;
    return v;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
    std::uint64_t v = 0;
    if (text.empty() || text.front() < '0' || text.front() > '9')
        return std::nullopt;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size())
        return std::nullopt;
    return v;
}

std::optional<std::uint64_t> parse_positive(std::string_view text) {
    auto v = parse_unsigned(text);
    if (v && *v == 0)
        return std::nullopt;
    return v;
}

} // namespace atomcloud::emulator::detail
