// The fan-out: application sessions attach, subscribe and send; device events and data
// go to the sessions that should get them.
#include "cloud.hpp"

#include <atomcloud/frame.hpp>

#include <algorithm>
#include <stdexcept>

namespace atomcloud::emulator::detail {

void cloud::attach(app_link& link) {
    if (link.attached_)
        return;
    link.attached_ = true;
    org_links_[link.org_].push_back(&link);
    ++links_;
}

void cloud::detach(app_link& link) noexcept {
    if (!link.attached_)
        return;
    link.attached_ = false;
    auto& org = org_links_[link.org_];
    org.erase(std::remove(org.begin(), org.end(), &link), org.end());
    for (auto d : link.subscriptions_) {
        auto& subs = states_[d].subscribers;
        subs.erase(std::remove(subs.begin(), subs.end(), &link), subs.end());
    }
    link.subscriptions_.clear();
    --links_;
}

std::size_t cloud::subscriptions() const noexcept {
    std::size_t n = 0;
    for (const auto& s : states_)
        n += s.subscribers.size();
    return n;
}

error_code cloud::on_app_message(app_link& link, bytes_view message) {
    error_code ec;
    auto f = decode_frame(message, frame_origin::app, ec);
    if (!f)
        return ec;

    auto ignore = [&](std::string_view what, std::string_view number) {
        if (logs(log_level::info))
            log(log_level::info, std::string(what) + " for device " + std::string(number) +
                                     " ignored: not a device of org " +
                                     std::to_string(fx_.orgs[link.org_].id));
    };

    switch (type_of(*f)) {
    case frame_type::subscribe: {
        const auto& number = std::get<subscribe_frame>(*f).device;
        const device_entry* dev = org_device(link.org_, number.view());
        if (!dev || dev->kind == device_kind::nbiot) {
            ignore("subscribe (0x01)", number.view());
            break;
        }
        const auto index = static_cast<std::size_t>(dev - fx_.devices.data());
        auto& subs = link.subscriptions_;
        if (std::find(subs.begin(), subs.end(), index) == subs.end()) {
            subs.push_back(index);
            states_[index].subscribers.push_back(&link);
        }
        log(log_level::debug, "subscribed to " + dev->number);
        break;
    }
    case frame_type::unsubscribe: {
        const auto& number = std::get<unsubscribe_frame>(*f).device;
        const device_entry* dev = org_device(link.org_, number.view());
        if (!dev) {
            ignore("unsubscribe (0x02)", number.view());
            break;
        }
        const auto index = static_cast<std::size_t>(dev - fx_.devices.data());
        auto& subs = link.subscriptions_;
        subs.erase(std::remove(subs.begin(), subs.end(), index), subs.end());
        auto& links = states_[index].subscribers;
        links.erase(std::remove(links.begin(), links.end(), &link), links.end());
        log(log_level::debug, "unsubscribed from " + dev->number);
        break;
    }
    case frame_type::send: {
        const auto& s = std::get<send_frame>(*f);
        const device_entry* dev = org_device(link.org_, s.device.view());
        if (!dev || dev->kind == device_kind::nbiot) {
            ignore("send (0x03)", s.device.view());
            break;
        }
        record_received(static_cast<std::size_t>(dev - fx_.devices.data()), s.payload);
        break;
    }
    case frame_type::nbiot_send: {
        const auto& s = std::get<nbiot_send_frame>(*f);
        const device_entry* dev = org_device(link.org_, s.device.view());
        if (!dev || dev->kind != device_kind::nbiot) {
            ignore("NB-IoT send (0x07)", s.device.view());
            break;
        }
        record_received(static_cast<std::size_t>(dev - fx_.devices.data()), s.payload);
        break;
    }
    default: // decode_frame(frame_origin::app) only returns the four app types
        break;
    }
    return {};
}

void cloud::publish_event(std::size_t device, bool connected) {
    auto& st = states_[device];
    if (!st.number || st.subscribers.empty()) // NB-IoT: no 37-byte event frames exist
        return;
    auto buf = std::make_shared<bytes>();
    if (connected)
        encode_frame(device_connected_frame{*st.number}, *buf);
    else
        encode_frame(device_disconnected_frame{*st.number}, *buf);
    std::shared_ptr<const bytes> frame = std::move(buf);
    for (auto* l : st.subscribers)
        l->deliver(frame);
}

void cloud::device_send(std::size_t device, bytes_view payload) {
    auto& st = states_[device];
    const auto& dev = fx_.devices[device];
    if (!st.connected)
        throw std::logic_error("device " + dev.number +
                               " is not connected: connect() it before it sends");
    if (payload.size() > opts_.max_inbound_message_size)
        throw std::logic_error("payload of " + std::to_string(payload.size()) +
                               " bytes is larger than the limit of " +
                               std::to_string(opts_.max_inbound_message_size));
    // The history keeps microseconds (its text has six digits at most), and a device's
    // times never go backwards, so that the history's order is the order of sending,
    // which is the order of the frames below.
    const auto clock_now = now();
    auto t = std::chrono::floor<std::chrono::microseconds>(clock_now);
    if (st.last_sent && t < *st.last_sent)
        t = *st.last_sent;
    st.last_sent = t;
    st.hist.add(time_point(t), bytes(payload.begin(), payload.end()), clock_now, limits_);
    record_sent(device, t, payload);

    if (st.nb_id) {
        auto& links = org_links_[dev.org];
        if (links.empty())
            return;
        auto buf = std::make_shared<bytes>();
        encode_frame(nbiot_data_frame{*st.nb_id, payload}, *buf);
        std::shared_ptr<const bytes> frame = std::move(buf);
        for (auto* l : links)
            l->deliver(frame);
    } else {
        if (st.subscribers.empty())
            return;
        auto buf = std::make_shared<bytes>();
        encode_frame(device_data_frame{*st.number, payload}, *buf);
        std::shared_ptr<const bytes> frame = std::move(buf);
        for (auto* l : st.subscribers)
            l->deliver(frame);
    }
}

} // namespace atomcloud::emulator::detail
