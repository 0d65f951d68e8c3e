// The wait between attempts, without timers: capped exponential backoff with jitter (see
// backoff_options). The session's reconnects, the REST client's retries and the stream's
// history reads all use it. Internal; deterministic for a given seed, so tests can pin it.
#ifndef ATOMCLOUD_DETAIL_BACKOFF_HPP
#define ATOMCLOUD_DETAIL_BACKOFF_HPP

#include <atomcloud/config.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>

namespace atomcloud::detail {

/// Delays between attempts.
///
/// The n-th delay after a reset (n = 0, 1, ...) is
///   min(initial_delay * multiplier^n, max_delay) * (1 + jitter * u),  u uniform in [-1, 1),
/// then capped at max_delay. So the first retry after a working link was lost waits about
/// initial_delay, and no delay ever exceeds max_delay. Out-of-range options are tamed:
/// multiplier below 1 counts as 1, jitter is clamped to [0, 1], max_delay below
/// initial_delay counts as initial_delay, negative durations as zero.
class backoff {
public:
    backoff(const backoff_options& opts, std::uint64_t seed)
        : initial_(std::max(opts.initial_delay.count(), std::chrono::milliseconds::rep(0))),
          max_(std::max(opts.max_delay.count(), initial_)),
          multiplier_(std::isfinite(opts.multiplier) ? std::max(opts.multiplier, 1.0) : 1.0),
          jitter_(std::isfinite(opts.jitter) ? std::clamp(opts.jitter, 0.0, 1.0) : 0.0),
          rng_(seed) {}

    /// The delay before the next attempt; each call counts one more failure.
    std::chrono::milliseconds next() {
        // After many failures pow() is +inf: the cap holds it (and 0 * inf is no delay).
        double base =
            initial_ == 0 ? 0.0 : static_cast<double>(initial_) * std::pow(multiplier_, failures_);
        if (!(base < static_cast<double>(max_)))
            base = static_cast<double>(max_);
        ++failures_;
        // u in [-1, 1) from 53 random bits: the same sequence on every platform.
        const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * 2.0 - 1.0;
        double d = base * (1.0 + jitter_ * u);
        d = std::clamp(d, 0.0, static_cast<double>(max_));
        return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(d));
    }

    /// After a link that worked: the next delay is about initial_delay again.
    void reset() noexcept { failures_ = 0; }

    /// Delays handed out since the last reset.
    unsigned failures() const noexcept { return failures_; }

private:
    std::chrono::milliseconds::rep initial_;
    std::chrono::milliseconds::rep max_;
    double multiplier_;
    double jitter_;
    unsigned failures_ = 0;
    std::mt19937_64 rng_;
};

} // namespace atomcloud::detail

#endif
