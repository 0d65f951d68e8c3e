// Runs an asynchronous operation to completion from a thread outside its executor: the
// synchronous forms of the REST client and of the history walk. Internal.
#ifndef ATOMCLOUD_DETAIL_RUN_SYNC_HPP
#define ATOMCLOUD_DETAIL_RUN_SYNC_HPP

#include <atomcloud/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace atomcloud::detail {

// The io_context behind `ex`, when there is one the caller may drive.
inline boost::asio::io_context* drivable_context(const boost::asio::any_io_executor& ex) noexcept {
    if (const auto* e = ex.target<boost::asio::io_context::executor_type>())
        return &e->context();
    if (const auto* s = ex.target<boost::asio::strand<boost::asio::io_context::executor_type>>())
        return &s->get_inner_executor().context();
    return nullptr;
}

// Runs an async operation to completion from a thread outside the executor.
template <class T, class Start>
T run_sync(const boost::asio::any_io_executor& ex, error_code& ec, Start start) {
    struct result {
        std::mutex mutex;
        std::condition_variable cv;
        bool done = false;
        error_code ec;
        T value{};
    };
    auto r = std::make_shared<result>();
    start(boost::asio::any_completion_handler<void(error_code, T)>([r](error_code e, T v) {
        std::lock_guard<std::mutex> lock(r->mutex);
        r->ec = e;
        r->value = std::move(v);
        r->done = true;
        r->cv.notify_all();
    }));
    auto is_done = [&r] {
        std::lock_guard<std::mutex> lock(r->mutex);
        return r->done;
    };
    if (auto* ctx = drivable_context(ex)) {
        while (!is_done()) {
            if (ctx->stopped())
                ctx->restart();
            ctx->run_one_for(std::chrono::milliseconds(10));
        }
    } else {
        std::unique_lock<std::mutex> lock(r->mutex);
        r->cv.wait(lock, [&r] { return r->done; });
    }
    std::lock_guard<std::mutex> lock(r->mutex);
    ec = r->ec;
    return std::move(r->value);
}

} // namespace atomcloud::detail

#endif
