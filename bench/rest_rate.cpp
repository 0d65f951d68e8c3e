// End-to-end REST request rate against the in-process emulator over verified TLS on
// loopback: sequential requests on one keep-alive connection, then 64 requests kept in
// flight over the connection pool (4 connections). With --smoke: a few requests only.
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

} // namespace

int main(int argc, char** argv) {
    const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
    const int sequential = smoke ? 20 : 2000;
    const int concurrent = smoke ? 50 : 10000;

    atomcloud::emulator::server cloud;
    boost::asio::io_context io;
    atomcloud::config cfg = cloud.client_config();
    cfg.max_connections = 4;
    atomcloud::rest_client api(io.get_executor(), cfg);

    // Sequential: one keep-alive connection, each request waits for the previous.
    api.list_devices(1, 45); // connect once before timing
    auto start = clock_type::now();
    for (int i = 0; i < sequential; ++i)
        if (api.list_devices(1, 45).size() != 2)
            return 1;
    const double seq_s = seconds_since(start);

    // Concurrent: 64 requests in flight at any time, over the pool.
    int started = 0, done = 0, failed = 0;
    std::function<void()> launch = [&] {
        ++started;
        api.async_list_devices(1, 45, [&](atomcloud::error_code ec, auto devices) {
            ++done;
            if (ec || devices.size() != 2)
                ++failed;
            if (started < concurrent)
                launch();
        });
    };
    start = clock_type::now();
    for (int i = 0; i < 64 && started < concurrent; ++i)
        launch();
    io.restart();
    io.run();
    const double conc_s = seconds_since(start);

    const auto stats = api.stats();
    std::printf("sequential: %d requests in %.3f s = %.0f req/s (%.1f us each)\n", sequential,
                seq_s, sequential / seq_s, seq_s / sequential * 1e6);
    std::printf("concurrent (64 in flight, %zu connections): %d requests in %.3f s = %.0f req/s\n",
                cfg.max_connections, concurrent, conc_s, concurrent / conc_s);
    std::printf("connections opened: %llu, requests: %llu, reused: %llu\n",
                static_cast<unsigned long long>(stats.connections_opened),
                static_cast<unsigned long long>(stats.requests),
                static_cast<unsigned long long>(stats.reused));
    return failed == 0 && done == concurrent ? 0 : 1;
}
