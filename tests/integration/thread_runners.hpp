// Helpers of the multi-threaded integration tests: a countdown of completions reported
// from any thread, and threads running an io_context.
#ifndef ATOMCLOUD_TESTS_THREAD_RUNNERS_HPP
#define ATOMCLOUD_TESTS_THREAD_RUNNERS_HPP

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace atomcloud_test {

namespace asio = boost::asio;

// Counts completions reported from any thread; the test's thread waits for all of them.
class countdown {
public:
    explicit countdown(std::size_t n) : left_(n) {}

    void done() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (left_ > 0)
            --left_;
        cv_.notify_all();
    }

    bool wait(std::chrono::milliseconds limit) {
        std::unique_lock<std::mutex> lock(mutex_);
        return cv_.wait_for(lock, limit, [this] { return left_ == 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::size_t left_;
};

// Threads running an io_context. Declare it after everything its handlers use: if a test
// gives up half-way, the destructor stops the io_context and joins before those go.
class runners {
public:
    runners(asio::io_context& io, std::size_t n)
        : io_(io), work_(asio::make_work_guard(io)), exited_(n) {
        for (std::size_t i = 0; i < n; ++i)
            threads_.emplace_back([this] {
                io_.run();
                exited_.done();
            });
    }

    ~runners() {
        if (!threads_.empty() && threads_.front().joinable()) {
            io_.stop();
            for (auto& t : threads_)
                t.join();
        }
    }

    runners(const runners&) = delete;
    runners& operator=(const runners&) = delete;

    // Lets the threads run out of work and joins them. False if work was still left after
    // `limit` (then the io_context is stopped).
    bool finish(std::chrono::milliseconds limit) {
        work_.reset();
        const bool idle = exited_.wait(limit);
        if (!idle)
            io_.stop();
        for (auto& t : threads_)
            t.join();
        return idle;
    }

private:
    asio::io_context& io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    countdown exited_;
    std::vector<std::thread> threads_;
};

} // namespace atomcloud_test

#endif
