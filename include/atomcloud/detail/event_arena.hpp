// The receive path of the session, without sockets: bytes are read straight into blocks of
// memory, the WebSocket frame reader (ws_frame.hpp) finds the messages in them in place,
// and each message is decoded into an event whose payload views the block. The pending
// event_batch then shares the block. Internal.
//
// The "region" is what the frame reader has not released yet: the frame (or fragmented
// message) in progress and the bytes received after it. Reads append to the region;
// prepare() makes room, moving the region to the front of its block when nothing else
// refers to the block, or to a fresh block otherwise. Released bytes of messages stay
// where they are, owned by the batches whose events view them.
//
// Blocks never move or grow, so the views stay valid however the batch is moved. The
// block lives until the arena and every batch let go of it (shared ownership; the counts
// are atomic, so the application may release its batch on any thread). In the steady
// state nothing is allocated per message: a block of block_size bytes holds many
// messages, and blocks and event lists given back with recycle() are reused.
#ifndef ATOMCLOUD_DETAIL_EVENT_ARENA_HPP
#define ATOMCLOUD_DETAIL_EVENT_ARENA_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/subscription_tracker.hpp>
#include <atomcloud/events.hpp>

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace atomcloud::detail {

/// A fixed-size block of received bytes. Never reallocated.
struct arena_block {
    explicit arena_block(std::size_t n) : data(new std::uint8_t[n]), capacity(n) {}
    std::unique_ptr<std::uint8_t[]>
        data; // uninitialised on purpose: every byte read is written first
    std::size_t capacity;
};

/// Which messages become events.
struct receive_filter {
    /// Device events and messages (0x04, 0x05, 0x06) of devices not in this set are not
    /// delivered; nullptr delivers all. NB-IoT messages (0x08) cannot be subscribed to
    /// (0x01 carries a 20-byte number) and are always delivered.
    const subscription_tracker* subscriptions = nullptr;
    /// Width of the NB-IoT id field.
    std::size_t nbiot_width = 37;
};

/// What append() did with a message.
enum class message_outcome : std::uint8_t {
    device,       ///< a device's event or message, delivered
    error,        ///< not a valid cloud frame (or a text message): a protocol_error event
    unsubscribed, ///< a device's frame of a device not subscribed: dropped
};

/// Builds event batches from received bytes. See the file comment.
class event_arena {
public:
    /// The default size of a block.
    static constexpr std::size_t default_block_size = 64 * 1024;
    /// A read gets at least this much room after the region.
    static constexpr std::size_t min_read = 4096;
    /// Blocks and event lists kept for reuse.
    static constexpr std::size_t max_free_blocks = 4;

    ATOMCLOUD_DECL explicit event_arena(std::size_t block_size = default_block_size);

    // --- the region ---

    std::uint8_t* region() noexcept { return cur_ ? cur_->data.get() + start_ : nullptr; }
    std::size_t region_size() const noexcept { return size_; }

    /// Room to read into after the region: at least min_read bytes, and enough for the
    /// region to reach `wanted` bytes (what the frame reader needs to make progress).
    /// Moves the region (invalidating region()) when the block has no such room.
    ATOMCLOUD_DECL boost::asio::mutable_buffer prepare(std::size_t wanted);
    /// `n` bytes were read into the room prepare() gave.
    void commit(std::size_t n) noexcept { size_ += n; }
    /// The frame reader released the first `n` bytes of the region.
    void release(std::size_t n) noexcept {
        start_ += n;
        size_ -= n;
    }

    /// Decodes `message` (a complete WebSocket message inside the region; `text` for a
    /// text message) and appends its event to `batch`: device_connected / disconnected,
    /// device_message, nbiot_message, or a protocol_error for a text message or a
    /// malformed frame. Message events share the block with the batch. A device's frame
    /// that `filter` rejects is dropped; `*device` then tells which device.
    ATOMCLOUD_DECL message_outcome append(event_batch& batch, bytes_view message, bool text,
                                          const receive_filter& filter,
                                          std::optional<device_number>* device = nullptr);

    /// Gives memory back while the link is idle: the current block if the region is empty
    /// and no batch shares it, and the blocks kept for reuse.
    ATOMCLOUD_DECL void trim() noexcept;

    /// Forgets the region (the link is gone).
    void reset_region() noexcept {
        start_ += size_;
        size_ = 0;
    }

    // --- batches ---

    /// Empties `batch` for reuse as the pending batch, giving it a recycled event list if
    /// one is available.
    ATOMCLOUD_DECL void reset_batch(event_batch& batch);

    /// Takes back the storage of a batch the application is done with: its event list
    /// and the blocks nothing else refers to. `batch` is left empty.
    ATOMCLOUD_DECL void recycle(event_batch&& batch) noexcept;

    /// Blocks held for reuse (for tests).
    std::size_t free_blocks() const noexcept { return free_.size(); }
    /// The block the region is in (for tests).
    const arena_block* current_block() const noexcept { return cur_.get(); }

private:
    ATOMCLOUD_DECL void relocate(std::size_t needed);
    ATOMCLOUD_DECL std::shared_ptr<arena_block> take_block(std::size_t needed);

    std::size_t block_size_;
    std::shared_ptr<arena_block> cur_;
    std::size_t start_ = 0; // offset of the region in cur_
    std::size_t size_ = 0;  // bytes in the region
    std::vector<std::shared_ptr<arena_block>> free_;
    std::vector<event> spare_events_;
    std::vector<std::shared_ptr<arena_block>> spare_storage_;
};

/// Access to an event_batch's insides, for the session (and tests).
struct event_batch_access {
    static void push(event_batch& b, event ev) { b.events_.push_back(std::move(ev)); }
    static std::size_t blocks(const event_batch& b) noexcept { return b.storage_.size(); }
};

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/event_arena.ipp>
#endif

#endif
