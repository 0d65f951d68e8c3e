// The receive path of the session, without sockets: WebSocket messages are read straight
// into blocks of memory that the pending event_batch then owns, decoded in place, and
// turned into events whose payloads view those blocks. Internal.
//
// event_arena is a DynamicBuffer (Asio's v1 model, what beast::websocket::stream::async_read
// takes) over "the message being received": prepare() hands out space at the end of the
// current block, commit() appends, and finish_message() decodes the bytes and appends the
// event to a batch, which from then on shares the block.
//
// Blocks never move or grow, so the views stay valid however the batch is moved. A batch
// handed to the application while a read is in progress still shares the current block
// with the arena: the read writes past the end of everything the batch views, and the
// block lives until both let go of it (shared ownership; the counts are atomic, so the
// application may release its batch on any thread). In the steady state nothing is
// allocated per message: a block of block_size bytes holds many messages, and blocks and
// event lists given back with recycle() are reused.
#ifndef ATOMCLOUD_DETAIL_EVENT_ARENA_HPP
#define ATOMCLOUD_DETAIL_EVENT_ARENA_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/events.hpp>

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace atomcloud::detail {

/// A fixed-size block of received bytes. Never reallocated.
struct arena_block {
    explicit arena_block(std::size_t n) : data(new std::uint8_t[n]), capacity(n) {}
    std::unique_ptr<std::uint8_t[]>
        data; // uninitialised on purpose: every byte read is written first
    std::size_t capacity;
};

/// Builds event batches from received messages. See the file comment.
class event_arena {
public:
    using const_buffers_type = boost::asio::const_buffer;
    using mutable_buffers_type = boost::asio::mutable_buffer;

    /// The default size of a block.
    static constexpr std::size_t default_block_size = 64 * 1024;
    /// Blocks and event lists kept for reuse.
    static constexpr std::size_t max_free_blocks = 4;

    /// `max_message_size` bounds one message (prepare() throws std::length_error beyond
    /// it, which Beast reports as buffer_overflow); a message larger than `block_size`
    /// gets a block of its own.
    ATOMCLOUD_DECL explicit event_arena(std::size_t max_message_size,
                                        std::size_t block_size = default_block_size);

    // --- DynamicBuffer (v1) over the message being received ---

    /// Bytes of the current message received so far.
    std::size_t size() const noexcept { return size_; }
    std::size_t max_size() const noexcept { return max_message_; }
    ATOMCLOUD_DECL std::size_t capacity() const noexcept;
    ATOMCLOUD_DECL const_buffers_type data() const noexcept;
    /// Space for `n` more bytes of the current message, at the end of the current block
    /// (moving the partial message to a fresh block when it does not fit).
    ATOMCLOUD_DECL mutable_buffers_type prepare(std::size_t n);
    ATOMCLOUD_DECL void commit(std::size_t n) noexcept;
    ATOMCLOUD_DECL void consume(std::size_t n) noexcept;

    // --- message boundaries ---

    /// The current message (what data() holds), as bytes.
    bytes_view message() const noexcept {
        return bytes_view(static_cast<const std::uint8_t*>(data().data()), size_);
    }

    /// Decodes the current message (a text message when `text`) and appends its event to
    /// `batch`: device_connected/disconnected, device_message, nbiot_message, or a
    /// protocol_error for a text message or a malformed frame. The batch then shares the
    /// block of the message when the event views it. Starts the next message.
    ATOMCLOUD_DECL void finish_message(event_batch& batch, bool text);

    /// Forgets the bytes of an unfinished message (the read failed).
    void discard_message() noexcept {
        size_ = 0;
        prepared_ = 0;
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
    /// The block the current message is written to (for tests).
    const arena_block* current_block() const noexcept { return cur_.get(); }

private:
    ATOMCLOUD_DECL void relocate(std::size_t needed);
    ATOMCLOUD_DECL std::shared_ptr<arena_block> take_block(std::size_t needed);

    std::size_t max_message_;
    std::size_t block_size_;
    std::shared_ptr<arena_block> cur_;
    std::size_t start_ = 0;    // offset of the current message in cur_
    std::size_t size_ = 0;     // committed bytes of the current message
    std::size_t prepared_ = 0; // bytes handed out by the last prepare()
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
