// What the REST client's public header and atomcloud's composed operations (the history
// walk) see of the engine: the client's state is opaque, and each operation of
// detail/rest_operations.hpp is started through one generic entry, compiled once per
// operation (impl/rest_client.ipp). Internal.
#ifndef ATOMCLOUD_DETAIL_REST_ENGINE_HPP
#define ATOMCLOUD_DETAIL_REST_ENGINE_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/rest_operations.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/metrics.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <utility>

namespace atomcloud::detail {

class rest_client_impl;

template <class T>
using rest_handler = boost::asio::any_completion_handler<void(error_code, T)>;

/// The engine's entry for operation `Op` (a descriptor of detail/rest_operations.hpp).
/// Defined in impl/rest_client.ipp and instantiated there for every operation.
template <class Op>
struct rest_call {
    using result_type = typename Op::result_type;
    /// Starts the request; `diag`, if not null, receives the details of the outcome
    /// before `handler` runs. Call from any thread: the client's state is touched on its
    /// executor only.
    static void start(rest_client_impl& c, Op op, diagnostics* diag,
                      rest_handler<result_type> handler);
    /// Runs the request to completion from outside the client's executor (the
    /// synchronous forms; see rest_client).
    static result_type run(rest_client_impl& c, Op op, error_code& ec, diagnostics& diag);
};

ATOMCLOUD_DECL rest_metrics rest_get_metrics(const rest_client_impl& c);
ATOMCLOUD_DECL bool rest_is_shut_down(const rest_client_impl& c) noexcept;
ATOMCLOUD_DECL const boost::asio::any_io_executor&
rest_executor(const rest_client_impl& c) noexcept;

// Initiation object for async_initiate: exposes the client's executor (the default for
// handlers without one of their own, and where atomcloud::cancel_after starts its timer)
// and starts the operation.
struct rest_initiation {
    using executor_type = boost::asio::any_io_executor;
    std::shared_ptr<rest_client_impl> impl;
    executor_type ex;

    executor_type get_executor() const noexcept { return ex; }

    template <class Handler, class Op>
    void operator()(Handler&& handler, diagnostics* diag, Op op) const {
        rest_call<Op>::start(
            *impl, std::move(op), diag,
            rest_handler<typename Op::result_type>(std::forward<Handler>(handler)));
    }
};

/// How atomcloud's own operations reach a rest_client's engine (rest_client::impl_ is
/// private).
struct rest_access;

} // namespace atomcloud::detail

#endif
