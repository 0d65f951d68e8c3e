// Presence: the registry's transitions (socket-free) and the driver that seeds it over REST.
#ifndef ATOMCLOUD_IMPL_PRESENCE_IPP
#define ATOMCLOUD_IMPL_PRESENCE_IPP

#include <atomcloud/detail/stored_handler.hpp>
#include <atomcloud/presence.hpp>

#include <boost/core/span.hpp>

namespace atomcloud {

const char* to_string(presence_source s) noexcept {
    return s == presence_source::seed ? "seed" : "device_event";
}

// ----------------------------------------------------------------------------------------
// presence_registry

namespace detail {
inline bool same_state(const device_state& a, const device_state& b) noexcept {
    return a.state == b.state && a.raw == b.raw;
}
} // namespace detail

void presence_registry::begin_seed() {
    touched_.clear();
    seeding_ = true;
}

void presence_registry::cancel_seed() noexcept {
    touched_.clear();
    seeding_ = false;
}

std::vector<presence_change> presence_registry::apply_seed(std::vector<device_presence> devices) {
    std::vector<presence_change> changes;
    for (auto& d : devices) {
        const device_presence* old = find(d.info.number);
        auto t = touched_.find(d.info.number);
        if (t != touched_.end()) { // an event is newer than the seed's answer
            d.state = t->second.first;
            d.since = t->second.second;
        }
        if (old && detail::same_state(old->state, d.state)) {
            d.since = old->since;
            continue;
        }
        const device_state before = old ? old->state : device_state{};
        if (!old && d.state.state == connection_state::unknown && d.state.raw.empty())
            continue;
        changes.push_back(
            {d.info.number, before, d.state, d.since,
             t != touched_.end() ? presence_source::device_event : presence_source::seed});
    }
    devices_ = std::move(devices);
    index_.clear();
    for (std::size_t i = 0; i < devices_.size(); ++i)
        index_.emplace(devices_[i].info.number, i);
    touched_.clear();
    seeding_ = false;
    seeded_ = true;
    return changes;
}

std::optional<presence_change> presence_registry::apply(const event& ev,
                                                        std::chrono::system_clock::time_point now) {
    device_state next;
    std::string number;
    if (const auto* c = std::get_if<device_connected>(&ev)) {
        next = device_state{connection_state::connected, "connected"};
        number = c->device.str();
    } else if (const auto* d = std::get_if<device_disconnected>(&ev)) {
        next = device_state{connection_state::disconnected, "disconnected"};
        number = d->device.str();
    } else {
        return std::nullopt;
    }
    if (seeding_)
        touched_.insert_or_assign(number, std::make_pair(next, now));
    auto it = index_.find(number);
    if (it == index_.end())
        return std::nullopt;
    device_presence& p = devices_[it->second];
    if (detail::same_state(p.state, next))
        return std::nullopt;
    presence_change change{number, p.state, next, now, presence_source::device_event};
    p.state = std::move(next);
    p.since = now;
    return change;
}

const device_presence* presence_registry::find(std::string_view number) const noexcept {
    auto it = index_.find(number);
    return it == index_.end() ? nullptr : &devices_[it->second];
}

// ----------------------------------------------------------------------------------------
// presence_impl

namespace detail {

class presence_impl : public std::enable_shared_from_this<presence_impl> {
public:
    presence_impl(rest_client& api, session& s, std::int64_t org_id, presence_options opts)
        : api_(&api), session_(&s), ex_(s.get_executor()), org_(org_id), opts_(std::move(opts)) {}

    void seed(seed_handler h) {
        stored_handler<void(error_code)> waiter(std::move(h), ex_);
        if (stopped_)
            return waiter.post(ex_, boost::asio::error::operation_aborted);
        if (running_) {
            next_.push_back(std::move(waiter));
            again_ = true;
            return;
        }
        current_.push_back(std::move(waiter));
        start();
    }

    void on_event(const event& ev) {
        if (stopped_)
            return;
        if (std::holds_alternative<session_connected>(ev)) {
            if (running_)
                again_ = true;
            else
                start();
            return;
        }
        if (auto change = registry_.apply(ev, std::chrono::system_clock::now()))
            notify(*change);
    }

    void shutdown() noexcept {
        stopped_ = true;
        api_ = nullptr;
        session_ = nullptr;
        try {
            for (auto* list : {&current_, &next_})
                for (auto& w : *list)
                    w.post(ex_, boost::asio::error::operation_aborted);
        } catch (...) {
        }
        current_.clear();
        next_.clear();
    }

    const presence_registry& registry() const noexcept { return registry_; }

private:
    void notify(const presence_change& c) {
        if (opts_.on_change)
            opts_.on_change(c);
    }

    void start() {
        running_ = true;
        again_ = false;
        found_.clear();
        failed_ = {};
        registry_.begin_seed();
        const auto gen = ++generation_;
        if (!opts_.groups.empty())
            return list_group(opts_.groups, 0, gen);
        api_->async_list_groups(
            org_, [weak = weak_from_this(), gen](error_code ec, std::vector<group> groups) {
                auto self = weak.lock();
                if (!self || !self->current(gen))
                    return;
                if (ec)
                    return self->end(ec);
                std::vector<std::int64_t> ids;
                for (const auto& g : groups)
                    ids.push_back(g.id);
                self->list_group(std::move(ids), 0, gen);
            });
    }

    bool current(unsigned gen) const noexcept { return !stopped_ && gen == generation_; }

    void list_group(std::vector<std::int64_t> groups, std::size_t i, unsigned gen) {
        if (i == groups.size())
            return subscribe(gen);
        const auto group_id = groups[i];
        api_->async_list_devices(org_, group_id,
                                 [weak = weak_from_this(), groups = std::move(groups), i, gen,
                                  group_id](error_code ec, std::vector<device> devices) mutable {
                                     auto self = weak.lock();
                                     if (!self || !self->current(gen))
                                         return;
                                     if (ec)
                                         return self->end(ec);
                                     for (auto& d : devices) {
                                         device_presence p;
                                         p.info = std::move(d);
                                         p.group_id = group_id;
                                         self->found_.push_back(std::move(p));
                                     }
                                     self->list_group(std::move(groups), i + 1, gen);
                                 });
    }

    void subscribe(unsigned gen) {
        std::vector<device_number> numbers;
        if (opts_.subscribe)
            for (const auto& d : found_)
                if (d.info.type != device_type::nbiot)
                    if (auto n = d.info.as_device_number())
                        numbers.push_back(*n);
        if (numbers.empty())
            return read_states(gen);
        session_->async_subscribe(boost::span<const device_number>(numbers),
                                  [weak = weak_from_this(), gen](const error_code&) {
                                      auto self = weak.lock();
                                      if (self && self->current(gen))
                                          self->read_states(gen);
                                  });
    }

    void read_states(unsigned gen) {
        if (found_.empty())
            return end({});
        states_left_ = found_.size();
        for (std::size_t i = 0; i < found_.size(); ++i) {
            api_->async_device_state(
                org_, found_[i].info.id,
                [weak = weak_from_this(), gen, i](error_code ec, device_state st) {
                    auto self = weak.lock();
                    if (!self || !self->current(gen))
                        return;
                    if (ec) {
                        if (!self->failed_)
                            self->failed_ = ec;
                    } else {
                        self->found_[i].state = std::move(st);
                        self->found_[i].since = std::chrono::system_clock::now();
                    }
                    if (--self->states_left_ == 0)
                        self->end(self->failed_);
                });
        }
    }

    void end(error_code ec) {
        running_ = false;
        if (ec) {
            registry_.cancel_seed();
        } else {
            for (const auto& c : registry_.apply_seed(std::move(found_)))
                notify(c);
        }
        found_.clear();
        if (stopped_)
            return;
        if (opts_.on_seeded)
            opts_.on_seeded(ec);
        if (stopped_)
            return;
        auto done = std::move(current_);
        current_.clear();
        for (auto& w : done)
            w.post(ex_, ec);
        if (again_) {
            current_ = std::move(next_);
            next_.clear();
            start();
        }
    }

    rest_client* api_;
    session* session_;
    boost::asio::any_io_executor ex_;
    std::int64_t org_;
    presence_options opts_;
    presence_registry registry_;
    std::vector<stored_handler<void(error_code)>> current_, next_;
    std::vector<device_presence> found_;
    std::size_t states_left_ = 0;
    error_code failed_;
    unsigned generation_ = 0;
    bool running_ = false;
    bool again_ = false;
    bool stopped_ = false;
};

std::shared_ptr<presence_impl> make_presence_impl(rest_client& api, session& s, std::int64_t org_id,
                                                  presence_options opts) {
    return std::make_shared<presence_impl>(api, s, org_id, std::move(opts));
}

void presence_shutdown(presence_impl& impl) noexcept {
    impl.shutdown();
}

void presence_on_event(presence_impl& impl, const event& ev) {
    impl.on_event(ev);
}

const presence_registry& presence_get_registry(const presence_impl& impl) noexcept {
    return impl.registry();
}

void presence_seed(const std::shared_ptr<presence_impl>& impl, seed_handler h) {
    impl->seed(std::move(h));
}

} // namespace detail
} // namespace atomcloud

#endif
