// A gapless stream of devices' messages: live over the WebSocket session, and after every
// outage (and at start) the missed messages from the history API, each exactly once, in
// the order the cloud stored them.
//
//   atomcloud::stream st(io.get_executor(), cfg, org_id, {.skip_heartbeats = true});
//   st.add(atomcloud::device_number("18846494908532689575"));   // or st.add(saved_cursor)
//   co_spawn(io, st.async_run(), detached);
//   for (;;) {
//       auto batch = co_await st.async_receive();
//       for (const auto& ev : batch)
//           if (auto* m = std::get_if<atomcloud::stream_message>(&ev))
//               store(m->device, m->payload, m->origin, m->cloud_time);
//           else if (auto* g = std::get_if<atomcloud::stream_gap>(&ev))
//               report(*g);                      // the only way anything is ever missed
//       for (const auto& c : batch.cursors())
//           save(c.to_string());                 // with the messages, in one transaction
//   }
//
// THE GUARANTEE. For every device of the stream, the messages handed to the application
// are a subsequence of what the cloud stored for it, in the cloud's order, with no message
// twice. Every message the cloud stored from the stream's starting point on is delivered,
// except inside the windows of the stream_gap events: a gap is reported whenever the
// stream cannot be sure, and a message is missing only inside a reported gap. It never
// delivers a message twice to recover one that might be missing (when unsure it reports a
// gap instead of guessing). A process restarted with the cursors it saved (and that
// restarts within the history's retention) continues exactly after the last message it
// was handed.
//
// HOW. The platform keeps ~6 hours of each device's messages and has no acknowledgement;
// live 0x06 frames carry no time and identical payloads repeat. The stream therefore
//  - keeps, per device, an anchor: the last delivered message whose place in the history
//    is known exactly (cloud time to the microsecond, payload hash, rank among equal
//    ones), and the number of live messages delivered after it. While the link is up the
//    messages of a device are a contiguous run of its history (TCP loses nothing), so the
//    anchor and that count say exactly where delivery stopped;
//  - after each reconnect holds the device's live messages back, waits until a few arrive
//    (stream_options::settle_messages, or settle_time), then reads the history from the
//    anchor to now. The history's messages after the anchor and the count are the missed
//    ones (backfill); where the history's tail overlaps the held live messages is found by
//    matching their payload sequence, bounded by times: a live message cannot have been
//    stored before the subscription was sent, nor after it was received (local receive
//    times against cloud times, with a clock offset measured on earlier overlaps). Live
//    messages received before the history request was sent must be in the history.
//    Exactly one consistent overlap: backfill, then the held messages, then live. Several:
//    the largest (no duplicates) and a gap over the messages that might be missing.
//  - reports a gap when the anchor has left the retention (an outage longer than the
//    history keeps), the history needs more than max_pages pages, the held messages exceed
//    max_held_messages / max_held_bytes before the history could be read, the history API
//    fails permanently (e.g. an unknown device), or the history disagrees with what was
//    delivered (a cursor of another organisation, a changed history).
//
// Devices: DTU / WIFI / 4G devices by number (subscribed on the session); NB-IoT devices by
// id (their 0x08 messages reach every session of an organisation; the stream keeps those
// of the devices added, and backfills them from the history of the device number equal to
// their id, as the platform lists them).
//
// Thread safety: like session (the executor's thread or strand only).
#ifndef ATOMCLOUD_STREAM_HPP
#define ATOMCLOUD_STREAM_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/config.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/device_id.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/events.hpp>
#include <atomcloud/models.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/with_diagnostics.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace atomcloud {

/// A device of a stream: a DTU / WIFI / 4G device by number, or an NB-IoT device by id.
using stream_device = std::variant<device_number, nbiot_id>;

/// The device's number or id as text.
inline std::string_view device_text(const stream_device& d) noexcept {
    return std::visit([](const auto& x) { return x.view(); }, d);
}

/// How a message reached the application.
enum class message_origin {
    live,     ///< over the WebSocket link as the device sent it
    backfill, ///< from the history API, after an outage (or at start)
};

/// "live" or "backfill".
ATOMCLOUD_DECL const char* to_string(message_origin o) noexcept;

/// A device's message.
struct stream_message {
    stream_device device;
    /// The bytes; views the batch's storage.
    bytes_view payload;
    message_origin origin = message_origin::live;
    /// When the cloud stored it, when known: always for backfill; for live messages when
    /// the stream matched them with the history (the overlap after a reconnect).
    std::optional<packet_time> cloud_time;
    /// When this process received it (live), or received the history page (backfill).
    std::chrono::system_clock::time_point received_at;
};

/// Why a gap was reported.
enum class gap_reason {
    retention,         ///< the history no longer reaches back to the last delivered message
    too_many_pages,    ///< the missed messages span more than stream_options::max_pages
    held_overflow,     ///< live messages held during a backfill exceeded their limits
    history_error,     ///< the history API failed permanently (see stream_gap::ec)
    ambiguous_overlap, ///< the history and the live messages align in more than one way
    history_mismatch,  ///< the history disagrees with what was delivered (or the cursor)
};

/// "retention", "too_many_pages", "held_overflow", "history_error", "ambiguous_overlap"
/// or "history_mismatch".
ATOMCLOUD_DECL const char* to_string(gap_reason r) noexcept;

/// Messages of `device` stored in the window may be missing (and nothing in it was
/// delivered twice). Bounds are cloud times, inclusive, when known: `from` unset means
/// "since the previous message delivered" (or the stream's start), `to` unset means "up to
/// the next message delivered".
struct stream_gap {
    stream_device device;
    std::optional<packet_time> from;
    std::optional<packet_time> to;
    gap_reason reason = gap_reason::retention;
    /// For history_error: the API's error (diagnostics are logged).
    error_code ec;
};

/// Where a device's delivery stands, to continue after a restart. Serialise with
/// to_string(), read back with parse(). A cursor is specific to the device's history on
/// the platform; it stays valid while its anchor is within the retention.
struct stream_cursor {
    stream_device device;
    /// The last delivered message whose place in the history is known (unset: none yet,
    /// and `since` says where delivery starts).
    std::optional<packet_time> anchor_time{};
    std::uint64_t anchor_hash = 0; ///< of its payload (FNV-1a 64)
    std::uint32_t anchor_rank = 0; ///< among history messages of equal time and payload
    /// Messages delivered after the anchor (live, in the history's order).
    std::uint64_t after = 0;
    /// Hash of the last delivered message (verifies `after` against the history).
    std::uint64_t last_hash = 0;
    /// Without an anchor: the cloud time delivery starts at (inclusive).
    std::optional<packet_time> since{};

    /// A line of printable ASCII, e.g. "v1 d 18846494908532689575 1723367019300928 ...".
    ATOMCLOUD_DECL std::string to_string() const;
    /// The cursor a to_string() gave; nullopt for anything else.
    ATOMCLOUD_DECL static std::optional<stream_cursor> parse(std::string_view text);

    friend bool operator==(const stream_cursor& a, const stream_cursor& b) noexcept {
        return a.device == b.device && a.anchor_time == b.anchor_time &&
               a.anchor_hash == b.anchor_hash && a.anchor_rank == b.anchor_rank &&
               a.after == b.after && a.last_hash == b.last_hash && a.since == b.since;
    }
    friend bool operator!=(const stream_cursor& a, const stream_cursor& b) noexcept {
        return !(a == b);
    }
};

/// Anything a stream delivers: messages and gaps, the devices' connection events
/// (subscribed DTU / WIFI / 4G devices), the link's state, and protocol errors (as the
/// session reports them).
using stream_event = std::variant<stream_message, stream_gap, device_connected, device_disconnected,
                                  session_connected, session_disconnected, protocol_error>;

/// One line describing an event, e.g. "message 18846494908532689575 live (14 bytes)".
ATOMCLOUD_DECL std::string to_string(const stream_event& ev);

/// Events handed over by one async_receive, oldest first, with the storage their payloads
/// view and the cursors of the devices they advanced. A regular, movable value.
class stream_batch {
public:
    using const_iterator = std::vector<stream_event>::const_iterator;
    using value_type = stream_event;

    const_iterator begin() const noexcept { return events_.begin(); }
    const_iterator end() const noexcept { return events_.end(); }
    const stream_event& operator[](std::size_t i) const noexcept { return events_[i]; }
    std::size_t size() const noexcept { return events_.size(); }
    bool empty() const noexcept { return events_.empty(); }

    /// The cursor of every device this batch delivered messages or gaps of, as it stands
    /// after the batch: saving them with the batch's messages makes a restart continue
    /// exactly after them.
    const std::vector<stream_cursor>& cursors() const noexcept { return cursors_; }

private:
    friend struct detail_stream_batch_access;
    std::vector<stream_event> events_;
    std::vector<stream_cursor> cursors_;
    std::vector<std::shared_ptr<const void>> storage_;
};

/// How a stream backfills and what it holds.
struct stream_options {
    /// Devices added without a cursor: deliver from this cloud time on (backfill from the
    /// history first). Unset: from the moment the device is added (less clock_tolerance,
    /// so that a local clock ahead of the cloud's loses nothing).
    std::optional<std::chrono::system_clock::time_point> since;
    /// Leave heartbeats out of the delivered messages (they still count for the cursors).
    bool skip_heartbeats = false;
    std::string heartbeat = std::string(default_heartbeat);
    /// History page size (1..1000) and the most pages one backfill of one device may read.
    std::uint32_t page_size = 1000;
    std::size_t max_pages = 100;
    /// Devices backfilled at once (each reads its pages one at a time); the others wait.
    std::size_t max_concurrent_backfills = 4;
    /// After a reconnect, a device's history is read once this many live messages of it
    /// arrived, or settle_time passed (the held messages are what the history is aligned
    /// with; more make the alignment surer).
    std::size_t settle_messages = 8;
    std::chrono::milliseconds settle_time{std::chrono::milliseconds(1500)};
    /// Live messages (of all devices) held while backfills are pending; beyond either
    /// limit the device holding most gives up its backfill with a gap (held_overflow).
    std::size_t max_held_messages = 200000;
    std::size_t max_held_bytes = 64 * 1024 * 1024;
    /// Uncertainty of the local clock against the cloud's before the stream measured it
    /// (it measures it on every overlap), and the least uncertainty assumed after.
    std::chrono::milliseconds clock_tolerance{std::chrono::seconds(2)};
    std::chrono::milliseconds min_clock_tolerance{std::chrono::milliseconds(50)};
    /// How long the platform keeps a device's history: delivering from a start older than
    /// this, when the history does not reach back to it, reports a retention gap.
    std::chrono::seconds retention{std::chrono::hours(6)};
    /// Delays between attempts when the history API fails transiently (5xx, timeouts,
    /// dropped connections: each attempt already includes config.retry's retries).
    backoff_options retry{std::chrono::milliseconds(200), std::chrono::seconds(10), 2.0, 0.2};
};

/// Counters of a stream, for monitoring and tests.
struct stream_status {
    std::size_t devices = 0;
    std::size_t live = 0;       ///< live messages delivered
    std::size_t backfilled = 0; ///< backfilled messages delivered
    std::size_t duplicates = 0; ///< live messages the history also had (delivered once)
    std::size_t gaps = 0;       ///< gap events
    std::size_t backfills = 0;  ///< backfills completed
    std::size_t history_requests_failed = 0;
    std::size_t held_messages = 0; ///< live messages held right now
    std::size_t held_bytes = 0;
    std::size_t pending_events = 0; ///< not yet handed to async_receive
    std::size_t pending_bytes = 0;  ///< message bytes of those
    /// Backpressure: the pending events reached config.session.max_pending_events or
    /// max_pending_bytes; the session is not read (nor history) until the application
    /// receives.
    bool reading_paused = false;
    std::size_t reconnects = 0; ///< links established after the first
    /// The most backfills that were in flight at once (at most max_concurrent_backfills).
    std::size_t backfills_in_flight_peak = 0;
};

namespace detail {
class stream_impl;
using stream_run_handler = boost::asio::any_completion_handler<void(error_code)>;
using stream_receive_handler = boost::asio::any_completion_handler<void(error_code, stream_batch)>;

ATOMCLOUD_DECL std::shared_ptr<stream_impl> make_stream_impl(boost::asio::any_io_executor ex,
                                                             const config& cfg, std::int64_t org_id,
                                                             stream_options opts);
ATOMCLOUD_DECL void stream_shutdown(stream_impl& impl) noexcept;
ATOMCLOUD_DECL void stream_stop(stream_impl& impl);
ATOMCLOUD_DECL void stream_add(stream_impl& impl, const stream_cursor& start);
ATOMCLOUD_DECL void stream_remove(stream_impl& impl, const stream_device& device);
ATOMCLOUD_DECL std::optional<stream_cursor> stream_get_cursor(const stream_impl& impl,
                                                              const stream_device& device);
ATOMCLOUD_DECL stream_status stream_get_status(const stream_impl& impl) noexcept;
ATOMCLOUD_DECL void stream_run(const std::shared_ptr<stream_impl>& impl, diagnostics* diag,
                               stream_run_handler h);
ATOMCLOUD_DECL void stream_receive(const std::shared_ptr<stream_impl>& impl,
                                   stream_receive_handler h);

struct stream_initiation {
    using executor_type = boost::asio::any_io_executor;
    std::shared_ptr<stream_impl> impl;
    executor_type ex;
    executor_type get_executor() const noexcept { return ex; }
};
struct initiate_stream_run : stream_initiation {
    template <class Handler>
    void operator()(Handler&& h, diagnostics* diag) const {
        stream_run(impl, diag, stream_run_handler(std::forward<Handler>(h)));
    }
};
struct initiate_stream_receive : stream_initiation {
    template <class Handler>
    void operator()(Handler&& h) const {
        stream_receive(impl, stream_receive_handler(std::forward<Handler>(h)));
    }
};
} // namespace detail

/// A gapless stream of the messages of a set of devices of one organisation (see the top
/// of this header for the guarantee). It owns a session and a REST client made from the
/// same config.
class stream {
public:
    using executor_type = boost::asio::any_io_executor;

    /// A stream using `ex` for all its work, with `cfg` (copied) for organisation
    /// `org_id`. Does no I/O before async_run().
    stream(executor_type ex, const config& cfg, std::int64_t org_id, stream_options opts = {})
        : ex_(std::move(ex)), impl_(detail::make_stream_impl(ex_, cfg, org_id, std::move(opts))) {}
    /// Closes at once; operations in progress complete with operation_aborted.
    ~stream() {
        if (impl_)
            detail::stream_shutdown(*impl_);
    }
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    stream(stream&&) noexcept = default;

    executor_type get_executor() const noexcept { return ex_; }

    /// Adds a device, delivering from stream_options::since (or from now). Adding a
    /// device already there does nothing.
    void add(const stream_device& device) { detail::stream_add(*impl_, stream_cursor{device}); }
    /// Adds a device continuing from a saved cursor (exactly after the last message the
    /// cursor's batch delivered). A device already there is not changed.
    void add(const stream_cursor& cursor) { detail::stream_add(*impl_, cursor); }
    /// Removes a device: nothing more of it is delivered (events already pending are).
    void remove(const stream_device& device) { detail::stream_remove(*impl_, device); }

    /// The device's cursor after the last batch handed to the application; nullopt for
    /// a device not in the stream.
    std::optional<stream_cursor> cursor(const stream_device& device) const {
        return detail::stream_get_cursor(*impl_, device);
    }

    /// Runs the stream until stop(), cancellation or a permanent failure of its session
    /// (see session::async_run: the same errors, e.g. handshake_rejected,
    /// certificate_rejected). Signature: void(error_code).
    template <class CompletionToken = default_completion_token_t>
    auto async_run(CompletionToken&& token = CompletionToken{}) {
        return detail::initiate_operation<void(error_code)>(
            detail::initiate_stream_run{{impl_, ex_}}, std::forward<CompletionToken>(token),
            static_cast<diagnostics*>(nullptr));
    }
    /// As above; `diag` (alive until completion) tells what the server answered.
    template <class CompletionToken = default_completion_token_t>
    auto async_run(diagnostics& diag, CompletionToken&& token = CompletionToken{}) {
        return detail::initiate_operation<void(error_code)>(
            detail::initiate_stream_run{{impl_, ex_}}, std::forward<CompletionToken>(token), &diag);
    }

    /// Stops: the session closes, backfills in flight are abandoned (their devices'
    /// cursors stay where delivery stopped), async_run completes with session_stopped.
    void stop() {
        if (impl_)
            detail::stream_stop(*impl_);
    }

    /// Every event ready since the previous call, in one batch (waits for at least one).
    /// Backpressure: at config.session.max_pending_events / max_pending_bytes events not
    /// yet received, the stream stops reading its session (which then stops reading its
    /// socket) and starts no backfill, until the application receives: nothing is dropped.
    /// Once the stream has stopped, the events still pending are handed over, then it
    /// completes with client_errc::session_stopped. One at a time (another completes with
    /// boost::asio::error::already_started). Cancellation: terminal, partial, total
    /// (operation_aborted, nothing lost). Signature: void(error_code, stream_batch).
    template <class CompletionToken = default_completion_token_t>
    auto async_receive(CompletionToken&& token = CompletionToken{}) {
        return detail::initiate_operation<void(error_code, stream_batch)>(
            detail::initiate_stream_receive{{impl_, ex_}}, std::forward<CompletionToken>(token));
    }

    stream_status status() const noexcept {
        return impl_ ? detail::stream_get_status(*impl_) : stream_status{};
    }

private:
    executor_type ex_;
    std::shared_ptr<detail::stream_impl> impl_;
};

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/stream.ipp>
#endif

#endif
