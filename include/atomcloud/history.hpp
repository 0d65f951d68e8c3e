// A device's message history beyond one page: every packet of a time window, newest
// first, each exactly once, even while the device keeps sending.
//
//   // all of it at once
//   atomcloud::device_number dev("18846494908532689575"); // or an nbiot_id
//   auto packets = atomcloud::fetch_history(api, org_id, dev, {.skip_heartbeats = true});
//   // or batch by batch (one page's worth at a time)
//   atomcloud::history_walker walk(api, org_id, dev);
//   while (!walk.done())
//       for (auto& p : co_await walk.async_next_batch()) ...
//
// How it works and what it guarantees. The walk fixes the window's newest end when it
// starts: history_walk_options::end if given, otherwise the time of the newest packet on the
// first page. Pages are then requested with that end (rounded up to the second, since
// the API takes whole seconds; packets after the exact end are filtered out locally), and
// a packet is yielded only if it is not newer than the last one yielded. Therefore:
//
//  - If the history does not change during the walk, every packet of the window is
//    yielded exactly once, in the server's order (newest first), including packets that
//    share a timestamp and even identical bytes.
//  - Packets that arrive during the walk are never yielded twice and never push an
//    older packet out of the walk: when a page comes back shifted by new arrivals, the
//    repeated packets are recognised (packets newer than the last yielded one are
//    skipped; at exactly the last yielded timestamp, packets are matched by their bytes,
//    counting repeats). Packets newer than the window's end are not yielded.
//  - Packets evicted by the platform's retention (about 6 hours) before the walk reaches
//    them are not yielded; eviction removes the oldest packets and does not disturb the
//    walk otherwise.
//  - The one imprecision: if, while the history changes under the walk, two packets have
//    the same timestamp to the microsecond AND the same bytes and fall on both sides of a
//    page boundary, the second may be taken for a repeat and left out.
//  - The walk ends when a page is shorter than the page size, is empty, or is the last
//    one the server reports (total_page); after history_walk_options::max_pages pages it
//    fails with client_errc::too_many_pages.
//
// Heartbeats (history_walk_options::heartbeat, "ALIENTEK-HRTDT" by default) are left out
// when skip_heartbeats is set; they still count for the bookkeeping above.
#ifndef ATOMCLOUD_HISTORY_HPP
#define ATOMCLOUD_HISTORY_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/models.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/rest_client.hpp>
#include <atomcloud/with_diagnostics.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud {

namespace detail {

struct history_walk_state;

using history_handler = boost::asio::any_completion_handler<void(error_code, std::vector<packet>)>;

ATOMCLOUD_DECL std::shared_ptr<history_walk_state> make_history_walk(const rest_client& client,
                                                                     std::int64_t org_id,
                                                                     const history_device& device,
                                                                     history_walk_options opts);
ATOMCLOUD_DECL bool history_walk_done(const history_walk_state& st) noexcept;
/// One batch (stop_at_first_batch) or the whole walk.
ATOMCLOUD_DECL void history_walk_run(std::shared_ptr<history_walk_state> st,
                                     bool stop_at_first_batch, diagnostics* diag,
                                     history_handler h);

struct history_initiation {
    using executor_type = boost::asio::any_io_executor;
    std::shared_ptr<history_walk_state> state;
    executor_type ex;
    bool stop_at_first_batch;

    executor_type get_executor() const noexcept { return ex; }

    template <class Handler>
    void operator()(Handler&& handler, diagnostics* diag) const {
        history_walk_run(state, stop_at_first_batch, diag,
                         history_handler(std::forward<Handler>(handler)));
    }
};

ATOMCLOUD_DECL std::vector<packet> history_walk_sync(const boost::asio::any_io_executor& ex,
                                                     std::shared_ptr<history_walk_state> st,
                                                     bool stop_at_first_batch, error_code& ec,
                                                     diagnostics& diag);

} // namespace detail

/// Walks a device's history batch by batch (each batch holds the new packets of one or
/// more pages; it is empty only when the walk is over).
///
/// Thread safety: like rest_client (one thread or strand; the client's). One
/// async_next_batch at a time per walker: another one started meanwhile completes with
/// boost::asio::error::in_progress. The walker may be destroyed while an operation is in
/// flight (the operation keeps what it needs); the client must outlive the walk.
class history_walker {
public:
    /// A walk over `device` of organisation `org_id` with `opts`; nothing is
    /// requested before the first batch is asked for.
    history_walker(rest_client& client, std::int64_t org_id, const history_device& device,
                   history_walk_options opts = {})
        : ex_(client.get_executor()),
          state_(detail::make_history_walk(client, org_id, device, std::move(opts))) {}

    /// True when every packet was yielded (or the walk failed).
    bool done() const noexcept { return detail::history_walk_done(*state_); }

    /// The next batch: void(error_code, std::vector<packet>), newest first. An empty
    /// vector means the walk is over. Errors are those of rest_client::async_packets and
    /// client_errc::too_many_pages. After a request error or a cancellation (terminal,
    /// partial and total are honoured: operation_aborted) the walk can be resumed by
    /// calling again, which re-requests the page that failed; after too_many_pages it is
    /// over.
    template <class CompletionToken = default_completion_token_t>
    auto async_next_batch(CompletionToken&& token = {}) {
        return detail::initiate_operation<void(error_code, std::vector<packet>)>(
            detail::history_initiation{state_, ex_, true}, std::forward<CompletionToken>(token),
            static_cast<diagnostics*>(nullptr));
    }
    /// As above; `diag` (kept alive until completion) receives the details of a failure.
    template <class CompletionToken = default_completion_token_t>
    auto async_next_batch(diagnostics& diag, CompletionToken&& token = {}) {
        return detail::initiate_operation<void(error_code, std::vector<packet>)>(
            detail::history_initiation{state_, ex_, true}, std::forward<CompletionToken>(token),
            &diag);
    }
    /// Synchronous form (see rest_client about synchronous calls); never throws (but
    /// std::bad_alloc).
    std::vector<packet> next_batch(error_code& ec, diagnostics& diag) {
        return detail::history_walk_sync(ex_, state_, true, ec, diag);
    }
    /// Synchronous form; throws atomcloud::error on failure.
    std::vector<packet> next_batch() {
        error_code ec;
        diagnostics diag;
        auto out = next_batch(ec, diag);
        throw_on_error(ec, diag);
        return out;
    }

private:
    boost::asio::any_io_executor ex_;
    std::shared_ptr<detail::history_walk_state> state_;
};

/// Every packet of the history of `device` within `opts`' window, newest first, each
/// once (see the top of this header). Completes with void(error_code,
/// std::vector<packet>); on error the vector holds the packets collected before it.
/// Honours terminal, partial and total cancellation (operation_aborted).
template <class CompletionToken = default_completion_token_t>
auto async_fetch_history(rest_client& client, std::int64_t org_id, const history_device& device,
                         history_walk_options opts, CompletionToken&& token = {}) {
    return detail::initiate_operation<void(error_code, std::vector<packet>)>(
        detail::history_initiation{
            detail::make_history_walk(client, org_id, device, std::move(opts)),
            client.get_executor(), false},
        std::forward<CompletionToken>(token), static_cast<diagnostics*>(nullptr));
}

/// As above; `diag` (kept alive until completion) receives the details of a failure.
template <class CompletionToken = default_completion_token_t>
auto async_fetch_history(rest_client& client, std::int64_t org_id, const history_device& device,
                         history_walk_options opts, diagnostics& diag,
                         CompletionToken&& token = {}) {
    return detail::initiate_operation<void(error_code, std::vector<packet>)>(
        detail::history_initiation{
            detail::make_history_walk(client, org_id, device, std::move(opts)),
            client.get_executor(), false},
        std::forward<CompletionToken>(token), &diag);
}

/// Synchronous form (see rest_client about synchronous calls); never throws (but
/// std::bad_alloc). On error returns the packets collected before it.
inline std::vector<packet> fetch_history(rest_client& client, std::int64_t org_id,
                                         const history_device& device, history_walk_options opts,
                                         error_code& ec, diagnostics& diag) {
    return detail::history_walk_sync(
        client.get_executor(), detail::make_history_walk(client, org_id, device, std::move(opts)),
        false, ec, diag);
}

/// Synchronous form; throws atomcloud::error on failure.
inline std::vector<packet> fetch_history(rest_client& client, std::int64_t org_id,
                                         const history_device& device,
                                         history_walk_options opts = {}) {
    error_code ec;
    diagnostics diag;
    auto out = fetch_history(client, org_id, device, std::move(opts), ec, diag);
    throw_on_error(ec, diag);
    return out;
}

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/history.ipp>
#endif

#endif
