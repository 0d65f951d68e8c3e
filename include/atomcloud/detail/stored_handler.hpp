// A completion handler kept until its operation completes, with outstanding work on its
// executor and its cancellation slot: the plumbing of operations that complete later, from
// another event. Internal.
#ifndef ATOMCLOUD_DETAIL_STORED_HANDLER_HPP
#define ATOMCLOUD_DETAIL_STORED_HANDLER_HPP

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <tuple>
#include <utility>

namespace atomcloud::detail {

/// A completion handler kept until its operation completes, with outstanding work on its
/// executor (as composed operations do). Completion is always posted, never run inside
/// the caller.
template <class Signature>
class stored_handler;

template <class... Args>
class stored_handler<void(Args...)> {
public:
    using handler_type = boost::asio::any_completion_handler<void(Args...)>;

    stored_handler() = default;
    stored_handler(handler_type h, const boost::asio::any_io_executor& io_ex)
        : handler_(std::move(h)),
          work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_, io_ex),
                                    boost::asio::execution::outstanding_work.tracked)) {}

    // any_completion_handler's move assignment is unusable in Asio 1.26 (it wraps the
    // source instead of taking it over): only its move constructor and swap are used.
    stored_handler(stored_handler&& other) noexcept
        : handler_(std::move(other.handler_)), work_(std::move(other.work_)) {}
    stored_handler& operator=(stored_handler&& other) noexcept {
        handler_type taken(std::move(other.handler_));
        handler_.swap(taken);
        work_ = std::move(other.work_);
        return *this;
    }

    explicit operator bool() const noexcept { return static_cast<bool>(handler_); }

    boost::asio::cancellation_slot slot() const noexcept {
        return handler_.get_cancellation_slot();
    }

    /// Completes the operation: posts the handler to its executor with `args`.
    void post(const boost::asio::any_io_executor& io_ex, Args... args) {
        auto slot = handler_.get_cancellation_slot();
        if (slot.is_connected())
            slot.clear();
        handler_type h(std::move(handler_)); // leaves handler_ empty
        boost::asio::any_completion_executor work = std::move(work_);
        work_ = boost::asio::any_completion_executor();
        boost::asio::post(
            io_ex, boost::asio::bind_executor(
                       std::move(work),
                       [h = std::move(h), t = std::make_tuple(std::move(args)...)]() mutable {
                           std::apply(std::move(h), std::move(t));
                       }));
    }

private:
    handler_type handler_;
    boost::asio::any_completion_executor work_;
};

} // namespace atomcloud::detail

#endif
