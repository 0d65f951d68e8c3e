// A TLS client stream in which OpenSSL reads and writes the non-blocking TCP socket itself,
// and the reactor only says when to retry. Internal; header-only.
//
// Why not asio::ssl::stream: it keeps two 17 KB buffers per stream and a BIO pair with two
// more, about 70 KB for every idle connection, and copies each record twice. Here the
// record buffers are OpenSSL's own, released whenever they are empty
// (SSL_MODE_RELEASE_BUFFERS), and records go straight between the socket and OpenSSL.
//
// OpenSSL reaches the socket through a small BIO of ours rather than SSL_set_fd: the
// socket BIO writes with write(2), which raises SIGPIPE when the peer has gone; ours uses
// send(MSG_NOSIGNAL) and keeps errno for the error report.
#ifndef ATOMCLOUD_DETAIL_TLS_SOCKET_HPP
#define ATOMCLOUD_DETAIL_TLS_SOCKET_HPP

#include <atomcloud/detail/tls.hpp>
#include <atomcloud/detail/url.hpp>
#include <atomcloud/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/types.h>

namespace atomcloud::detail {

/// What one attempt of an SSL_* call ended with: done (ec and bytes are the outcome) or a
/// wait for the socket to become readable or writable before the next attempt.
struct tls_attempt {
    enum class next { done, wait_read, wait_write } what = next::done;
    error_code ec;
    std::size_t bytes = 0;
};

/// A TLS client stream over a TCP socket, for one connection.
///
/// Use: connect socket(), call prepare(), then async_handshake(); then async_read_some and
/// async_write_some (AsyncReadStream / AsyncWriteStream, so asio::async_read/async_write
/// and beast::http::async_read/async_write work on it).
///
/// Concurrency: one read and one write may be in flight at the same time, both on the
/// stream's executor (one thread, or a strand); never two reads or two writes. Each
/// operation waits for whatever OpenSSL asks for (a read may need to write, e.g. to answer
/// a TLS 1.3 key update). Renegotiation is refused, so a write never consumes records a
/// pending read is waiting for.
///
/// Cancellation: async_read_some honours terminal, partial and total per-operation
/// cancellation (the stream stays usable). async_write_some and async_handshake honour
/// terminal cancellation; after one is cancelled the stream can only be closed.
/// cancel() and close() complete pending operations with operation_aborted.
///
/// Memory: an idle stream after its handshake holds the SSL object, the session and the
/// peer's certificates, and no record buffers: about 17 KB of heap with a P-256 leaf
/// certificate (tests/integration/session_tls_socket_test.cpp measures it).
///
/// POSIX only (send/recv on the descriptor).
class tls_socket {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Creates the SSL object from `ctx` (which must outlive the stream). Throws
    /// boost::system::system_error when OpenSSL cannot allocate it.
    tls_socket(const executor_type& ex, boost::asio::ssl::context& ctx) : socket_(ex) {
        ::ERR_clear_error();
        ssl_ = ::SSL_new(ctx.native_handle());
        if (!ssl_)
            throw boost::system::system_error(last_ssl_error(), "SSL_new");
        ::SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        ::SSL_set_options(ssl_, SSL_OP_NO_RENEGOTIATION);
        ::SSL_set_connect_state(ssl_);
    }

    tls_socket(const tls_socket&) = delete;
    tls_socket& operator=(const tls_socket&) = delete;

    /// Frees the SSL object and closes the socket (no close_notify: see shutdown_send()).
    ~tls_socket() {
        ::SSL_free(ssl_); // frees our BIO, which leaves the descriptor alone
        close();
    }

    executor_type get_executor() const noexcept {
        return const_cast<boost::asio::ip::tcp::socket&>(socket_).get_executor();
    }

    /// The TCP socket: connect it before async_handshake().
    boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

    SSL* native_handle() const noexcept { return ssl_; }

    /// SNI (host names, not IP literals) and, when `verify`, peer verification with
    /// host-name checking (IP literals are checked as IP addresses). Call before
    /// async_handshake().
    void prepare(const base_url& url, bool verify, error_code& ec) {
        prepare_tls(ssl_, url, verify, ec);
    }

    /// Client handshake over the connected socket. Signature: void(error_code).
    /// A certificate that fails verification completes with
    /// client_errc::certificate_rejected; verify_failure() then says why.
    /// Cancellation: terminal.
    template <class Token>
    auto async_handshake(Token&& token) {
        return boost::asio::async_compose<Token, void(error_code)>(
            op<handshake_step>{*this, handshake_step{}}, token, socket_);
    }

    /// Reads up to buffer_size(b) bytes: one SSL_read_ex into the first non-empty buffer
    /// of `b` (at most one TLS record's worth, 16 KB). Completes with 0 bytes at once when
    /// `b` is empty. Signature: void(error_code, std::size_t).
    /// Errors: asio::error::eof after the peer's close_notify; ssl::error::stream_truncated
    /// when the TCP connection ends without one. Cancellation: terminal, partial, total.
    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& b, Token&& token) {
        return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
            op<read_step>{*this, read_step{first_buffer<boost::asio::mutable_buffer>(b)}}, token,
            socket_);
    }

    /// Writes some of `b` with one SSL_write_ex: the first non-empty buffer as it is when it
    /// is large (>= 16 KB) or alone; otherwise the buffers are gathered (up to 16 KB, a
    /// copy held by the operation) so that many small pieces, such as an HTTP header, go
    /// in one record. Completes with 0 bytes at once when `b` is empty.
    /// Signature: void(error_code, std::size_t). Cancellation: terminal.
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& b, Token&& token) {
        return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
            op<write_step>{*this, write_step(b)}, token, socket_);
    }

    /// One read attempt without waiting (for a caller that waits for readability itself):
    /// done with the bytes read or an error, or which wait OpenSSL needs before the next
    /// attempt. Never two reads at once (an async_read_some counts).
    tls_attempt try_read(boost::asio::mutable_buffer b) { return attempt_read(b); }

    /// One write attempt without waiting; as try_read. SSL_MODE_ENABLE_PARTIAL_WRITE: the
    /// bytes written may be fewer than asked; retry with the rest (the same or a moved
    /// buffer, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
    tls_attempt try_write(boost::asio::const_buffer b) { return attempt_write(b); }

    /// Sends close_notify if that can be done without waiting, for a clean close; does not
    /// wait for the peer's. Call it when no write is in flight.
    void shutdown_send() noexcept {
        if (!handshaken_ || !socket_.is_open())
            return;
        ::ERR_clear_error();
        ::SSL_shutdown(ssl_);
        ::ERR_clear_error();
    }

    /// Pending operations complete with operation_aborted.
    void cancel() noexcept {
        error_code ignored;
        socket_.cancel(ignored);
    }

    /// Closes the socket; pending operations complete with operation_aborted.
    void close() noexcept {
        error_code ignored;
        socket_.close(ignored);
    }

    /// After a handshake that failed with client_errc::certificate_rejected: why, in
    /// OpenSSL's words ("certificate has expired", "hostname mismatch" ...). Empty otherwise.
    std::string verify_failure() const { return tls_verify_failure(ssl_); }

private:
    static constexpr std::size_t gather_limit = 16 * 1024; // one TLS record

    template <class Buffer, class Sequence>
    static Buffer first_buffer(const Sequence& seq) {
        const auto end = boost::asio::buffer_sequence_end(seq);
        for (auto it = boost::asio::buffer_sequence_begin(seq); it != end; ++it) {
            Buffer b(*it);
            if (b.size() != 0)
                return b;
        }
        return Buffer();
    }

    // One attempt of the operation; the composed op below retries it until it is done.
    struct handshake_step {
        tls_attempt operator()(tls_socket& s) { return s.attempt_handshake(); }
    };
    struct read_step {
        boost::asio::mutable_buffer buffer;
        tls_attempt operator()(tls_socket& s) { return s.attempt_read(buffer); }
    };
    struct write_step {
        boost::asio::const_buffer buffer;
        std::vector<unsigned char> gathered;

        template <class ConstBuffers>
        explicit write_step(const ConstBuffers& seq) {
            buffer = first_buffer<boost::asio::const_buffer>(seq);
            if (buffer.size() == 0 || buffer.size() >= gather_limit ||
                boost::asio::buffer_size(seq) == buffer.size())
                return;
            const std::size_t total = boost::asio::buffer_size(seq);
            gathered.resize(total < gather_limit ? total : gather_limit);
            gathered.resize(boost::asio::buffer_copy(boost::asio::buffer(gathered), seq));
            buffer = boost::asio::buffer(gathered);
        }
        tls_attempt operator()(tls_socket& s) { return s.attempt_write(buffer); }
    };

    template <class Step>
    struct op {
        tls_socket& s;
        Step step;
        enum class phase { starting, waiting, delivering } at = phase::starting;
        tls_attempt result{};

        template <class Self>
        void operator()(Self& self) {
            if (at == phase::delivering)
                return finish(self);
            if constexpr (std::is_same_v<Step, read_step>)
                self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            attempt(self);
        }

        template <class Self>
        void operator()(Self& self, error_code ec) { // a wait completed
            if (!ec &&
                self.get_cancellation_state().cancelled() != boost::asio::cancellation_type::none)
                ec = boost::asio::error::operation_aborted;
            if (ec) {
                result = {tls_attempt::next::done, ec, 0};
                return finish(self);
            }
            attempt(self);
        }

        template <class Self>
        void attempt(Self& self) {
            result = step(s);
            switch (result.what) {
            case tls_attempt::next::wait_read:
                at = phase::waiting;
                return s.socket_.async_wait(boost::asio::socket_base::wait_read, std::move(self));
            case tls_attempt::next::wait_write:
                at = phase::waiting;
                return s.socket_.async_wait(boost::asio::socket_base::wait_write, std::move(self));
            case tls_attempt::next::done:
                break;
            }
            if (at == phase::starting) {
                // Done without waiting: never complete inside the initiating function.
                at = phase::delivering;
                return boost::asio::post(s.socket_.get_executor(), std::move(self));
            }
            finish(self);
        }

        template <class Self>
        void finish(Self& self) {
            if constexpr (std::is_same_v<Step, handshake_step>)
                self.complete(result.ec);
            else
                self.complete(result.ec, result.bytes);
        }
    };

    tls_attempt attempt_handshake() {
        if (!attach()) {
            return {tls_attempt::next::done, error_, 0};
        }
        before_call();
        const int r = ::SSL_do_handshake(ssl_);
        if (r == 1) {
            handshaken_ = true;
            return {};
        }
        tls_attempt a = after_call(r);
        if (a.what == tls_attempt::next::done)
            a.ec = classify_tls_error(a.ec, ssl_);
        return a;
    }

    tls_attempt attempt_read(boost::asio::mutable_buffer b) {
        return attempt_io(b, &::SSL_read_ex);
    }

    tls_attempt attempt_write(boost::asio::const_buffer b) {
        return attempt_io(b, &::SSL_write_ex);
    }

    // Connects OpenSSL to the socket, once, and makes the socket non-blocking.
    bool attach() {
        if (attached_)
            return true;
        if (!socket_.is_open()) {
            error_ = boost::asio::error::not_connected;
            return false;
        }
        socket_.native_non_blocking(true, error_);
        if (error_)
            return false;
        ::ERR_clear_error();
        BIO_METHOD* method = bio_method();
        BIO* bio = method ? ::BIO_new(method) : nullptr;
        if (!bio) {
            error_ = last_ssl_error();
            return false;
        }
        ::BIO_set_data(bio, this);
        ::BIO_set_init(bio, 1);
        ::SSL_set_bio(ssl_, bio, bio); // one reference, taken by the SSL object
        attached_ = true;
        return true;
    }

    // One SSL_read_ex or SSL_write_ex call on the bytes of `b`.
    template <class Buffer, class Call>
    tls_attempt attempt_io(Buffer b, Call call) {
        if (b.size() == 0)
            return {};
        if (!handshaken_)
            return {tls_attempt::next::done, boost::asio::error::not_connected, 0};
        before_call();
        std::size_t n = 0;
        const int r = call(ssl_, b.data(), b.size(), &n);
        if (r == 1)
            return {tls_attempt::next::done, {}, n};
        return after_call(r);
    }

    void before_call() noexcept {
        ::ERR_clear_error();
        sys_errno_ = 0;
        eof_ = false;
    }

    tls_attempt after_call(int r) {
        switch (::SSL_get_error(ssl_, r)) {
        case SSL_ERROR_WANT_READ:
            return {tls_attempt::next::wait_read, {}, 0};
        case SSL_ERROR_WANT_WRITE:
            return {tls_attempt::next::wait_write, {}, 0};
        case SSL_ERROR_ZERO_RETURN:
            return {tls_attempt::next::done, boost::asio::error::eof, 0};
        case SSL_ERROR_SYSCALL:
            if (::ERR_peek_error() != 0)
                return {tls_attempt::next::done, last_ssl_error(), 0};
            if (sys_errno_ != 0)
                return {tls_attempt::next::done,
                        error_code(sys_errno_, boost::asio::error::get_system_category()), 0};
            return {tls_attempt::next::done, boost::asio::ssl::error::stream_truncated, 0};
        default:
            return {tls_attempt::next::done, last_ssl_error(), 0};
        }
    }

    // The first error on OpenSSL's queue as an error_code; the queue is left empty.
    static error_code last_ssl_error() {
        const unsigned long e = ::ERR_get_error();
        ::ERR_clear_error();
        if (e == 0)
            return boost::asio::ssl::error::unspecified_system_error;
        if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
            ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            return boost::asio::ssl::error::stream_truncated;
        return error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
    }

    // The BIO OpenSSL reads and writes the socket through.
    static BIO_METHOD* bio_method() {
        static BIO_METHOD* const method = [] {
            BIO_METHOD* m =
                ::BIO_meth_new(::BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "atomcloud socket");
            if (m &&
                (!::BIO_meth_set_write_ex(m, &bio_write) || !::BIO_meth_set_read_ex(m, &bio_read) ||
                 !::BIO_meth_set_ctrl(m, &bio_ctrl))) {
                ::BIO_meth_free(m);
                m = nullptr;
            }
            return m;
        }();
        return method;
    }

    static bool would_block(int e) noexcept {
        return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
    }

    static int bio_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
        auto* self = static_cast<tls_socket*>(::BIO_get_data(bio));
        ::BIO_clear_retry_flags(bio);
        *written = 0;
        const ::ssize_t n = ::send(self->socket_.native_handle(), data, size, MSG_NOSIGNAL);
        if (n >= 0) {
            *written = static_cast<std::size_t>(n);
            return 1;
        }
        if (would_block(errno))
            ::BIO_set_retry_write(bio);
        else
            self->sys_errno_ = errno;
        return 0;
    }

    static int bio_read(BIO* bio, char* data, std::size_t size, std::size_t* read) {
        auto* self = static_cast<tls_socket*>(::BIO_get_data(bio));
        ::BIO_clear_retry_flags(bio);
        *read = 0;
        const ::ssize_t n = ::recv(self->socket_.native_handle(), data, size, 0);
        if (n > 0) {
            *read = static_cast<std::size_t>(n);
            return 1;
        }
        if (n == 0)
            self->eof_ = true; // end of stream: OpenSSL asks BIO_eof() what a 0 means
        else if (would_block(errno))
            ::BIO_set_retry_read(bio);
        else
            self->sys_errno_ = errno;
        return 0;
    }

    static long bio_ctrl(BIO* bio, int cmd, long, void*) {
        switch (cmd) {
        case BIO_CTRL_FLUSH:
            return 1; // nothing is buffered here
        case BIO_CTRL_EOF:
            return static_cast<tls_socket*>(::BIO_get_data(bio))->eof_ ? 1 : 0;
        default:
            return 0;
        }
    }

    boost::asio::ip::tcp::socket socket_;
    SSL* ssl_ = nullptr;
    error_code error_;  // why attach() failed
    int sys_errno_ = 0; // errno of the socket call that failed during the last SSL_* call
    bool eof_ = false;  // the last recv saw the end of the stream
    bool attached_ = false;
    bool handshaken_ = false;
};

} // namespace atomcloud::detail

#endif
