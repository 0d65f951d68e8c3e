// A logger for tests that keeps every line, to check what was (and was not) logged.
#ifndef ATOMCLOUD_TESTS_LOG_CAPTURE_HPP
#define ATOMCLOUD_TESTS_LOG_CAPTURE_HPP

#include <atomcloud/logger.hpp>

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud_test {

/// Collects log lines from any thread. make() returns a logger writing here at debug level;
/// the capture must outlive every user of that logger.
struct log_capture {
    std::mutex m;
    std::vector<std::string> lines;

    atomcloud::logger make() {
        return atomcloud::logger{atomcloud::log_level::debug,
                                 [this](atomcloud::log_level, std::string_view s) {
                                     std::lock_guard<std::mutex> l(m);
                                     lines.emplace_back(s);
                                 }};
    }
    /// The lines containing `needle`.
    std::size_t count(std::string_view needle) {
        std::lock_guard<std::mutex> l(m);
        std::size_t n = 0;
        for (const auto& s : lines)
            if (s.find(needle) != std::string::npos)
                ++n;
        return n;
    }
    /// Every line, each followed by a newline.
    std::string all() {
        std::lock_guard<std::mutex> l(m);
        std::string out;
        for (const auto& s : lines)
            out += s + "\n";
        return out;
    }
};

} // namespace atomcloud_test

#endif
