// Runs an io_context in short slices until a condition holds or a time limit passes: how
// the single-threaded tests wait for something while their clients make progress.
#ifndef ATOMCLOUD_TESTS_RUN_UNTIL_HPP
#define ATOMCLOUD_TESTS_RUN_UNTIL_HPP

#include <boost/asio/io_context.hpp>

#include <chrono>

namespace atomcloud_test {

/// Runs `io` until `done()` is true (then returns true) or `limit` passed (false).
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred done, std::chrono::milliseconds limit,
               std::chrono::milliseconds slice = std::chrono::milliseconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        io.restart();
        io.run_for(slice);
    }
    return true;
}

} // namespace atomcloud_test

#endif
