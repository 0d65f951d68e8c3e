#ifndef ATOMCLOUD_IMPL_EVENT_ARENA_IPP
#define ATOMCLOUD_IMPL_EVENT_ARENA_IPP

#include <atomcloud/detail/event_arena.hpp>
#include <atomcloud/frame.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace atomcloud::detail {

ATOMCLOUD_DECL event_arena::event_arena(std::size_t max_message_size, std::size_t block_size)
    : max_message_(max_message_size), block_size_(std::max<std::size_t>(block_size, 4096)) {
}

ATOMCLOUD_DECL std::size_t event_arena::capacity() const noexcept {
    return cur_ ? cur_->capacity - start_ : 0;
}

ATOMCLOUD_DECL event_arena::const_buffers_type event_arena::data() const noexcept {
    return cur_ ? const_buffers_type(cur_->data.get() + start_, size_) : const_buffers_type();
}

ATOMCLOUD_DECL event_arena::mutable_buffers_type event_arena::prepare(std::size_t n) {
    if (n > max_message_ - size_)
        throw std::length_error("atomcloud: message exceeds the size limit");
    const std::size_t needed = size_ + n;
    if (!cur_ || cur_->capacity - start_ < needed)
        relocate(needed);
    prepared_ = n;
    return mutable_buffers_type(cur_->data.get() + start_ + size_, n);
}

ATOMCLOUD_DECL void event_arena::commit(std::size_t n) noexcept {
    size_ += std::min(n, prepared_);
    prepared_ = 0;
}

ATOMCLOUD_DECL void event_arena::consume(std::size_t n) noexcept {
    n = std::min(n, size_);
    start_ += n;
    size_ -= n;
}

// The current message does not fit behind start_: move it to the front of a block
// nothing else refers to.
ATOMCLOUD_DECL void event_arena::relocate(std::size_t needed) {
    if (cur_ && cur_.use_count() == 1 && cur_->capacity >= needed) {
        // No batch shares the block (its events carried no payload, or the batches were
        // released): start over at its beginning.
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

ATOMCLOUD_DECL void event_arena::finish_message(event_batch& batch, bool text) {
    const bytes_view msg = message();
    bool keeps_bytes = true;
    if (text) {
        batch.events_.push_back(
            protocol_error{make_error_code(client_errc::unexpected_text_frame), msg});
    } else {
        error_code ec;
        auto f = decode_frame(msg, frame_origin::cloud, ec);
        if (!f) {
            batch.events_.push_back(protocol_error{ec, msg});
        } else if (auto* data = std::get_if<device_data_frame>(&*f)) {
            batch.events_.push_back(device_message{data->device, data->payload});
        } else if (auto* nb = std::get_if<nbiot_data_frame>(&*f)) {
            batch.events_.push_back(nbiot_message{nb->device, nb->payload});
        } else if (auto* on = std::get_if<device_connected_frame>(&*f)) {
            batch.events_.push_back(device_connected{on->device});
            keeps_bytes = false;
        } else {
            // decode_frame with frame_origin::cloud yields only the four cloud types.
            batch.events_.push_back(
                device_disconnected{std::get<device_disconnected_frame>(*f).device});
            keeps_bytes = false;
        }
    }
    if (keeps_bytes && size_ != 0) {
        if (batch.storage_.empty() || batch.storage_.back() != cur_)
            batch.storage_.push_back(cur_);
        batch.message_bytes_ += size_;
        start_ += size_;
    }
    size_ = 0;
    prepared_ = 0;
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
            free_.size() < max_free_blocks)
            free_.push_back(std::move(b));
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
