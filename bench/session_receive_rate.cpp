// Receive rate of atomcloud::session against a local TLS WebSocket server that is not the
// bottleneck, next to peers timed in the same run on the same stream:
//  - a synchronous Beast read loop (the transport's ceiling: no scheduler in the way; that
//    it reads far faster than the others also shows the server is not what limits them),
//  - a bare Beast async_read loop,
//  - Node.js's `ws` package, when `node` and `ws` are installed (Debian: nodejs, node-ws).
//
// The server accepts one client (Beast does the TLS and WebSocket handshakes), then writes
// pre-encoded server frames (unmasked 0x82 binary frames, each carrying an encoded 0x06
// device message) in large chunks straight to the TLS stream: almost no work per message.
// The clients count device messages from the first one to the last. The session's run
// also counts heap allocations between its first and last message (this program replaces
// the global operator new to count them).
//
//   session_receive_rate            full run: rounds of every client, interleaved; medians
//   session_receive_rate --smoke    a quick run that only checks it all works
//   session_receive_rate beast|sync|session|node [payload] [count]   one client (profiling)
#include <atomcloud/frame.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// Heap allocations of the whole process, counted.
std::atomic<std::size_t> g_allocations{0};

namespace {

const atomcloud::device_number device{"18846494908532689575"};

// ------------------------------------------------------------------ a certificate

struct tls_material {
    std::string cert_pem;
    std::string key_pem;
};

std::string bio_string(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// A fresh self-signed P-256 certificate for 127.0.0.1.
tls_material make_certificate() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    if (!key || !cert)
        throw std::runtime_error("cannot create a key");
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(cert, san, -1);
    X509_EXTENSION_free(san);
    if (!X509_sign(cert, key, EVP_sha256()))
        throw std::runtime_error("cannot sign the certificate");
    tls_material m;
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, cert);
    m.cert_pem = bio_string(b);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    m.key_pem = bio_string(b);
    BIO_free(b);
    X509_free(cert);
    EVP_PKEY_free(key);
    return m;
}

// ------------------------------------------------------------------ the flood server

// `count` server frames of device messages with `payload_size` bytes, as one contiguous
// chunk of `per_chunk` frames repeated.
std::vector<std::uint8_t> make_chunk(std::size_t payload_size, std::size_t per_chunk) {
    const atomcloud::bytes payload(payload_size, 0x5A);
    const atomcloud::bytes frame =
        atomcloud::encode_frame(atomcloud::device_data_frame{device, payload});
    std::vector<std::uint8_t> one;
    one.push_back(0x82); // FIN + binary
    if (frame.size() < 126) {
        one.push_back(static_cast<std::uint8_t>(frame.size()));
    } else {
        one.push_back(126);
        one.push_back(static_cast<std::uint8_t>(frame.size() >> 8));
        one.push_back(static_cast<std::uint8_t>(frame.size() & 0xff));
    }
    one.insert(one.end(), frame.begin(), frame.end());
    std::vector<std::uint8_t> chunk;
    chunk.reserve(one.size() * per_chunk);
    for (std::size_t i = 0; i < per_chunk; ++i)
        chunk.insert(chunk.end(), one.begin(), one.end());
    return chunk;
}

// Accepts one WebSocket client over TLS on its own thread, floods it with `count`
// messages, then waits for the client's close.
class flood_server {
public:
    flood_server(const tls_material& m, std::size_t payload_size, std::size_t count)
        : ctx_(ssl::context::tls_server),
          acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        ctx_.use_certificate_chain(asio::buffer(m.cert_pem));
        ctx_.use_private_key(asio::buffer(m.key_pem), ssl::context::pem);
        per_chunk_ = std::max<std::size_t>(1, 64 * 1024 / (payload_size + 30));
        chunk_ = make_chunk(payload_size, per_chunk_);
        thread_ = std::thread([this, count] { serve(count); });
    }
    ~flood_server() {
        if (thread_.joinable())
            thread_.join();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    const std::string& error() const { return error_; }

private:
    void serve(std::size_t count) {
        try {
            websocket::stream<beast::ssl_stream<tcp::socket>> ws(io_, ctx_);
            acceptor_.accept(beast::get_lowest_layer(ws));
            ws.next_layer().handshake(ssl::stream_base::server);
            ws.accept();
            std::size_t sent = 0;
            const std::size_t frame_size = chunk_.size() / per_chunk_;
            while (sent < count) {
                const std::size_t n = std::min(per_chunk_, count - sent);
                asio::write(ws.next_layer(), asio::buffer(chunk_.data(), n * frame_size));
                sent += n;
            }
            // Let Beast answer the client's close handshake.
            beast::flat_buffer buf;
            beast::error_code ec;
            while (!ec) {
                ws.read(buf, ec);
                buf.clear();
            }
        } catch (const std::exception& e) {
            error_ = e.what();
        }
    }

    asio::io_context io_;
    ssl::context ctx_;
    tcp::acceptor acceptor_;
    std::size_t per_chunk_ = 1;
    std::vector<std::uint8_t> chunk_;
    std::thread thread_;
    std::string error_;
};

// ------------------------------------------------------------------ the clients

struct result {
    std::size_t messages = 0;
    double seconds = 0;
};

using clock_type = std::chrono::steady_clock;

// A client context trusting the server's certificate.
ssl::context client_context(const tls_material& m) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(m.cert_pem));
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
}

// TCP, TLS and WebSocket handshakes of a Beast client with the flood server.
template <class Stream>
void connect_beast(Stream& ws, const flood_server& server) {
    beast::get_lowest_layer(ws).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    ws.next_layer().handshake(ssl::stream_base::client);
    ws.handshake("127.0.0.1", "/connection/t/org/1?token=x");
}

// The baseline: Beast's async_read into a flat_buffer, nothing else.
result run_beast(const tls_material& m, std::size_t payload_size, std::size_t count) {
    flood_server server(m, payload_size, count);
    asio::io_context io;
    ssl::context ctx = client_context(m);
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(io, ctx);
    connect_beast(ws, server);

    beast::flat_buffer buffer;
    result r;
    clock_type::time_point first, last;
    std::function<void(beast::error_code, std::size_t)> on_read = [&](beast::error_code ec,
                                                                      std::size_t) {
        if (ec)
            throw beast::system_error(ec);
        if (r.messages++ == 0)
            first = clock_type::now();
        buffer.consume(buffer.size());
        if (r.messages == count) {
            last = clock_type::now();
            ws.async_close(websocket::close_code::normal, [](beast::error_code) {});
            return;
        }
        ws.async_read(buffer, on_read);
    };
    ws.async_read(buffer, on_read);
    io.run();
    r.seconds = std::chrono::duration<double>(last - first).count();
    return r;
}

// The ceiling: Beast's synchronous read, no scheduler involved.
result run_beast_sync(const tls_material& m, std::size_t payload_size, std::size_t count) {
    flood_server server(m, payload_size, count);
    asio::io_context io;
    ssl::context ctx = client_context(m);
    websocket::stream<beast::ssl_stream<tcp::socket>> ws(io, ctx);
    connect_beast(ws, server);
    beast::flat_buffer buffer;
    result r;
    clock_type::time_point first;
    while (r.messages < count) {
        ws.read(buffer);
        if (r.messages++ == 0)
            first = clock_type::now();
        buffer.consume(buffer.size());
    }
    r.seconds = std::chrono::duration<double>(clock_type::now() - first).count();
    ws.close(websocket::close_code::normal);
    return r;
}

// Node.js's ws package, in a child process; nothing when node or ws is missing.
std::optional<result> run_node(const tls_material& m, std::size_t payload_size, std::size_t count) {
    static const bool available =
        std::system("NODE_PATH=/usr/share/nodejs node -e \"require('ws')\" >/dev/null 2>&1") == 0;
    if (!available)
        return std::nullopt;
    flood_server server(m, payload_size, count);
    const std::string ca = "/tmp/atomcloud-bench-ca-" + std::to_string(server.port()) + ".pem";
    std::ofstream(ca) << m.cert_pem;
    const std::string cmd = "NODE_PATH=/usr/share/nodejs node " ATOMCLOUD_BENCH_DIR
                            "/session_receive_node.js " +
                            std::to_string(server.port()) + " " + ca + " " + std::to_string(count);
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe)
        return std::nullopt;
    result r;
    const int n = std::fscanf(pipe, "%zu %lf", &r.messages, &r.seconds);
    ::pclose(pipe);
    std::remove(ca.c_str());
    if (n != 2)
        throw std::runtime_error("the node peer failed");
    return r;
}

// Ours: a session, async_receive in a loop, batches recycled.
result run_session(const tls_material& m, std::size_t payload_size, std::size_t count,
                   double* allocs_per_message = nullptr) {
    flood_server server(m, payload_size, count);
    asio::io_context io;
    atomcloud::config cfg;
    cfg.base_url = "https://127.0.0.1:" + std::to_string(server.port());
    cfg.token = "bench-token";
    cfg.tls.ca_pem = m.cert_pem;
    cfg.session.max_pending_events = 1 << 20;
    cfg.session.max_pending_bytes = 64 << 20;
    atomcloud::session s(io.get_executor(), cfg, 1);
    s.async_subscribe(device, [](atomcloud::error_code) {});
    atomcloud::error_code run_ec;
    s.async_run([&](atomcloud::error_code ec) { run_ec = ec; });

    result r;
    std::size_t batches = 0;
    std::size_t allocs_first = 0, allocs_last = 0, messages_first = 0;
    clock_type::time_point first, last;
    std::function<void(atomcloud::error_code, atomcloud::event_batch)> on_batch =
        [&](atomcloud::error_code ec, atomcloud::event_batch batch) {
            if (ec)
                throw atomcloud::error(ec);
            ++batches;
            for (const auto& ev : batch) {
                if (auto* msg = std::get_if<atomcloud::device_message>(&ev)) {
                    if (r.messages++ == 0)
                        first = clock_type::now();
                    if (r.messages == count / 10) { // steady state from here on
                        allocs_first = g_allocations.load();
                        messages_first = r.messages;
                    }
                    if (msg->payload.size() != payload_size)
                        throw std::runtime_error("wrong payload size");
                }
            }
            s.recycle(std::move(batch));
            if (r.messages >= count) {
                last = clock_type::now();
                allocs_last = g_allocations.load();
                s.stop();
                return;
            }
            s.async_receive(on_batch);
        };
    s.async_receive(on_batch);
    io.run();
    if (run_ec != atomcloud::client_errc::session_stopped)
        throw std::runtime_error("session ended with: " + run_ec.message());
    r.seconds = std::chrono::duration<double>(last - first).count();
    const double per_message = static_cast<double>(allocs_last - allocs_first) /
                               static_cast<double>(r.messages - messages_first);
    if (allocs_per_message)
        *allocs_per_message = per_message;
    std::printf("    (session: %zu batches, %.1f messages per batch, %.4f heap allocations per "
                "message in the steady state)\n",
                batches, static_cast<double>(r.messages) / static_cast<double>(batches),
                per_message);
    // The metrics are kept on this path: they must have seen every message.
    const auto mm = s.metrics();
    if (mm.messages_received < r.messages || mm.bytes_received < r.messages * (payload_size + 21))
        throw std::runtime_error("metrics missed messages");
    return r;
}

void report(const char* name, const result& r, std::size_t payload_size) {
    const double rate = static_cast<double>(r.messages) / r.seconds;
    const double mb = rate * static_cast<double>(payload_size) / 1e6;
    std::printf("  %-22s %9zu msgs in %7.3f s: %10.0f msgs/s  %8.1f MB/s payload\n", name,
                r.messages, r.seconds, rate, mb);
}

double rate(const result& r) {
    return static_cast<double>(r.messages) / r.seconds;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

// The replacements below pair malloc with free themselves; GCC cannot see that. Under
// AddressSanitizer (the test build's smoke run) they are left out: its own operators
// must see every allocation, and the count is only worth reading in a Release build.
#if !defined(__SANITIZE_ADDRESS__)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
#endif

int main(int argc, char** argv) {
    const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
    try {
        const tls_material m = make_certificate();
        if (argc > 1 && !smoke) {
            const std::string which = argv[1];
            const std::size_t payload = argc > 2 ? std::stoul(argv[2]) : 16;
            const std::size_t count = argc > 3 ? std::stoul(argv[3]) : 3000000;
            if (which == "beast")
                report("beast async_read loop", run_beast(m, payload, count), payload);
            else if (which == "sync")
                report("beast sync read loop", run_beast_sync(m, payload, count), payload);
            else if (which == "session")
                report("atomcloud::session", run_session(m, payload, count), payload);
            else if (which == "node") {
                auto r = run_node(m, payload, count);
                if (!r)
                    throw std::runtime_error("node or its ws package is not installed");
                report("node ws", *r, payload);
            } else
                throw std::runtime_error("usage: session_receive_rate [--smoke | "
                                         "beast|sync|session|node [payload] [count]]");
            return 0;
        }
        struct run {
            std::size_t payload;
            std::size_t count;
        };
        const std::vector<run> runs = smoke ? std::vector<run>{{16, 20000}, {1024, 2000}}
                                            : std::vector<run>{{16, 2000000}, {1024, 300000}};
        const int rounds = smoke ? 1 : 5;
        for (const auto& rn : runs) {
            std::printf("payload %zu bytes, %zu messages, %d round(s), medians:\n", rn.payload,
                        rn.count, rounds);
            std::vector<double> sync_r, async_r, node_r, ours_r, allocs;
            for (int round = 0; round < rounds; ++round) {
                const result sync = run_beast_sync(m, rn.payload, rn.count);
                const result base = run_beast(m, rn.payload, rn.count);
                double per_message = 0;
                const result ours = run_session(m, rn.payload, rn.count, &per_message);
                const auto node = run_node(m, rn.payload, rn.count);
                if (sync.messages != rn.count || base.messages != rn.count ||
                    ours.messages != rn.count || (node && node->messages != rn.count))
                    throw std::runtime_error("messages missing");
                sync_r.push_back(rate(sync));
                async_r.push_back(rate(base));
                ours_r.push_back(rate(ours));
                allocs.push_back(per_message);
                if (node)
                    node_r.push_back(rate(*node));
            }
            auto line = [&](const char* name, double r) {
                std::printf("  %-24s %10.0f msgs/s  %8.1f MB/s payload\n", name, r,
                            r * static_cast<double>(rn.payload) / 1e6);
            };
            const double ours = median(ours_r);
            line("beast sync read loop", median(sync_r));
            line("beast async_read loop", median(async_r));
            if (!node_r.empty())
                line("node ws", median(node_r));
            line("atomcloud::session", ours);
            std::printf("  session / beast sync:  %.2f\n", ours / median(sync_r));
            std::printf("  session / beast async: %.2f\n", ours / median(async_r));
            if (!node_r.empty())
                std::printf("  session / node ws:     %.2f\n", ours / median(node_r));
            else
                std::printf("  (node ws not timed: node or its ws package is missing)\n");
            std::printf("  session heap allocations per message: %.4f\n", median(allocs));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "session_receive_rate: %s\n", e.what());
        return 1;
    }
    return 0;
}
