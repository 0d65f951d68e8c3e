// The HTTPS REST client: one operation per endpoint of the platform's management API,
// each in three forms that share one engine:
//
//   auto orgs = api.list_orgs();                           // sync, throws atomcloud::error
//   auto orgs = api.list_orgs(ec, diag);                   // sync, never throws
//   auto orgs = co_await api.async_list_orgs();            // async, any completion token
//   api.async_list_orgs([](atomcloud::error_code ec, std::vector<atomcloud::org> orgs) {...});
//
// Engine: a small pool of keep-alive TLS connections (config::max_connections, default
// 4). Requests beyond it wait their turn in FIFO order. A reused idle connection that
// the server closed meanwhile is re-established once, transparently (every request is an
// idempotent GET). Transient failures (connect errors, HTTP 5xx, API code 500, a
// connection closed before the response was complete) are retried per config::retry
// with capped exponential backoff; timeouts are not retried.
//
// Errors: an HTTP status other than 200 is client_errc::http_status (the status in
// diagnostics::http_status()); an API `code` other than 200 is make_api_error(code) (an
// api_errc such as api_errc::not_found) with the server's message in
// diagnostics::server_message(); a body that is not JSON is client_errc::invalid_json; a
// body without an integer `code` is client_errc::missing_envelope; a needed field
// missing or of the wrong type is client_errc::invalid_field, with
// diagnostics::client_message() naming it ("data[2].id: expected an integer"); a body
// over config::max_response_size is client_errc::response_too_large; no response within
// config::timeouts.request is boost::beast::error::timeout; network and TLS errors are
// reported as they come (e.g. a certificate that does not verify). The API token never
// appears in diagnostics, error messages or logs.
#ifndef ATOMCLOUD_REST_CLIENT_HPP
#define ATOMCLOUD_REST_CLIENT_HPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/rest_engine.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/metrics.hpp>
#include <atomcloud/models.hpp>
#include <atomcloud/with_diagnostics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace atomcloud {

/// Client of the platform's HTTPS API.
///
/// Thread safety: a rest_client is not thread-safe: use it (construct, call, destroy)
/// from one thread or strand, the one its executor runs on. Several asynchronous
/// operations may be in flight at once; they share the connection pool.
///
/// Lifetime: destroying the client cancels its pending operations: they complete with
/// boost::asio::error::operation_aborted. The client may be moved; operations already
/// started are unaffected; a moved-from client may only be destroyed or assigned to.
///
/// Cancellation: every async operation honours per-operation cancellation of the types
/// terminal, partial and total (e.g. from atomcloud::cancel_after, or
/// boost::asio::cancel_after on newer Boost), in every phase: while waiting for a pooled
/// connection, connecting, in the request, or between retries. It then completes with
/// boost::asio::error::operation_aborted; a request cancelled while on the wire costs
/// its connection (closed, not reused). GETs have no side effects on the platform.
///
/// Completion signature of every async operation: void(atomcloud::error_code, T). The
/// default completion token is with_diagnostics(boost::asio::deferred), so
/// `co_await api.async_list_orgs()` works in a coroutine and throws an atomcloud::error
/// carrying the diagnostics (server message, HTTP status, API code); use_future and
/// use_awaitable given as they are throw the same. Callbacks, as_tuple(...) and
/// cancel_after(...) work as well (with the error_code). Handlers without an associated
/// executor run on the client's executor.
///
/// The synchronous forms run the asynchronous operation and wait for it. When the
/// client's executor belongs to a boost::asio::io_context (directly or through a
/// strand), they drive that io_context themselves until the operation completes
/// (restarting it if it had run out of work), so a plain program needs no thread
/// running it; if other threads run it too, that works as well. With any other executor
/// they block until a thread running it completes the operation. Never call a
/// synchronous form from a handler running on the client's executor.
class rest_client {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Counters of what the engine did (since construction), for monitoring and tests.
    struct statistics {
        std::uint64_t requests = 0;           ///< HTTP requests written
        std::uint64_t connections_opened = 0; ///< TLS connections established
        std::uint64_t reused = 0;             ///< requests sent on an already used connection
        std::uint64_t retries = 0;            ///< attempts after a transient failure
        std::uint64_t reconnects = 0;         ///< stale keep-alive connections replaced
    };

    /// A client using `ex` for all its I/O. Never throws for a bad configuration: an
    /// invalid base URL (client_errc::invalid_base_url) or TLS set-up that fails (e.g. an
    /// unreadable CA file) is reported by every operation, with an explanation in
    /// diagnostics::client_message(). Verification off is logged as a warning.
    ATOMCLOUD_DECL rest_client(executor_type ex, config cfg);
    /// Same, on `ctx`'s executor.
    ATOMCLOUD_DECL rest_client(boost::asio::io_context& ctx, config cfg);
    /// Cancels pending operations and closes the connections.
    ATOMCLOUD_DECL ~rest_client();
    ATOMCLOUD_DECL rest_client(rest_client&& other) noexcept;
    ATOMCLOUD_DECL rest_client& operator=(rest_client&& other) noexcept;
    rest_client(const rest_client&) = delete;
    rest_client& operator=(const rest_client&) = delete;

    /// The executor all I/O runs on.
    executor_type get_executor() const noexcept { return ex_; }
    /// The configuration in use.
    ATOMCLOUD_DECL const config& get_config() const noexcept;
    /// What the engine did so far (call it from the client's executor).
    ATOMCLOUD_DECL statistics stats() const noexcept;
    /// A snapshot of the client's counters and gauges: requests by outcome, retries,
    /// latency percentiles, the last failure (see atomcloud/metrics.hpp and
    /// docs/metrics.md). Call it from the client's executor (or while no thread runs it,
    /// e.g. between synchronous calls).
    ATOMCLOUD_DECL rest_metrics metrics() const;

    /// Calls `callback(const rest_metrics&)` every `interval` (the first time one interval
    /// after the start) on the client's executor until cancelled. The callback is copied
    /// (it must be copyable) and must not throw. Completes with operation_aborted when
    /// cancelled (terminal, partial or total) or, at the next tick, once the client is
    /// destroyed; with boost::asio::error::invalid_argument at once if `interval` is not
    /// positive. Never completes otherwise. Call it from the client's executor.
    /// Signature: void(error_code).
    template <class Rep, class Period, class Callback,
              class CompletionToken = default_completion_token_t>
    auto async_watch_metrics(std::chrono::duration<Rep, Period> interval, Callback callback,
                             CompletionToken&& token = CompletionToken{}) {
        std::weak_ptr<detail::rest_client_impl> weak = impl_;
        std::function<bool()> tick = [weak, cb = std::move(callback)]() mutable {
            auto impl = weak.lock();
            if (!impl || detail::rest_is_shut_down(*impl))
                return false;
            cb(detail::rest_get_metrics(*impl));
            return true;
        };
        return detail::initiate_operation<void(error_code)>(
            detail::initiate_watch_metrics{ex_}, std::forward<CompletionToken>(token),
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval),
            std::move(tick));
    }
    /// Closes the idle pooled connections (the next request opens a fresh one). Pending
    /// operations are not affected.
    ATOMCLOUD_DECL void close_idle_connections();

    // -----------------------------------------------------------------------------------
    // The endpoints. Each comes as async with a token, async with diagnostics (`diag`,
    // kept alive by the caller until completion, receives the details of the outcome:
    // server message, HTTP status, API code, client explanation), synchronous with
    // error_code and diagnostics (never throws, but std::bad_alloc) and synchronous
    // throwing atomcloud::error. All four forward one operation of
    // detail/rest_operations.hpp to the engine. Errors: see the top of this header.

    /// GET /api/orgs: the account's organisations. void(error_code, std::vector<org>).
    template <class CompletionToken = default_completion_token_t>
    auto async_list_orgs(CompletionToken&& token = {}) {
        return start(detail::rest_op::list_orgs{}, nullptr, std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = default_completion_token_t>
    auto async_list_orgs(diagnostics& diag, CompletionToken&& token = {}) {
        return start(detail::rest_op::list_orgs{}, &diag, std::forward<CompletionToken>(token));
    }
    std::vector<org> list_orgs(error_code& ec, diagnostics& diag) {
        return run(detail::rest_op::list_orgs{}, ec, diag);
    }
    std::vector<org> list_orgs() { return run(detail::rest_op::list_orgs{}); }

    /// GET /api/orgs/:org_id/grouplist: the device groups of organisation `org_id`.
    /// void(error_code, std::vector<group>). An unknown org is api_errc::not_found.
    template <class CompletionToken = default_completion_token_t>
    auto async_list_groups(std::int64_t org_id, CompletionToken&& token = {}) {
        return start(detail::rest_op::list_groups{org_id}, nullptr,
                     std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = default_completion_token_t>
    auto async_list_groups(std::int64_t org_id, diagnostics& diag, CompletionToken&& token = {}) {
        return start(detail::rest_op::list_groups{org_id}, &diag,
                     std::forward<CompletionToken>(token));
    }
    std::vector<group> list_groups(std::int64_t org_id, error_code& ec, diagnostics& diag) {
        return run(detail::rest_op::list_groups{org_id}, ec, diag);
    }
    std::vector<group> list_groups(std::int64_t org_id) {
        return run(detail::rest_op::list_groups{org_id});
    }

    /// GET /api/orgs/:org_id/groups/:group_id/devices: the devices of group `group_id` of
    /// organisation `org_id`. void(error_code, std::vector<device>). Unknown org or
    /// group: api_errc::not_found.
    template <class CompletionToken = default_completion_token_t>
    auto async_list_devices(std::int64_t org_id, std::int64_t group_id,
                            CompletionToken&& token = {}) {
        return start(detail::rest_op::list_devices{org_id, group_id}, nullptr,
                     std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = default_completion_token_t>
    auto async_list_devices(std::int64_t org_id, std::int64_t group_id, diagnostics& diag,
                            CompletionToken&& token = {}) {
        return start(detail::rest_op::list_devices{org_id, group_id}, &diag,
                     std::forward<CompletionToken>(token));
    }
    std::vector<device> list_devices(std::int64_t org_id, std::int64_t group_id, error_code& ec,
                                     diagnostics& diag) {
        return run(detail::rest_op::list_devices{org_id, group_id}, ec, diag);
    }
    std::vector<device> list_devices(std::int64_t org_id, std::int64_t group_id) {
        return run(detail::rest_op::list_devices{org_id, group_id});
    }

    /// GET /api/orgs/:org_id/devicestate/:device_id: the connection state of device
    /// `device_id` (device::id, not its number). void(error_code, device_state). A state
    /// text this SDK does not know is connection_state::unknown with the text in
    /// device_state::raw.
    template <class CompletionToken = default_completion_token_t>
    auto async_device_state(std::int64_t org_id, std::int64_t device_id,
                            CompletionToken&& token = {}) {
        return start(detail::rest_op::device_state{org_id, device_id}, nullptr,
                     std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = default_completion_token_t>
    auto async_device_state(std::int64_t org_id, std::int64_t device_id, diagnostics& diag,
                            CompletionToken&& token = {}) {
        return start(detail::rest_op::device_state{org_id, device_id}, &diag,
                     std::forward<CompletionToken>(token));
    }
    ::atomcloud::device_state device_state(std::int64_t org_id, std::int64_t device_id,
                                           error_code& ec, diagnostics& diag) {
        return run(detail::rest_op::device_state{org_id, device_id}, ec, diag);
    }
    ::atomcloud::device_state device_state(std::int64_t org_id, std::int64_t device_id) {
        return run(detail::rest_op::device_state{org_id, device_id});
    }

    /// GET /api/orgs/:org_id/devicepacket/:number: one page of the message history of
    /// `device` (a device_number, or an NB-IoT device's nbiot_id; percent-encoded in the
    /// URL), newest first. void(error_code, packet_page). Each packet's bytes are decoded
    /// from the hex text; a packet whose hex is malformed, or whose time cannot be read,
    /// fails the page with client_errc::invalid_field. For every packet of a time window,
    /// across pages, see history.hpp.
    template <class CompletionToken = default_completion_token_t>
    auto async_packets(std::int64_t org_id, const history_device& device, const packet_query& query,
                       CompletionToken&& token = {}) {
        return start(packets_op(org_id, device, query), nullptr,
                     std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = default_completion_token_t>
    auto async_packets(std::int64_t org_id, const history_device& device, const packet_query& query,
                       diagnostics& diag, CompletionToken&& token = {}) {
        return start(packets_op(org_id, device, query), &diag,
                     std::forward<CompletionToken>(token));
    }
    packet_page packets(std::int64_t org_id, const history_device& device,
                        const packet_query& query, error_code& ec, diagnostics& diag) {
        return run(packets_op(org_id, device, query), ec, diag);
    }
    packet_page packets(std::int64_t org_id, const history_device& device,
                        const packet_query& query = {}) {
        return run(packets_op(org_id, device, query));
    }

private:
    friend struct detail::rest_access;

    static detail::rest_op::packets packets_op(std::int64_t org_id, const history_device& device,
                                               const packet_query& query) {
        return {org_id, std::visit([](const auto& d) { return d.str(); }, device), query};
    }

    // The generated overload set: every endpoint's four forms are these three.
    template <class Op, class CompletionToken>
    auto start(Op op, diagnostics* diag, CompletionToken&& token) {
        return detail::initiate_operation<void(error_code, typename Op::result_type)>(
            detail::rest_initiation{impl_, ex_}, std::forward<CompletionToken>(token), diag,
            std::move(op));
    }
    template <class Op>
    typename Op::result_type run(Op op, error_code& ec, diagnostics& diag) {
        return detail::rest_call<Op>::run(*impl_, std::move(op), ec, diag);
    }
    template <class Op>
    typename Op::result_type run(Op op) {
        error_code ec;
        diagnostics diag;
        auto result = run(std::move(op), ec, diag);
        throw_on_error(ec, diag);
        return result;
    }

    executor_type ex_;
    std::shared_ptr<detail::rest_client_impl> impl_;
};

namespace detail {
struct rest_access {
    static const std::shared_ptr<rest_client_impl>& impl(const rest_client& c) noexcept {
        return c.impl_;
    }
};
} // namespace detail

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/rest_client.ipp>
#endif

#endif
