// Request / reply: the bookkeeping (socket-free) and the driver over a session.
#ifndef ATOMCLOUD_IMPL_REQUEST_IPP
#define ATOMCLOUD_IMPL_REQUEST_IPP

#include <atomcloud/detail/stored_handler.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/request.hpp>

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <optional>

namespace atomcloud {
namespace detail {

// ----------------------------------------------------------------------------------------
// request_book

std::size_t request_book::find(id_type id) const noexcept {
    for (std::size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].id == id)
            return i;
    return entries_.size();
}

bool request_book::add(id_type id, const stream_device& target, reply_predicate match) {
    bool may_start = true;
    if (ordering_ == request_ordering::serialise)
        for (const auto& e : entries_)
            may_start = may_start && e.target != target;
    entries_.push_back(
        entry{id, target, std::move(match), may_start ? phase::sending : phase::queued});
    return may_start;
}

void request_book::mark_sent(id_type id) noexcept {
    const auto i = find(id);
    if (i != entries_.size() && entries_[i].state == phase::sending)
        entries_[i].state = phase::sent;
}

request_book::outcome request_book::match(const stream_device& from, bytes_view payload) {
    outcome out;
    if (skip_heartbeats_ && is_heartbeat(payload))
        return out;
    for (const auto& e : entries_) {
        if (e.state == phase::queued || e.target != from)
            continue;
        if (!e.match || e.match(payload)) {
            out.answered = e.id;
            break;
        }
    }
    if (out.answered)
        out.start_next = remove(out.answered);
    return out;
}

request_book::id_type request_book::remove(id_type id) {
    const auto i = find(id);
    if (i == entries_.size())
        return 0;
    const bool was_active = entries_[i].state != phase::queued;
    const stream_device target = entries_[i].target;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    if (!was_active || ordering_ != request_ordering::serialise)
        return 0;
    for (auto& e : entries_) {
        if (e.target == target && e.state == phase::queued) {
            e.state = phase::sending;
            return e.id;
        }
    }
    return 0;
}

std::vector<request_book::id_type> request_book::sent() const {
    std::vector<id_type> out;
    for (const auto& e : entries_)
        if (e.state == phase::sent)
            out.push_back(e.id);
    return out;
}

std::vector<request_book::id_type> request_book::all() const {
    std::vector<id_type> out;
    for (const auto& e : entries_)
        out.push_back(e.id);
    return out;
}

bool request_book::active(id_type id) const noexcept {
    const auto i = find(id);
    return i != entries_.size() && entries_[i].state != phase::queued;
}

// ----------------------------------------------------------------------------------------
// requester_impl

class requester_impl : public std::enable_shared_from_this<requester_impl> {
public:
    requester_impl(session& s, const requester_options& opts)
        : session_(&s), ex_(s.get_executor()), opts_(opts),
          book_(opts.ordering, opts.skip_heartbeats) {}

    void start(const stream_device& target, bytes payload, request_params params,
               reply_handler handler) {
        const auto id = next_id_++;
        auto& op = ops_[id];
        op.handler = stored_handler<void(error_code, bytes)>(std::move(handler), ex_);
        op.target = target;
        op.payload = std::move(payload);
        op.timeout = params.timeout.count() > 0 ? params.timeout : opts_.default_timeout;
        auto slot = op.handler.slot();
        if (slot.is_connected()) {
            // Completed from a posted step: the slot is cleared on completion, which must
            // not happen inside its own handler.
            slot.assign([weak = weak_from_this(), id, ex = ex_](boost::asio::cancellation_type_t) {
                boost::asio::post(ex, [weak, id] {
                    if (auto self = weak.lock())
                        self->finish(id, boost::asio::error::operation_aborted, {});
                });
            });
        }
        if (book_.add(id, target, std::move(params.match)))
            launch(id);
    }

    bool on_event(const event& ev) {
        if (const auto* m = std::get_if<device_message>(&ev))
            return answer(stream_device(m->device), m->payload);
        if (const auto* nb = std::get_if<nbiot_message>(&ev))
            return answer(stream_device(nb->device), nb->payload);
        if (std::holds_alternative<session_disconnected>(ev) && opts_.fail_on_link_loss)
            for (const auto id : book_.sent())
                finish(id, client_errc::link_lost, {});
        return false;
    }

    void cancel_all() {
        // Nothing queued is sent meanwhile: every request goes.
        cancelling_ = true;
        for (const auto id : book_.all())
            finish(id, boost::asio::error::operation_aborted, {});
        cancelling_ = false;
    }

    void shutdown() noexcept {
        try {
            cancel_all();
        } catch (...) {
        }
        session_ = nullptr;
    }

    std::size_t pending() const noexcept { return book_.size(); }

private:
    struct op_state {
        stored_handler<void(error_code, bytes)> handler;
        std::optional<stream_device> target;
        bytes payload; // until it is handed to the session
        std::chrono::milliseconds timeout{0};
        std::unique_ptr<boost::asio::steady_timer> timer;
    };

    bool answer(const stream_device& from, bytes_view payload) {
        const auto out = book_.match(from, payload);
        if (!out.answered)
            return false;
        complete(out.answered, {}, bytes(payload.begin(), payload.end()));
        if (out.start_next)
            launch(out.start_next);
        return true;
    }

    // Removes the request from the book (starting the next one) and completes it.
    void finish(std::uint64_t id, error_code ec, bytes reply) {
        if (!book_.contains(id))
            return;
        const auto next = book_.remove(id);
        complete(id, ec, std::move(reply));
        if (next)
            launch(next);
    }

    void complete(std::uint64_t id, error_code ec, bytes reply) {
        auto it = ops_.find(id);
        if (it == ops_.end())
            return;
        op_state op = std::move(it->second);
        ops_.erase(it);
        if (op.timer)
            op.timer->cancel();
        op.handler.post(ex_, ec, std::move(reply));
    }

    void launch(std::uint64_t id) {
        auto it = ops_.find(id);
        if (it == ops_.end() || !session_ || cancelling_)
            return;
        op_state& op = it->second;
        auto weak = weak_from_this();
        op.timer = std::make_unique<boost::asio::steady_timer>(ex_, op.timeout);
        op.timer->async_wait([weak, id](const error_code& ec) {
            if (ec)
                return;
            if (auto self = weak.lock())
                self->finish(id, client_errc::reply_timeout, {});
        });
        const bytes payload = std::move(op.payload);
        auto on_sent = [weak, id](const error_code& ec) {
            auto self = weak.lock();
            if (!self)
                return;
            if (ec)
                self->finish(id, ec, {});
            else
                self->book_.mark_sent(id);
        };
        if (const auto* number = std::get_if<device_number>(&*op.target)) {
            // Every time (nothing is sent when already subscribed): the application may
            // have unsubscribed meanwhile.
            if (opts_.subscribe)
                session_->async_subscribe(*number, [](const error_code&) {});
            session_->async_send(*number, payload, std::move(on_sent));
        } else {
            session_->async_send_nbiot(std::get<nbiot_id>(*op.target), payload, std::move(on_sent));
        }
    }

    session* session_;
    boost::asio::any_io_executor ex_;
    requester_options opts_;
    request_book book_;
    std::map<std::uint64_t, op_state> ops_;
    std::uint64_t next_id_ = 1;
    bool cancelling_ = false;
};

std::shared_ptr<requester_impl> make_requester_impl(session& s, const requester_options& opts) {
    return std::make_shared<requester_impl>(s, opts);
}

void requester_shutdown(requester_impl& impl) noexcept {
    impl.shutdown();
}

void requester_cancel_all(requester_impl& impl) {
    impl.cancel_all();
}

bool requester_on_event(requester_impl& impl, const event& ev) {
    return impl.on_event(ev);
}

std::size_t requester_pending(const requester_impl& impl) noexcept {
    return impl.pending();
}

void requester_start(const std::shared_ptr<requester_impl>& impl, const stream_device& target,
                     bytes payload, request_params params, reply_handler handler) {
    impl->start(target, std::move(payload), std::move(params), std::move(handler));
}

} // namespace detail
} // namespace atomcloud

#endif
