// How fast the emulator serves, end to end over loopback TLS:
//  - REST requests per second over one keep-alive connection (a sequential client);
//  - WebSocket messages per second delivered to one subscriber (device send -> 0x06),
//    and to ten subscribers at once.
// Usage: emulator_rate [--smoke]   (--smoke: a few iterations, to check that it works)
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr const char* device = "18846494908532689575";

ssl::context client_context(const atomcloud::emulator::server& cloud) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(cloud.ca_pem()));
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
}

template <class Stream>
void connect(Stream& s, asio::io_context& io, const atomcloud::emulator::server& cloud) {
    tcp::resolver resolver(io);
    asio::connect(beast::get_lowest_layer(s),
                  resolver.resolve("127.0.0.1", std::to_string(cloud.port())));
    beast::get_lowest_layer(s).set_option(tcp::no_delay(true));
}

double seconds_since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

/// Sequential GETs of `target` over one keep-alive connection; returns requests/s.
double rest_rate(atomcloud::emulator::server& cloud, const std::string& target, int n) {
    asio::io_context io;
    auto ctx = client_context(cloud);
    ssl::stream<tcp::socket> s(io, ctx);
    connect(s, io, cloud);
    s.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    s.handshake(ssl::stream_base::client);

    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set("token", cloud.token());
    beast::flat_buffer buffer;
    const auto t0 = steady::now();
    for (int i = 0; i < n; ++i) {
        http::write(s, req);
        http::response<http::string_body> res;
        http::read(s, buffer, res);
        if (res.result() != http::status::ok ||
            res.body().find("\"code\":200") == std::string::npos) {
            std::fprintf(stderr, "unexpected response: %s\n", res.body().c_str());
            std::exit(1);
        }
    }
    return n / seconds_since(t0);
}

/// `n` device messages delivered to `subscribers` sessions; returns messages/s received
/// by each session (the time until the last session got the last message).
double websocket_rate(atomcloud::emulator::server& cloud, int subscribers, int n,
                      std::size_t payload_size) {
    asio::io_context io;
    auto ctx = client_context(cloud);
    using ws_stream = websocket::stream<ssl::stream<tcp::socket>>;
    std::vector<std::unique_ptr<ws_stream>> sessions;
    for (int i = 0; i < subscribers; ++i) {
        auto ws = std::make_unique<ws_stream>(io, ctx);
        connect(*ws, io, cloud);
        ws->next_layer().set_verify_callback(ssl::host_name_verification("127.0.0.1"));
        ws->next_layer().handshake(ssl::stream_base::client);
        ws->handshake("127.0.0.1",
                      "/connection/" + cloud.token() + "/org/1?token=bench" + std::to_string(i));
        ws->binary(true);
        std::vector<std::uint8_t> sub(1, 0x01);
        sub.insert(sub.end(), device, device + 20);
        ws->write(asio::buffer(sub));
        sessions.push_back(std::move(ws));
    }
    if (!cloud.wait_subscribers(device, static_cast<std::size_t>(subscribers),
                                std::chrono::seconds(10))) {
        std::fprintf(stderr, "subscriptions did not arrive\n");
        std::exit(1);
    }

    std::atomic<int> failed{0};
    std::vector<std::thread> readers;
    for (auto& ws : sessions)
        readers.emplace_back([&ws, n, &failed] {
            beast::flat_buffer buf;
            for (int i = 0; i < n; ++i) {
                buf.clear();
                beast::error_code ec;
                ws->read(buf, ec);
                if (ec || buf.size() < 21 ||
                    static_cast<const std::uint8_t*>(buf.data().data())[0] != 0x06) {
                    ++failed;
                    return;
                }
            }
        });

    const std::string payload(payload_size, 'p');
    auto dev = cloud.device(device);
    const auto t0 = steady::now();
    for (int i = 0; i < n; ++i)
        dev.send(payload);
    for (auto& r : readers)
        r.join();
    const double rate = n / seconds_since(t0);
    if (failed) {
        std::fprintf(stderr, "a subscriber did not get every message\n");
        std::exit(1);
    }
    for (auto& ws : sessions) {
        beast::error_code ec;
        ws->close(websocket::close_code::normal, ec);
    }
    return rate;
}

} // namespace

int main(int argc, char** argv) {
    const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
    const int rest_n = smoke ? 50 : 5000;
    const int ws_n = smoke ? 200 : 50000;

    atomcloud::emulator::server cloud;
    auto dev = cloud.device(device);
    dev.connect();
    for (int i = 0; i < 30; ++i)
        dev.send("ALIENTEK-HRTDT");

    std::printf("emulator_rate%s\n", smoke ? " (smoke run: figures are meaningless)" : "");
    std::printf("  REST GET /api/orgs/1/devicestate/146, one keep-alive connection: %8.0f req/s\n",
                rest_rate(cloud, "/api/orgs/1/devicestate/146", rest_n));
    std::printf("  REST GET /api/orgs/1/devicepacket/... (30 items), keep-alive:     %8.0f req/s\n",
                rest_rate(cloud, std::string("/api/orgs/1/devicepacket/") + device, rest_n));
    std::printf("  WS device send -> 0x06 (16 bytes), 1 subscriber:               %8.0f msg/s\n",
                websocket_rate(cloud, 1, ws_n, 16));
    std::printf("  WS device send -> 0x06 (16 bytes), 10 subscribers (each):      %8.0f msg/s\n",
                websocket_rate(cloud, 10, ws_n / 5, 16));
    std::printf("  WS device send -> 0x06 (1 KiB), 1 subscriber:                  %8.0f msg/s\n",
                websocket_rate(cloud, 1, ws_n / 2, 1024));
    return 0;
}
