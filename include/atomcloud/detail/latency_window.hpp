// The REST client's latency window and the classification of request outcomes, without
// sockets. Internal.
//
//  - latency_window<N>: a fixed ring of the last N latencies (microseconds, saturated at
//    about 71 minutes); adding one is a store and an increment, no allocation. The
//    percentiles are computed when a snapshot is taken (a copy on the stack and
//    nth_element: O(N)).
//  - rest_outcome_of(ec): which counter of rest_metrics a completed request goes to.
#ifndef ATOMCLOUD_DETAIL_LATENCY_WINDOW_HPP
#define ATOMCLOUD_DETAIL_LATENCY_WINDOW_HPP

#include <atomcloud/error.hpp>
#include <atomcloud/metrics.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace atomcloud::detail {

template <std::size_t N>
class latency_window {
    static_assert(N > 0, "a window holds at least one latency");

public:
    /// Records one latency (negative ones count as 0).
    void add(std::chrono::steady_clock::duration d) noexcept {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
        constexpr auto top = std::numeric_limits<std::uint32_t>::max();
        ring_[next_] =
            us <= 0
                ? 0u
                : (static_cast<std::uint64_t>(us) >= top ? top : static_cast<std::uint32_t>(us));
        next_ = next_ + 1 == N ? 0 : next_ + 1;
        if (size_ < N)
            ++size_;
    }

    std::size_t size() const noexcept { return size_; }

    /// p50, p99 and the maximum of the latencies in the window (nearest rank: the
    /// smallest latency with at least p % of the window at or below it).
    latency_summary summary() const noexcept {
        latency_summary s;
        s.samples = size_;
        if (size_ == 0)
            return s;
        std::array<std::uint32_t, N> v{}; // (zeroed: GCC 12 -O3 warns otherwise)
        std::copy(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(size_), v.begin());
        const auto first = v.begin();
        const auto last = v.begin() + static_cast<std::ptrdiff_t>(size_);
        auto at_rank = [&](std::size_t percent) {
            // ceil(percent/100 * n), from 1; as an index, minus one.
            std::size_t rank = (percent * size_ + 99) / 100;
            rank = std::max<std::size_t>(rank, 1);
            const auto nth = first + static_cast<std::ptrdiff_t>(rank - 1);
            std::nth_element(first, nth, last);
            return std::chrono::microseconds(*nth);
        };
        s.p50 = at_rank(50);
        s.p99 = at_rank(99);
        s.max = std::chrono::microseconds(*std::max_element(first, last));
        return s;
    }

private:
    std::array<std::uint32_t, N> ring_{};
    std::size_t next_ = 0;
    std::size_t size_ = 0;
};

enum class rest_outcome { ok, api_error, http_error, invalid_response, network_error, cancelled };

/// Which outcome a request that completed with `ec` had.
inline rest_outcome rest_outcome_of(const error_code& ec) noexcept {
    if (!ec)
        return rest_outcome::ok;
    if (ec == boost::asio::error::operation_aborted)
        return rest_outcome::cancelled;
    if (ec.category() == api_category())
        return rest_outcome::api_error;
    if (ec == client_errc::http_status)
        return rest_outcome::http_error;
    if (ec == client_errc::invalid_json || ec == client_errc::missing_envelope ||
        ec == client_errc::invalid_field || ec == client_errc::response_too_large)
        return rest_outcome::invalid_response;
    return rest_outcome::network_error;
}

/// Whether a request with this outcome got an HTTP answer (its latency is recorded).
inline bool rest_outcome_answered(rest_outcome o) noexcept {
    return o == rest_outcome::ok || o == rest_outcome::api_error || o == rest_outcome::http_error ||
           o == rest_outcome::invalid_response;
}

} // namespace atomcloud::detail

#endif
