#ifndef ATOMCLOUD_IMPL_LOGGER_IPP
#define ATOMCLOUD_IMPL_LOGGER_IPP

#include <atomcloud/detail/url.hpp>
#include <atomcloud/logger.hpp>

#include <cstdio>
#include <string>

namespace atomcloud {

ATOMCLOUD_DECL const char* to_string(log_level level) noexcept {
    switch (level) {
    case log_level::debug:
        return "debug";
    case log_level::info:
        return "info";
    case log_level::warning:
        return "warning";
    case log_level::error:
        return "error";
    case log_level::off:
        return "off";
    }
    return "unknown";
}

ATOMCLOUD_DECL logger logger::to_stderr(log_level level) {
    logger l;
    l.level = level;
    l.sink = [](log_level lv, std::string_view message) {
        std::string line = "atomcloud [";
        line += to_string(lv);
        line += "] ";
        line += message;
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stderr);
    };
    return l;
}

ATOMCLOUD_DECL std::string redact(std::string text, std::string_view secret) {
    if (secret.empty())
        return text;
    auto replace_all = [&text](std::string_view what) {
        if (what.empty())
            return;
        for (std::size_t pos = text.find(what); pos != std::string::npos;
             pos = text.find(what, pos + 3))
            text.replace(pos, what.size(), "***");
    };
    replace_all(secret);
    const std::string encoded = detail::percent_encode(secret);
    if (encoded != secret)
        replace_all(encoded);
    return text;
}

} // namespace atomcloud

#endif
