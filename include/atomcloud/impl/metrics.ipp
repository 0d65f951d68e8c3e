// The push form of the metrics: a timer on the client's executor that calls a tick
// function every interval until cancelled or the client is gone.
#ifndef ATOMCLOUD_IMPL_METRICS_IPP
#define ATOMCLOUD_IMPL_METRICS_IPP

#include <atomcloud/detail/stored_handler.hpp>
#include <atomcloud/metrics.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <utility>

namespace atomcloud::detail {

class metrics_watch : public std::enable_shared_from_this<metrics_watch> {
public:
    metrics_watch(boost::asio::any_io_executor ex, std::chrono::steady_clock::duration interval,
                  std::function<bool()> tick, metrics_watch_handler h)
        : ex_(std::move(ex)), timer_(ex_), interval_(interval), tick_(std::move(tick)),
          handler_(std::move(h), ex_) {}

    void start() {
        auto slot = handler_.slot();
        if (slot.is_connected()) {
            slot.assign([w = weak_from_this(), ex = ex_](boost::asio::cancellation_type) {
                // Not from inside the signal: completing destroys the slot's handler.
                boost::asio::post(ex, [w] {
                    if (auto self = w.lock())
                        self->cancel();
                });
            });
        }
        next_ = std::chrono::steady_clock::now() + interval_;
        arm();
    }

private:
    void arm() {
        timer_.expires_at(next_);
        timer_.async_wait([self = shared_from_this()](error_code ec) { self->fired(ec); });
    }

    void fired(error_code ec) {
        if (ec || cancelled_ || !tick_())
            return handler_.post(ex_, boost::asio::error::operation_aborted);
        // Every interval from the start; a late tick does not make the next ones early.
        next_ += interval_;
        const auto now = std::chrono::steady_clock::now();
        if (next_ <= now)
            next_ = now + interval_;
        arm();
    }

    void cancel() {
        cancelled_ = true;
        timer_.cancel();
    }

    boost::asio::any_io_executor ex_;
    boost::asio::steady_timer timer_;
    std::chrono::steady_clock::duration interval_;
    std::chrono::steady_clock::time_point next_{};
    std::function<bool()> tick_;
    stored_handler<void(error_code)> handler_;
    bool cancelled_ = false;
};

ATOMCLOUD_DECL void watch_metrics(boost::asio::any_io_executor ex,
                                  std::chrono::steady_clock::duration interval,
                                  std::function<bool()> tick, metrics_watch_handler handler) {
    if (interval <= std::chrono::steady_clock::duration::zero() || !tick) {
        stored_handler<void(error_code)> h(std::move(handler), ex);
        return h.post(ex, boost::asio::error::invalid_argument);
    }
    std::make_shared<metrics_watch>(std::move(ex), interval, std::move(tick), std::move(handler))
        ->start();
}

} // namespace atomcloud::detail

#endif
