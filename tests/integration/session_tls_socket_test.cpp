// detail::tls_socket against a small TLS server in the test (asio::ssl::stream, server
// side, on 127.0.0.1) with certificates made here: handshake, concurrent reads and writes,
// large transfers, the ways a stream ends, cancellation, certificate verification with
// its reason in words, SNI, and the heap an idle stream holds.
//
// Client and server run on the test's io_context, on the test's thread; each test runs it
// until a condition holds.
#include <atomcloud/detail/tls_socket.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <catch2/catch.hpp>

#include "../run_until.hpp"
#include "test_certificates.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ATOMCLOUD_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATOMCLOUD_TEST_ASAN 1
#endif
#endif
#ifdef ATOMCLOUD_TEST_ASAN
// From the sanitizer runtime (its header is not always installed).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using atomcloud::client_errc;
using atomcloud::error_code;
using atomcloud::detail::base_url;
using atomcloud::detail::tls_socket;
using atomcloud_test::leaf_spec;
using atomcloud_test::test_ca;

namespace {

using server_stream = ssl::stream<tcp::socket>;

// Bytes 0..n-1 of a recognisable pattern that does not repeat every 256 bytes.
std::string pattern(std::size_t n, std::uint32_t seed = 1) {
    std::string out(n, '\0');
    std::uint32_t x = seed;
    for (auto& c : out) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return out;
}

std::size_t heap_in_use() {
#ifdef ATOMCLOUD_TEST_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

// A CA, a server context presenting a leaf certificate it signed, and a client context
// trusting it; a listening socket on 127.0.0.1; the io_context both sides run on.
class tls_fixture {
public:
    explicit tls_fixture(const leaf_spec& leaf = leaf_spec{{"localhost"}, {"127.0.0.1"}})
        : server_ctx(ssl::context::tls_server), client_ctx(ssl::context::tls_client),
          acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        use_server_certificate(ca.issue(leaf));
        client_ctx.add_certificate_authority(asio::buffer(ca.pem()));
    }

    void use_server_certificate(const atomcloud_test::key_pair_pem& kp) {
        server_ctx.use_certificate_chain(asio::buffer(kp.certificate));
        server_ctx.use_private_key(asio::buffer(kp.private_key), ssl::context::pem);
    }

    template <class Pred>
    bool until(Pred done, std::chrono::milliseconds limit = 30s) {
        return atomcloud_test::run_until(io, done, limit);
    }

    // One connection: the server side (accepted, handshaken) and the client side.
    struct link {
        std::unique_ptr<server_stream> server;
        std::unique_ptr<tls_socket> client;
        std::optional<error_code> client_handshake;
        std::optional<error_code> server_handshake;
    };

    // Connects a client to the server and runs both handshakes. `host` is what the client
    // believes it connects to (SNI, verification); the TCP connection always goes to
    // 127.0.0.1.
    link connect(const std::string& host = "127.0.0.1", bool verify = true) {
        link l;
        l.server = std::make_unique<server_stream>(io, server_ctx);
        l.client = std::make_unique<tls_socket>(io.get_executor(), client_ctx);
        std::optional<error_code> accepted, connected;
        acceptor.async_accept(l.server->next_layer(), [&](error_code ec) { accepted = ec; });
        l.client->socket().async_connect(acceptor.local_endpoint(),
                                         [&](error_code ec) { connected = ec; });
        REQUIRE(until([&] { return accepted && connected; }));
        REQUIRE_FALSE(*accepted);
        REQUIRE_FALSE(*connected);

        const base_url url{host, std::to_string(acceptor.local_endpoint().port()), ""};
        error_code ec;
        l.client->prepare(url, verify, ec);
        REQUIRE_FALSE(ec);
        auto* server_result = &l.server_handshake;
        auto* client_result = &l.client_handshake;
        l.server->async_handshake(ssl::stream_base::server,
                                  [server_result](error_code e) { *server_result = e; });
        l.client->async_handshake([client_result](error_code e) { *client_result = e; });
        REQUIRE(until([&] { return l.client_handshake && l.server_handshake; }));
        return l;
    }

    // connect() that must succeed.
    link connected(const std::string& host = "127.0.0.1") {
        link l = connect(host);
        REQUIRE_FALSE(*l.client_handshake);
        REQUIRE_FALSE(*l.server_handshake);
        return l;
    }

    asio::io_context io;
    test_ca ca;
    ssl::context server_ctx;
    ssl::context client_ctx;
    tcp::acceptor acceptor;
};

// The server echoes what it reads until the stream ends.
struct echo_server : std::enable_shared_from_this<echo_server> {
    explicit echo_server(server_stream& s) : stream(s) {}
    server_stream& stream;
    std::array<char, 4096> buf{};
    std::optional<error_code> ended;

    void start() {
        stream.async_read_some(
            asio::buffer(buf), [self = shared_from_this()](error_code ec, std::size_t n) {
                if (ec) {
                    self->ended = ec;
                    return;
                }
                asio::async_write(self->stream, asio::buffer(self->buf.data(), n),
                                  [self](error_code wec, std::size_t) {
                                      if (wec)
                                          self->ended = wec;
                                      else
                                          self->start();
                                  });
            });
    }
};

} // namespace

TEST_CASE("tls_socket: echo with a read and a write in flight at once", "[tls_socket]") {
    tls_fixture f;
    auto l = f.connected();
    auto echo = std::make_shared<echo_server>(*l.server);
    echo->start();

    // Small pieces, gathered into records by async_write_some, then one large buffer.
    const std::string sent = pattern(48 * 1024);
    std::vector<asio::const_buffer> pieces;
    std::size_t offset = 0;
    for (std::size_t n = 1; offset + n <= 6000; offset += n, n += 37)
        pieces.emplace_back(sent.data() + offset, n);
    pieces.emplace_back(sent.data() + offset, sent.size() - offset);

    std::string received(sent.size(), '\0');
    std::optional<error_code> write_done, read_done;
    std::size_t written = 0, read = 0;
    // The read starts first and cannot finish before the last byte was written and echoed:
    // the write runs with the read in flight all along.
    asio::async_read(*l.client, asio::buffer(received), [&](error_code ec, std::size_t n) {
        read_done = ec;
        read = n;
    });
    asio::async_write(*l.client, pieces, [&](error_code ec, std::size_t n) {
        write_done = ec;
        written = n;
    });
    REQUIRE(f.until([&] { return write_done && read_done; }));
    CHECK_FALSE(*write_done);
    CHECK_FALSE(*read_done);
    CHECK(written == sent.size());
    CHECK(read == sent.size());
    CHECK(received == sent);
    CHECK_FALSE(echo->ended.has_value());
}

TEST_CASE("tls_socket: 1 MB each way at the same time, in chunks", "[tls_socket]") {
    tls_fixture f;
    auto l = f.connected();
    const std::size_t size = 1024 * 1024;
    const std::string up = pattern(size, 7);
    const std::string down = pattern(size, 11);

    // Server: reads all of `up`, and writes all of `down` meanwhile.
    std::string server_got(size, '\0');
    std::optional<error_code> server_read, server_wrote;
    asio::async_read(*l.server, asio::buffer(server_got),
                     [&](error_code ec, std::size_t) { server_read = ec; });
    asio::async_write(*l.server, asio::buffer(down),
                      [&](error_code ec, std::size_t) { server_wrote = ec; });

    // Client: writes `up` in 64 KB chunks, one after the other, and reads with
    // async_read_some into a 10000-byte buffer, appending.
    std::optional<error_code> client_wrote;
    std::size_t chunk = 0;
    std::function<void()> write_next = [&] {
        if (chunk * 65536 >= size) {
            client_wrote = error_code();
            return;
        }
        asio::async_write(*l.client, asio::buffer(up.data() + chunk * 65536, 65536),
                          [&](error_code ec, std::size_t) {
                              if (ec) {
                                  client_wrote = ec;
                                  return;
                              }
                              ++chunk;
                              write_next();
                          });
    };
    write_next();

    std::string client_got;
    std::array<char, 10000> buf{};
    std::optional<error_code> client_read;
    std::size_t reads = 0;
    std::function<void()> read_next = [&] {
        l.client->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t n) {
            if (ec) {
                client_read = ec;
                return;
            }
            ++reads;
            CHECK(n > 0);
            client_got.append(buf.data(), n);
            if (client_got.size() >= size)
                client_read = error_code();
            else
                read_next();
        });
    };
    read_next();

    REQUIRE(
        f.until([&] { return server_read && server_wrote && client_wrote && client_read; }, 60s));
    CHECK_FALSE(*server_read);
    CHECK_FALSE(*server_wrote);
    CHECK_FALSE(*client_wrote);
    CHECK_FALSE(*client_read);
    CHECK(server_got == up);
    CHECK(client_got == down);
    CHECK(reads >= size / 10000); // never more than the buffer per read
}

TEST_CASE("tls_socket: eof after the server's close_notify, and shutdown_send answers it",
          "[tls_socket]") {
    tls_fixture f;
    auto l = f.connected();
    // The server sends data, then close_notify, and waits for the client's close_notify.
    const std::string last = "last words";
    std::optional<error_code> server_wrote, server_shutdown;
    asio::async_write(*l.server, asio::buffer(last), [&](error_code ec, std::size_t) {
        server_wrote = ec;
        l.server->async_shutdown([&](error_code sec) { server_shutdown = sec; });
    });

    std::string got;
    std::array<char, 64> buf{};
    std::optional<error_code> ended;
    std::function<void()> read_next = [&] {
        l.client->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t n) {
            got.append(buf.data(), n);
            if (ec)
                ended = ec;
            else
                read_next();
        });
    };
    read_next();
    REQUIRE(f.until([&] { return ended.has_value(); }));
    CHECK(*ended == asio::error::eof);
    CHECK(got == last);
    CHECK_FALSE(server_shutdown.has_value()); // still waiting for ours

    l.client->shutdown_send();
    REQUIRE(f.until([&] { return server_shutdown.has_value(); }));
    CHECK_FALSE(*server_shutdown);
}

TEST_CASE("tls_socket: a TCP close without close_notify is stream_truncated", "[tls_socket]") {
    tls_fixture f;
    auto l = f.connected();
    std::array<char, 64> buf{};
    std::optional<error_code> read;
    l.client->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) { read = ec; });
    f.io.restart();
    f.io.poll(); // the read is now waiting for the socket
    CHECK_FALSE(read.has_value());
    l.server->next_layer().close();
    REQUIRE(f.until([&] { return read.has_value(); }));
    CHECK(*read == ssl::error::stream_truncated);
}

TEST_CASE("tls_socket: cancelling a pending read", "[tls_socket]") {
    tls_fixture f;
    auto l = f.connected();
    std::array<char, 64> buf{};

    SECTION("per-operation cancellation; the stream stays usable") {
        const auto type =
            GENERATE(asio::cancellation_type::terminal, asio::cancellation_type::partial,
                     asio::cancellation_type::total);
        asio::cancellation_signal signal;
        std::optional<error_code> read;
        l.client->async_read_some(
            asio::buffer(buf), asio::bind_cancellation_slot(
                                   signal.slot(), [&](error_code ec, std::size_t) { read = ec; }));
        f.io.restart();
        f.io.poll();
        CHECK_FALSE(read.has_value());
        signal.emit(type);
        REQUIRE(f.until([&] { return read.has_value(); }));
        CHECK(*read == asio::error::operation_aborted);

        const std::string more = "still here";
        std::optional<error_code> wrote;
        asio::async_write(*l.server, asio::buffer(more),
                          [&](error_code ec, std::size_t) { wrote = ec; });
        std::string got(more.size(), '\0');
        std::optional<error_code> read_again;
        asio::async_read(*l.client, asio::buffer(got),
                         [&](error_code ec, std::size_t) { read_again = ec; });
        REQUIRE(f.until([&] { return wrote && read_again; }));
        CHECK_FALSE(*read_again);
        CHECK(got == more);
    }

    SECTION("cancel() and close()") {
        const bool closing = GENERATE(false, true);
        std::optional<error_code> read;
        l.client->async_read_some(asio::buffer(buf),
                                  [&](error_code ec, std::size_t) { read = ec; });
        f.io.restart();
        f.io.poll();
        CHECK_FALSE(read.has_value());
        if (closing)
            l.client->close();
        else
            l.client->cancel();
        REQUIRE(f.until([&] { return read.has_value(); }));
        CHECK(*read == asio::error::operation_aborted);
    }
}

TEST_CASE("tls_socket: empty buffers complete at once with 0, never inline", "[tls_socket]") {
    tls_fixture f;
    auto l = f.connected();
    std::optional<std::pair<error_code, std::size_t>> read, wrote;
    l.client->async_read_some(asio::mutable_buffer(),
                              [&](error_code ec, std::size_t n) { read.emplace(ec, n); });
    l.client->async_write_some(std::vector<asio::const_buffer>{{}, {}},
                               [&](error_code ec, std::size_t n) { wrote.emplace(ec, n); });
    CHECK_FALSE(read.has_value()); // not from within the initiating function
    CHECK_FALSE(wrote.has_value());
    REQUIRE(f.until([&] { return read && wrote; }));
    CHECK_FALSE(read->first);
    CHECK(read->second == 0);
    CHECK_FALSE(wrote->first);
    CHECK(wrote->second == 0);
}

TEST_CASE("tls_socket: beast::http request and response over it", "[tls_socket]") {
    tls_fixture f;
    auto l = f.connected("localhost");

    http::request<http::empty_body> req{http::verb::get, "/ws?org=1", 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::user_agent, "atomcloud-test");
    req.set("X-Padding", std::string(3000, 'p'));
    std::optional<error_code> client_wrote;
    http::async_write(*l.client, req, [&](error_code ec, std::size_t) { client_wrote = ec; });

    boost::beast::flat_buffer server_buf;
    http::request<http::string_body> server_req;
    std::optional<error_code> server_read;
    http::async_read(*l.server, server_buf, server_req,
                     [&](error_code ec, std::size_t) { server_read = ec; });
    REQUIRE(f.until([&] { return client_wrote && server_read; }));
    REQUIRE_FALSE(*client_wrote);
    REQUIRE_FALSE(*server_read);
    CHECK(server_req.target() == "/ws?org=1");
    CHECK(server_req[http::field::user_agent] == "atomcloud-test");
    CHECK(server_req["X-Padding"].size() == 3000);

    http::response<http::string_body> res{http::status::ok, 11};
    res.body() = pattern(70000, 3);
    res.prepare_payload();
    std::optional<error_code> server_wrote;
    http::async_write(*l.server, res, [&](error_code ec, std::size_t) { server_wrote = ec; });
    boost::beast::flat_buffer client_buf;
    http::response<http::string_body> client_res;
    std::optional<error_code> client_read;
    http::async_read(*l.client, client_buf, client_res,
                     [&](error_code ec, std::size_t) { client_read = ec; });
    REQUIRE(f.until([&] { return server_wrote && client_read; }));
    REQUIRE_FALSE(*client_read);
    CHECK(client_res.result() == http::status::ok);
    CHECK(client_res.body() == res.body());
}

TEST_CASE("tls_socket: a certificate that fails verification says why", "[tls_socket]") {
    struct case_t {
        const char* what;
        leaf_spec leaf;
        const char* host;
        bool untrusted_ca;
        const char* reason;
    };
    const auto c = GENERATE(case_t{"expired",
                                   {{"localhost"}, {"127.0.0.1"}, -3 * 86400, -86400},
                                   "127.0.0.1",
                                   false,
                                   "expired"},
                            case_t{"not yet valid",
                                   {{"localhost"}, {"127.0.0.1"}, 86400, 2 * 86400},
                                   "localhost",
                                   false,
                                   "not yet valid"},
                            case_t{"for another host, reached by IP",
                                   {{"other.example"}, {}},
                                   "127.0.0.1",
                                   false,
                                   "mismatch"},
                            case_t{"for another host name",
                                   {{"other.example"}, {}},
                                   "localhost",
                                   false,
                                   "hostname mismatch"},
                            case_t{"from an unknown CA",
                                   {{"localhost"}, {"127.0.0.1"}},
                                   "localhost",
                                   true,
                                   "unable to get local issuer certificate"});
    INFO(c.what);
    tls_fixture f(c.leaf);
    if (c.untrusted_ca) {
        test_ca stranger("a CA nobody trusts");
        f.use_server_certificate(stranger.issue(c.leaf));
    }
    auto l = f.connect(c.host);
    CHECK(*l.client_handshake == client_errc::certificate_rejected);
    CHECK(*l.server_handshake); // the client's alert ends the server's handshake too
    const std::string why = l.client->verify_failure();
    INFO(why);
    CHECK(why.find(c.reason) != std::string::npos);

    // The same certificate with verification off is accepted, and nothing is reported.
    auto unchecked = f.connect(c.host, false);
    CHECK_FALSE(*unchecked.client_handshake);
    CHECK(unchecked.client->verify_failure().empty());
}

TEST_CASE("tls_socket: host name verified and sent as SNI", "[tls_socket]") {
    tls_fixture f(leaf_spec{{"localhost"}, {}});
    auto l = f.connected("localhost");
    CHECK(l.client->verify_failure().empty());
    const char* sni = SSL_get_servername(l.server->native_handle(), TLSEXT_NAMETYPE_host_name);
    REQUIRE(sni != nullptr);
    CHECK(std::string(sni) == "localhost");

    // No SNI for an IP literal (RFC 6066), and an IP literal is checked as an address.
    tls_fixture by_ip(leaf_spec{{}, {"127.0.0.1"}});
    auto m = by_ip.connected("127.0.0.1");
    CHECK(SSL_get_servername(m.server->native_handle(), TLSEXT_NAMETYPE_host_name) == nullptr);
}

TEST_CASE("tls_socket: heap held by an idle stream after its handshake", "[tls_socket][memory]") {
    tls_fixture f;
    constexpr std::size_t count = 50;
    std::vector<tls_fixture::link> links;
    links.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        links.push_back(f.connected());
    // Let the servers' post-handshake messages (TLS 1.3 session tickets) reach the
    // clients' sockets; the clients do not read them yet.
    f.io.restart();
    f.io.run_for(20ms);

    // What destroying the 50 client streams gives back is what they held.
    const std::size_t with_clients = heap_in_use();
    for (auto& l : links)
        l.client.reset();
    const std::size_t without_clients = heap_in_use();
    REQUIRE(with_clients > without_clients);
    const std::size_t per_stream = (with_clients - without_clients) / count;
    WARN("heap held by one idle, handshaken tls_socket: " << per_stream << " bytes");
    CHECK(per_stream < 32 * 1024);
}
