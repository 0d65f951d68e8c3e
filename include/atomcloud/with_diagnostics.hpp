// with_diagnostics(token): a completion token adapter that turns the error_code of an
// operation into an atomcloud::error carrying the operation's diagnostics (server message,
// HTTP status, API code, client explanation), for tokens that report failure by throwing.
//
//   try {
//       auto orgs = co_await api.async_list_orgs(); // the default token: throws atomcloud::error
//   } catch (const atomcloud::error& e) {
//       e.code(); e.get_diagnostics().server_message(); e.get_diagnostics().http_status();
//   }
//
// Every async operation of atomcloud defaults to with_diagnostics(boost::asio::deferred)
// (default_completion_token_t), and wraps boost::asio::use_awaitable and
// boost::asio::use_future in it when they are passed as they are: with those, a failure
// always arrives as an atomcloud::error. With the adapter, an operation of signature
// void(error_code, T...) completes with void(std::exception_ptr, T...): null on success,
// else an atomcloud::error. Wrap other throwing tokens (e.g. a yield_context without an
// error_code, or atomcloud::cancel_after(d, boost::asio::use_future)) explicitly.
// The adapted handler keeps the wrapped one's executor, allocator and cancellation slot.
#ifndef ATOMCLOUD_WITH_DIAGNOSTICS_HPP
#define ATOMCLOUD_WITH_DIAGNOSTICS_HPP

#include <atomcloud/error.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/version.hpp>

#if defined(BOOST_ASIO_HAS_CO_AWAIT) && BOOST_VERSION < 108200
#include <boost/asio/awaitable.hpp>
#endif

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace boost::asio {
template <typename Allocator>
class use_future_t;
template <typename Executor>
struct use_awaitable_t;
} // namespace boost::asio

namespace atomcloud {

/// The adapter made by with_diagnostics(token).
template <class CompletionToken>
struct with_diagnostics_t {
    CompletionToken token{};
};

/// Adapts `token` so that a failure arrives as a std::exception_ptr holding an
/// atomcloud::error with the operation's diagnostics (see the top of this header).
template <class CompletionToken>
with_diagnostics_t<std::decay_t<CompletionToken>> with_diagnostics(CompletionToken&& token) {
    return {std::forward<CompletionToken>(token)};
}

/// The default completion token of every atomcloud async operation:
/// `co_await op()` in a coroutine, or `op()(token)` later.
using default_completion_token_t = with_diagnostics_t<boost::asio::deferred_t>;

namespace detail {

// The handler given to an operation started with with_diagnostics(token): it reads the
// diagnostics the operation wrote and makes the exception.
template <class Handler>
struct diagnostics_handler {
    Handler handler;
    std::shared_ptr<diagnostics> owned; // when the caller gave none
    diagnostics* diag;

    template <class... Args>
    void operator()(error_code ec, Args&&... args) {
        std::exception_ptr failure;
        if (ec)
            failure = std::make_exception_ptr(error(ec, diag ? *diag : diagnostics()));
        owned.reset();
        std::move(handler)(std::move(failure), std::forward<Args>(args)...);
    }
};

template <class... Args>
struct first_is_diagnostics : std::false_type {};
template <class First, class... Rest>
struct first_is_diagnostics<First, Rest...> : std::is_same<std::decay_t<First>, diagnostics*> {};

// An operation's initiation, started with a diagnostics_handler. Initiations whose first
// argument is a diagnostics* (the operations that produce diagnostics) get one even when
// the caller passed none.
template <class Initiation>
struct diagnostics_initiation : Initiation {
    explicit diagnostics_initiation(Initiation init) : Initiation(std::move(init)) {}

    template <class Handler, class... Args>
    void operator()(Handler&& handler, Args&&... args) const {
        using wrapped = diagnostics_handler<std::decay_t<Handler>>;
        if constexpr (first_is_diagnostics<Args...>::value) {
            start_with_diagnostics(std::forward<Handler>(handler), std::forward<Args>(args)...);
        } else {
            static_cast<const Initiation&> (*this)(
                wrapped{std::forward<Handler>(handler), {}, nullptr}, std::forward<Args>(args)...);
        }
    }

private:
    template <class Handler, class... Args>
    void start_with_diagnostics(Handler&& handler, diagnostics* diag, Args&&... args) const {
        using wrapped = diagnostics_handler<std::decay_t<Handler>>;
        std::shared_ptr<diagnostics> owned;
        if (!diag) {
            owned = std::make_shared<diagnostics>();
            diag = owned.get();
        }
        static_cast<const Initiation&> (*this)(
            wrapped{std::forward<Handler>(handler), std::move(owned), diag}, diag,
            std::forward<Args>(args)...);
    }
};

// Tokens that report a failure by throwing the error_code: given as they are, they are
// wrapped in with_diagnostics so that the exception carries the diagnostics.
template <class Token>
struct throws_error_code : std::false_type {};
template <class Allocator>
struct throws_error_code<boost::asio::use_future_t<Allocator>> : std::true_type {};
template <class Executor>
struct throws_error_code<boost::asio::use_awaitable_t<Executor>> : std::true_type {};

/// async_initiate for atomcloud's operations: as boost::asio::async_initiate, with
/// use_future and use_awaitable wrapped in with_diagnostics.
template <class Signature, class CompletionToken, class Initiation, class... Args>
auto initiate_operation(Initiation&& init, CompletionToken&& token, Args&&... args) {
    // CompletionToken is a reference for an lvalue token: async_initiate copies it then,
    // and moves only from an rvalue.
    using token_type = std::decay_t<CompletionToken>;
    if constexpr (throws_error_code<token_type>::value) {
        with_diagnostics_t<token_type> wrapped{token};
        return boost::asio::async_initiate<with_diagnostics_t<token_type>, Signature>(
            std::forward<Initiation>(init), wrapped, std::forward<Args>(args)...);
    } else {
        return boost::asio::async_initiate<CompletionToken, Signature>(
            std::forward<Initiation>(init), token, std::forward<Args>(args)...);
    }
}

} // namespace detail
} // namespace atomcloud

namespace boost::asio {

template <class CompletionToken, class... Args>
struct async_result<atomcloud::with_diagnostics_t<CompletionToken>,
                    void(atomcloud::error_code, Args...)> {
    template <class Initiation, class RawToken, class... InitArgs>
    static auto initiate(Initiation&& init, RawToken&& token, InitArgs&&... args) {
        return async_initiate<CompletionToken, void(std::exception_ptr, Args...)>(
            atomcloud::detail::diagnostics_initiation<std::decay_t<Initiation>>(
                std::forward<Initiation>(init)),
            token.token, std::forward<InitArgs>(args)...);
    }
};

template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct associator<Associator, atomcloud::detail::diagnostics_handler<Handler>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type
    get(const atomcloud::detail::diagnostics_handler<Handler>& h) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler);
    }
    static auto get(const atomcloud::detail::diagnostics_handler<Handler>& h,
                    const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c)) {
        return Associator<Handler, DefaultCandidate>::get(h.handler, c);
    }
};

} // namespace boost::asio

#if defined(BOOST_ASIO_HAS_CO_AWAIT) && BOOST_VERSION < 108200
namespace boost::asio::detail {

// Boost 1.81's coroutines cannot co_await an operation of signature
// void(std::exception_ptr, T), the default token's (chriskohlhoff/asio#1172: resume() tests
// the result record instead of the exception it points to). This specialization, more
// specialized than the library's, receives the same two values and checks the exception.
template <class T, class Executor>
class awaitable_async_op_handler<void(std::exception_ptr, T), Executor>
    : public awaitable_thread<Executor> {
public:
    struct result_type {
        std::exception_ptr* ex_;
        T* value_;
    };

    awaitable_async_op_handler(awaitable_thread<Executor>* h, result_type& result)
        : awaitable_thread<Executor>(std::move(*h)), result_(result) {}

    void operator()(std::exception_ptr ex, T value) {
        result_.ex_ = &ex;
        result_.value_ = &value;
        this->entry_point()->top_of_stack_->attach_thread(this);
        this->entry_point()->top_of_stack_->clear_cancellation_slot();
        this->pump();
    }

    static T resume(result_type& result) {
        if (*result.ex_)
            std::rethrow_exception(std::exchange(*result.ex_, nullptr));
        return std::move(*result.value_);
    }

private:
    result_type& result_;
};

} // namespace boost::asio::detail
#endif

#endif
