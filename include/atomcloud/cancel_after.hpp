// cancel_after: a completion-token adapter that gives any asynchronous operation honouring
// per-operation cancellation a time limit.
//
//   auto orgs = co_await api.async_list_orgs(atomcloud::cancel_after(2s));
//   auto fut  = api.async_list_orgs(atomcloud::cancel_after(2s, boost::asio::use_future));
//   api.async_list_orgs(atomcloud::cancel_after(2s, [](auto ec, auto orgs) { ... }));
//
// When the operation is started, a timer is started on the operation's I/O executor (the
// initiation's get_executor(); for an operation without one, on the handler's associated
// executor): the cancellation is emitted where the operation runs, also when the handler
// has an executor of its own (use_future's is the system executor). If the timer expires
// first, a cancellation of the chosen type (terminal by default) is emitted to the
// operation, which then completes with its "cancelled" error (for atomcloud operations,
// boost::asio::error::operation_aborted). When the operation completes first, the timer
// is cancelled. The handler's executor and allocator are preserved; a cancellation slot
// the handler already had (e.g. a coroutine's) still works: its signals are forwarded.
//
// Boost 1.86 brought boost::asio::cancel_after, which does the same: from that version on,
// atomcloud::cancel_after is Asio's own (same arguments: a duration, optionally a
// cancellation type, then the token). The adapter below is for the older Boost versions
// the SDK supports. Not part of <atomcloud/atomcloud.hpp>: include this header to use it.
#ifndef ATOMCLOUD_CANCEL_AFTER_HPP
#define ATOMCLOUD_CANCEL_AFTER_HPP

#include <boost/version.hpp>

#if BOOST_VERSION >= 108600

#include <boost/asio/cancel_after.hpp>

namespace atomcloud {
using boost::asio::cancel_after;
} // namespace atomcloud

#else // Asio has no cancel_after: atomcloud's

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <type_traits>
#include <utility>

namespace atomcloud {

/// The token returned by cancel_after(): the wrapped token, the time limit and the type
/// of cancellation emitted on expiry.
template <class CompletionToken>
struct cancel_after_t {
    CompletionToken token;
    std::chrono::steady_clock::duration timeout;
    boost::asio::cancellation_type_t type = boost::asio::cancellation_type::terminal;
};

/// Adapts `token` so that the operation is cancelled (terminal cancellation) if it has not
/// completed within `timeout`. Without a token, the operation returns a deferred
/// operation (co_await-able in a coroutine).
template <class Rep, class Period, class CompletionToken = boost::asio::deferred_t>
cancel_after_t<std::decay_t<CompletionToken>>
cancel_after(std::chrono::duration<Rep, Period> timeout, CompletionToken&& token = {}) {
    return {std::forward<CompletionToken>(token),
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout),
            boost::asio::cancellation_type::terminal};
}

/// As above, emitting a cancellation of type `type` (e.g. partial or total) on expiry.
template <class Rep, class Period, class CompletionToken = boost::asio::deferred_t>
cancel_after_t<std::decay_t<CompletionToken>>
cancel_after(std::chrono::duration<Rep, Period> timeout, boost::asio::cancellation_type_t type,
             CompletionToken&& token = {}) {
    return {std::forward<CompletionToken>(token),
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout), type};
}

namespace detail {

struct cancel_after_state {
    explicit cancel_after_state(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    boost::asio::cancellation_signal signal;
    bool done = false;
};

// The handler the operation sees: its cancellation slot is the adapter's signal; its
// executor and allocator are those of the wrapped handler.
template <class Handler>
class cancel_after_handler {
public:
    cancel_after_handler(Handler h, std::shared_ptr<cancel_after_state> s)
        : handler_(std::move(h)), state_(std::move(s)) {}

    template <class... Args>
    void operator()(Args&&... args) {
        state_->done = true;
        state_->timer.cancel();
        auto outer = boost::asio::get_associated_cancellation_slot(handler_);
        if (outer.is_connected())
            outer.clear();
        std::move(handler_)(std::forward<Args>(args)...);
    }

    const Handler& inner() const noexcept { return handler_; }
    boost::asio::cancellation_slot slot() const noexcept { return state_->signal.slot(); }

private:
    Handler handler_;
    std::shared_ptr<cancel_after_state> state_;
};

template <class T, class = void>
struct has_get_executor : std::false_type {};
template <class T>
struct has_get_executor<T, std::void_t<decltype(std::declval<const T&>().get_executor())>>
    : std::true_type {};

template <class Initiation>
struct cancel_after_initiation {
    Initiation init;
    std::chrono::steady_clock::duration timeout;
    boost::asio::cancellation_type_t type;

    template <class Handler, class... Args>
    void operator()(Handler&& handler, Args&&... args) {
        const boost::asio::any_io_executor ex = [&] {
            if constexpr (has_get_executor<Initiation>::value)
                return boost::asio::any_io_executor(init.get_executor());
            else
                return boost::asio::any_io_executor(boost::asio::get_associated_executor(handler));
        }();
        auto state = std::make_shared<cancel_after_state>(ex);

        // Signals of a slot the handler already had (a coroutine's, say) are forwarded.
        auto outer = boost::asio::get_associated_cancellation_slot(handler);
        if (outer.is_connected())
            outer.assign([weak = std::weak_ptr<cancel_after_state>(state)](
                             boost::asio::cancellation_type_t t) {
                if (auto s = weak.lock())
                    s->signal.emit(t);
            });

        state->timer.expires_after(timeout);
        state->timer.async_wait([state, t = type](const boost::system::error_code& ec) {
            if (!ec && !state->done)
                state->signal.emit(t);
        });
        std::move(init)(
            cancel_after_handler<std::decay_t<Handler>>(std::forward<Handler>(handler), state),
            std::forward<Args>(args)...);
    }
};

} // namespace detail
} // namespace atomcloud

namespace boost::asio {

template <class CompletionToken, class... Signatures>
struct async_result<atomcloud::cancel_after_t<CompletionToken>, Signatures...> {
    template <class Initiation, class RawToken, class... Args>
    static auto initiate(Initiation&& init, RawToken&& token, Args&&... args) {
        return async_initiate<CompletionToken, Signatures...>(
            atomcloud::detail::cancel_after_initiation<std::decay_t<Initiation>>{
                std::forward<Initiation>(init), token.timeout, token.type},
            token.token, std::forward<Args>(args)...);
    }
};

template <class Handler, class DefaultCandidate>
struct associated_executor<atomcloud::detail::cancel_after_handler<Handler>, DefaultCandidate> {
    using type = associated_executor_t<Handler, DefaultCandidate>;
    static type get(const atomcloud::detail::cancel_after_handler<Handler>& h) noexcept {
        return associated_executor<Handler, DefaultCandidate>::get(h.inner());
    }
    static type get(const atomcloud::detail::cancel_after_handler<Handler>& h,
                    const DefaultCandidate& c) noexcept {
        return associated_executor<Handler, DefaultCandidate>::get(h.inner(), c);
    }
};

template <class Handler, class DefaultCandidate>
struct associated_allocator<atomcloud::detail::cancel_after_handler<Handler>, DefaultCandidate> {
    using type = associated_allocator_t<Handler, DefaultCandidate>;
    static type get(const atomcloud::detail::cancel_after_handler<Handler>& h) noexcept {
        return associated_allocator<Handler, DefaultCandidate>::get(h.inner());
    }
    static type get(const atomcloud::detail::cancel_after_handler<Handler>& h,
                    const DefaultCandidate& c) noexcept {
        return associated_allocator<Handler, DefaultCandidate>::get(h.inner(), c);
    }
};

template <class Handler, class DefaultCandidate>
struct associated_cancellation_slot<atomcloud::detail::cancel_after_handler<Handler>,
                                    DefaultCandidate> {
    using type = cancellation_slot;
    static type get(const atomcloud::detail::cancel_after_handler<Handler>& h) noexcept {
        return h.slot();
    }
    static type get(const atomcloud::detail::cancel_after_handler<Handler>& h,
                    const DefaultCandidate&) noexcept {
        return h.slot();
    }
};

} // namespace boost::asio

#endif // BOOST_VERSION >= 108600

#endif
