// Heap held by idle, subscribed sessions: N sessions connected to the emulator (run in a
// child process, so that its memory is not counted), each subscribed to a device, left idle
// past the point where a quiet link gives its buffers back; the heap in use (glibc's
// mallinfo2) before and after, per session. Next to N bare Beast WSS streams
// (websocket::stream over beast::ssl_stream) on the same emulator, handshaken, each with a
// read pending. Both share one TLS context, which is not counted.
//
//   session_memory            100 of each (use a Release build without sanitizers)
//   session_memory --smoke    5 of each: only checks that it all works
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/session.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using namespace std::chrono_literals;

namespace {

struct cloud_info {
    unsigned short port = 0;
    std::string token;
    std::string ca_pem;
};

// Starts the emulator in a child process; returns what clients need.
cloud_info start_emulator(pid_t& child) {
    int fds[2];
    if (::pipe(fds) != 0)
        throw std::runtime_error("pipe failed");
    child = ::fork();
    if (child < 0)
        throw std::runtime_error("fork failed");
    if (child == 0) {
        ::close(fds[0]);
        try {
            atomcloud::emulator::options opts;
            opts.websocket_idle_timeout = std::chrono::hours(1);
            atomcloud::emulator::server cloud(opts);
            const auto cfg = cloud.client_config();
            const std::string info = cfg.base_url + "\n" + cfg.token + "\n" + cfg.tls.ca_pem;
            if (::write(fds[1], info.data(), info.size()) < 0)
                std::_Exit(1);
            ::close(fds[1]);
            for (;;)
                ::pause();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "session_memory: emulator: %s\n", e.what());
            std::_Exit(1);
        }
    }
    ::close(fds[1]);
    std::string text;
    char buf[4096];
    for (::ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    const auto nl1 = text.find('\n');
    const auto nl2 = text.find('\n', nl1 + 1);
    if (nl1 == std::string::npos || nl2 == std::string::npos)
        throw std::runtime_error("the emulator did not start");
    cloud_info info;
    const std::string url = text.substr(0, nl1);
    info.port = static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1)));
    info.token = text.substr(nl1 + 1, nl2 - nl1 - 1);
    info.ca_pem = text.substr(nl2 + 1);
    return info;
}

std::size_t heap_in_use() {
    return mallinfo2().uordblks;
}

void run_for(asio::io_context& io, std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
}

// Heap per idle subscribed session.
double measure_sessions(const cloud_info& cloud, std::shared_ptr<ssl::context> ctx, int n) {
    asio::io_context io;
    atomcloud::config cfg;
    cfg.base_url = "https://127.0.0.1:" + std::to_string(cloud.port);
    cfg.token = cloud.token;
    cfg.tls.context = std::move(ctx);
    const atomcloud::device_number device{"18846494908532689575"};
    run_for(io, 10ms); // the io_context's own first allocations
    const std::size_t before = heap_in_use();
    std::list<atomcloud::session> sessions;
    std::size_t connected = 0;
    for (int i = 0; i < n; ++i) {
        auto& s = sessions.emplace_back(io.get_executor(), cfg, 1);
        s.async_subscribe(device, [](atomcloud::error_code) {});
        s.async_run([](atomcloud::error_code) {});
        s.async_receive([&](atomcloud::error_code, atomcloud::event_batch b) {
            for (const auto& ev : b)
                if (std::holds_alternative<atomcloud::session_connected>(ev))
                    ++connected;
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (connected < static_cast<std::size_t>(n)) {
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("the sessions did not connect");
        run_for(io, 10ms);
    }
    // Idle past the trim of quiet links' buffers (2 s), a read (wait) pending on each.
    for (int i = 0; i < n; ++i)
        for (auto& s : sessions)
            s.async_receive([](atomcloud::error_code, atomcloud::event_batch) {});
    run_for(io, 3s);
    const std::size_t after = heap_in_use();
    for (auto& s : sessions)
        s.stop();
    run_for(io, 2s);
    return static_cast<double>(after - before) / n;
}

// Heap per idle bare Beast WSS stream.
double measure_beast(const cloud_info& cloud, ssl::context& ctx, int n) {
    using stream_type = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
    asio::io_context io;
    run_for(io, 10ms);
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), cloud.port);
    const std::size_t before = heap_in_use();
    std::list<stream_type> streams;
    std::list<beast::flat_buffer> buffers;
    const std::string target = "/connection/" + cloud.token + "/org/1?token=bench";
    for (int i = 0; i < n; ++i) {
        auto& ws = streams.emplace_back(io, ctx);
        beast::get_lowest_layer(ws).connect(ep);
        ws.next_layer().handshake(ssl::stream_base::client);
        ws.handshake("127.0.0.1", target);
        auto& buf = buffers.emplace_back();
        ws.async_read(buf, [](beast::error_code, std::size_t) {});
    }
    run_for(io, 3s);
    const std::size_t after = heap_in_use();
    for (auto& ws : streams)
        beast::get_lowest_layer(ws).close();
    run_for(io, 100ms);
    return static_cast<double>(after - before) / n;
}

} // namespace

int main(int argc, char** argv) {
    const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
    const int n = smoke ? 5 : 100;
    pid_t child = -1;
    int rc = 0;
    try {
        const cloud_info cloud = start_emulator(child);
        auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
        ctx->add_certificate_authority(asio::buffer(cloud.ca_pem));
        ctx->set_verify_mode(ssl::verify_peer);
        const double beast_each = measure_beast(cloud, *ctx, n);
        const double ours_each = measure_sessions(cloud, ctx, n);
        std::printf("heap per idle connection, %d of each (shared TLS context not counted):\n", n);
        std::printf("  bare Beast WSS stream, a read pending: %8.0f bytes\n", beast_each);
        std::printf("  atomcloud::session, subscribed, idle:  %8.0f bytes\n", ours_each);
        std::printf("  session / beast: %.2f\n", ours_each / beast_each);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "session_memory: %s\n", e.what());
        rc = 1;
    }
    if (child > 0) {
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
    }
    return rc;
}
