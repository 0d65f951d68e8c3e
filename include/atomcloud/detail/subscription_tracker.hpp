// The devices a session is subscribed to: remembered across reconnects and replayed after
// each one. Internal; no I/O.
#ifndef ATOMCLOUD_DETAIL_SUBSCRIPTION_TRACKER_HPP
#define ATOMCLOUD_DETAIL_SUBSCRIPTION_TRACKER_HPP

#include <atomcloud/device_id.hpp>

#include <boost/core/span.hpp>

#include <algorithm>
#include <cstddef>
#include <unordered_set>
#include <vector>

namespace atomcloud::detail {

/// A set of device numbers in order of first subscription.
///
/// subscribe() and unsubscribe() return the devices whose state changed (in the order
/// given, each once): the frames to send now when the link is up. Subscribing twice or
/// unsubscribing a device that is not subscribed changes nothing, so nothing is sent.
class subscription_tracker {
public:
    std::vector<device_number> subscribe(boost::span<const device_number> devices) {
        std::vector<device_number> added;
        for (const auto& d : devices) {
            if (set_.insert(d).second) {
                order_.push_back(d);
                added.push_back(d);
            }
        }
        return added;
    }

    std::vector<device_number> unsubscribe(boost::span<const device_number> devices) {
        std::vector<device_number> removed;
        for (const auto& d : devices)
            if (set_.erase(d) != 0)
                removed.push_back(d);
        if (!removed.empty())
            order_.erase(std::remove_if(order_.begin(), order_.end(),
                                        [this](const device_number& d) { return !set_.count(d); }),
                         order_.end());
        return removed;
    }

    bool contains(const device_number& d) const { return set_.count(d) != 0; }
    std::size_t size() const noexcept { return order_.size(); }
    bool empty() const noexcept { return order_.empty(); }

    /// Every subscribed device, in order of subscription: what a new link replays.
    const std::vector<device_number>& devices() const noexcept { return order_; }

    void clear() noexcept {
        set_.clear();
        order_.clear();
    }

private:
    std::unordered_set<device_number> set_;
    std::vector<device_number> order_;
};

} // namespace atomcloud::detail

#endif
