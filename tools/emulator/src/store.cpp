// What devices received from applications and what they sent: bounded per-device logs,
// read from any thread.
#include "cloud.hpp"

namespace atomcloud::emulator::detail {

void cloud::record_received(std::size_t device, bytes_view payload) {
    const auto& dev = fx_.devices[device];
    if (!states_[device].connected) {
        log(log_level::info,
            "data for device " + dev.number + " dropped: the device is not connected");
        return;
    }
    received_message m{now(), bytes(payload.begin(), payload.end())};
    {
        std::lock_guard lock(received_mutex_);
        auto& st = states_[device];
        st.received_bytes += m.payload.size();
        st.received.push_back(std::move(m));
        while (!st.received.empty() && (st.received.size() > opts_.max_received_per_device ||
                                        st.received_bytes > opts_.max_received_bytes_per_device)) {
            st.received_bytes -= st.received.front().payload.size();
            st.received.pop_front();
        }
    }
    received_cv_.notify_all();
    if (logs(log_level::debug))
        log(log_level::debug,
            "device " + dev.number + " received " + std::to_string(payload.size()) + " bytes");
}

std::vector<received_message> cloud::received(std::size_t device) const {
    std::lock_guard lock(received_mutex_);
    const auto& q = states_[device].received;
    return {q.begin(), q.end()};
}

bool cloud::wait_received(std::size_t device, std::size_t count,
                          std::chrono::milliseconds timeout) const {
    std::unique_lock lock(received_mutex_);
    return received_cv_.wait_for(lock, timeout,
                                 [&] { return states_[device].received.size() >= count; });
}

void cloud::clear_received(std::size_t device) {
    std::lock_guard lock(received_mutex_);
    states_[device].received.clear();
    states_[device].received_bytes = 0;
}

void cloud::record_sent(std::size_t device, sent_time t, bytes_view payload) {
    std::lock_guard lock(sent_mutex_);
    auto& st = states_[device];
    st.sent_bytes += payload.size();
    st.sent.push_back(sent_message{t, bytes(payload.begin(), payload.end())});
    while (!st.sent.empty() && (st.sent.size() > opts_.max_sent_log_per_device ||
                                st.sent_bytes > opts_.max_sent_log_bytes_per_device)) {
        st.sent_bytes -= st.sent.front().payload.size();
        st.sent.pop_front();
        ++st.sent_dropped;
    }
}

std::vector<sent_message> cloud::sent(std::size_t device) const {
    std::lock_guard lock(sent_mutex_);
    const auto& q = states_[device].sent;
    return {q.begin(), q.end()};
}

std::size_t cloud::sent_count(std::size_t device) const {
    std::lock_guard lock(sent_mutex_);
    return states_[device].sent.size();
}

std::size_t cloud::sent_dropped(std::size_t device) const {
    std::lock_guard lock(sent_mutex_);
    return states_[device].sent_dropped;
}

void cloud::clear_sent(std::size_t device) {
    std::lock_guard lock(sent_mutex_);
    auto& st = states_[device];
    st.sent.clear();
    st.sent_bytes = 0;
    st.sent_dropped = 0;
}

} // namespace atomcloud::emulator::detail
