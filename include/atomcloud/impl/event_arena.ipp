#ifndef ATOMCLOUD_IMPL_EVENT_ARENA_IPP
#define ATOMCLOUD_IMPL_EVENT_ARENA_IPP

#include <atomcloud/detail/event_arena.hpp>
#include <atomcloud/frame.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace atomcloud::detail {

ATOMCLOUD_DECL event_arena::event_arena(std::size_t block_size)
    : block_size_(std::max<std::size_t>(block_size, 2 * min_read)) {
    free_.reserve(max_free_blocks); // recycle() is noexcept: it must not allocate
}

ATOMCLOUD_DECL boost::asio::mutable_buffer event_arena::prepare(std::size_t wanted) {
    const std::size_t room = std::max(min_read, wanted > size_ ? wanted - size_ : 0);
    if (!cur_ || cur_->capacity - start_ - size_ < room)
        relocate(size_ + room);
    return {cur_->data.get() + start_ + size_, cur_->capacity - start_ - size_};
}

// The region does not have `needed` bytes of room behind start_: move it to the front of
// a block nothing else refers to.
ATOMCLOUD_DECL void event_arena::relocate(std::size_t needed) {
    if (cur_ && cur_.use_count() == 1 && cur_->capacity >= needed) {
        // No batch shares the block: start over at its beginning. The batch that let go of
        // it last may have done so on another thread: the fence orders its reads of the
        // block before the writes here (use_count() is a relaxed load).
        std::atomic_thread_fence(std::memory_order_acquire);
        if (size_ != 0 && start_ != 0)
            std::memmove(cur_->data.get(), cur_->data.get() + start_, size_);
        start_ = 0;
        return;
    }
    auto next = take_block(needed);
    if (size_ != 0)
        std::memcpy(next->data.get(), cur_->data.get() + start_, size_);
    cur_ = std::move(next);
    start_ = 0;
}

ATOMCLOUD_DECL std::shared_ptr<arena_block> event_arena::take_block(std::size_t needed) {
    if (needed <= block_size_ && !free_.empty()) {
        auto b = std::move(free_.back());
        free_.pop_back();
        return b;
    }
    return std::make_shared<arena_block>(std::max(needed, block_size_));
}

ATOMCLOUD_DECL message_outcome event_arena::append(event_batch& batch, bytes_view msg, bool text,
                                                   const receive_filter& filter,
                                                   std::optional<device_number>* device) {
    message_outcome outcome = message_outcome::device;
    bool keeps_bytes = true;
    auto subscribed = [&filter, device](const device_number& d) {
        if (!filter.subscriptions || filter.subscriptions->contains(d))
            return true;
        if (device)
            *device = d;
        return false;
    };
    if (text) {
        batch.events_.push_back(
            protocol_error{make_error_code(client_errc::unexpected_text_frame), msg});
        outcome = message_outcome::error;
    } else {
        error_code ec;
        auto f = decode_frame(msg, frame_origin::cloud, ec, filter.nbiot_width);
        if (!f) {
            batch.events_.push_back(protocol_error{ec, msg});
            outcome = message_outcome::error;
        } else {
            switch (type_of(*f)) {
            case frame_type::device_data: {
                const auto& data = std::get<device_data_frame>(*f);
                if (!subscribed(data.device))
                    return message_outcome::unsubscribed;
                batch.events_.push_back(device_message{data.device, data.payload});
                break;
            }
            case frame_type::nbiot_data: {
                const auto& nb = std::get<nbiot_data_frame>(*f);
                batch.events_.push_back(nbiot_message{nb.device, nb.payload});
                break;
            }
            case frame_type::device_connected: {
                const auto& on = std::get<device_connected_frame>(*f);
                if (!subscribed(on.device))
                    return message_outcome::unsubscribed;
                batch.events_.push_back(device_connected{on.device});
                keeps_bytes = false;
                break;
            }
            case frame_type::device_disconnected: {
                const auto& off = std::get<device_disconnected_frame>(*f);
                if (!subscribed(off.device))
                    return message_outcome::unsubscribed;
                batch.events_.push_back(device_disconnected{off.device});
                keeps_bytes = false;
                break;
            }
            case frame_type::subscribe:
            case frame_type::unsubscribe:
            case frame_type::send:
            case frame_type::nbiot_send:
                // decode_frame with frame_origin::cloud never yields these.
                batch.events_.push_back(
                    protocol_error{make_error_code(client_errc::wrong_direction), msg});
                outcome = message_outcome::error;
                break;
            }
        }
    }
    if (keeps_bytes && !msg.empty()) {
        if (batch.storage_.empty() || batch.storage_.back() != cur_)
            batch.storage_.push_back(cur_);
        batch.message_bytes_ += msg.size();
    }
    return outcome;
}

ATOMCLOUD_DECL void event_arena::trim() noexcept {
    if (cur_ && size_ == 0) {
        cur_.reset();
        start_ = 0;
    }
    free_.clear();
}

ATOMCLOUD_DECL void event_arena::reset_batch(event_batch& batch) {
    batch.events_.clear();
    batch.storage_.clear();
    batch.message_bytes_ = 0;
    if (batch.events_.capacity() == 0) {
        if (spare_events_.capacity() != 0)
            batch.events_.swap(spare_events_);
        else
            batch.events_.reserve(32);
    }
    if (batch.storage_.capacity() == 0)
        batch.storage_.swap(spare_storage_);
}

ATOMCLOUD_DECL void event_arena::recycle(event_batch&& batch) noexcept {
    for (auto& b : batch.storage_) {
        // use_count() == 1: only this batch refers to the block; no other copy can appear
        // because the session is the only one creating references.
        if (b != cur_ && b.use_count() == 1 && b->capacity == block_size_ &&
            free_.size() < max_free_blocks) {
            std::atomic_thread_fence(std::memory_order_acquire); // as in relocate()
            free_.push_back(std::move(b));
        }
    }
    batch.storage_.clear();
    batch.events_.clear();
    batch.message_bytes_ = 0;
    if (batch.events_.capacity() > spare_events_.capacity())
        spare_events_.swap(batch.events_);
    if (batch.storage_.capacity() > spare_storage_.capacity())
        spare_storage_.swap(batch.storage_);
}

} // namespace atomcloud::detail

#endif
