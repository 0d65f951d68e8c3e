// Logging hook: a level and a function. atomcloud never writes the API token to a log.
#ifndef ATOMCLOUD_LOGGER_HPP
#define ATOMCLOUD_LOGGER_HPP

#include <atomcloud/detail/config.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace atomcloud {

enum class log_level { debug = 0, info = 1, warning = 2, error = 3, off = 4 };

/// "debug", "info", "warning", "error", "off".
ATOMCLOUD_DECL const char* to_string(log_level level) noexcept;

/// Where atomcloud's log lines go. Messages below `level`, or all of them when `sink` is
/// empty (the default), are dropped without being formatted.
///
/// Thread safety: each client calls the sink on its own executor. A sink shared by
/// clients or sessions that run on different threads (strands of a multi-threaded
/// io_context) is called concurrently and must be thread-safe.
struct logger {
    log_level level = log_level::info;
    std::function<void(log_level, std::string_view)> sink;

    bool enabled(log_level l) const noexcept { return sink && l >= level && l != log_level::off; }

    void log(log_level l, std::string_view message) const {
        if (enabled(l))
            sink(l, message);
    }

    /// A logger writing "atomcloud [level] message" lines to stderr.
    ATOMCLOUD_DECL static logger to_stderr(log_level level = log_level::info);
};

/// `text` with every occurrence of `secret` (and of its percent-encoded form) replaced by
/// "***"; an empty secret leaves it unchanged. The clients pass everything they log or
/// put in an error through it with the API token; so may an application.
ATOMCLOUD_DECL std::string redact(std::string text, std::string_view secret);

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/logger.ipp>
#endif

#endif
