// End-to-end REST request rate against the in-process emulator over verified TLS on
// loopback:
//  - device lists: sequential requests on one keep-alive connection, then 64 requests
//    kept in flight over the connection pool (4 connections);
//  - history pages (30 and 1000 packets): sequential requests on one keep-alive
//    connection, then 8 in flight over the pool (does the emulator keep up with more than
//    one client?), and, when `node` is on the PATH, the same sequential GETs from Node.js's
//    `https` module (bench/rest_rate_peer.js) against the same emulator, side by side.
// The CPU time of the emulator's thread is reported as a share of the wall time, to show
// whether the server side bounds a rate.
// Usage: rest_rate [--smoke] [--peer path/to/rest_rate_peer.js]
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr const char* device = "18846494908532689575";

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

double cpu_seconds(int who) {
    rusage u{};
    getrusage(who, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU time of this process and of the calling thread around a timed section: the rest
// of the process is the emulator's thread.
struct cpu_probe {
    double wall0 = 0, self0 = 0, thread0 = 0, children0 = 0;
    clock_type::time_point start = clock_type::now();
    cpu_probe()
        : self0(cpu_seconds(RUSAGE_SELF)), thread0(cpu_seconds(RUSAGE_THREAD)),
          children0(cpu_seconds(RUSAGE_CHILDREN)) {}
    double wall() const { return seconds_since(start); }
    double client_thread() const { return cpu_seconds(RUSAGE_THREAD) - thread0; }
    double emulator() const {
        return (cpu_seconds(RUSAGE_SELF) - self0) - (cpu_seconds(RUSAGE_THREAD) - thread0);
    }
    double children() const { return cpu_seconds(RUSAGE_CHILDREN) - children0; }
};

bool have_node() {
    return std::system("command -v node >/dev/null 2>&1") == 0;
}

// Runs the Node peer; returns its rate (0 if it failed).
double run_node(const std::string& script, const atomcloud::emulator::server& cloud,
                const std::string& ca_file, const std::string& path, int n) {
    const std::string cmd = "node '" + script + "' '" + cloud.base_url() + "' '" + cloud.token() +
                            "' '" + ca_file + "' '" + path + "' " + std::to_string(n);
    FILE* out = popen(cmd.c_str(), "r");
    if (!out)
        return 0;
    double rate = 0;
    char line[512];
    while (std::fgets(line, sizeof line, out))
        if (std::strncmp(line, "rate ", 5) == 0)
            rate = std::strtod(line + 5, nullptr);
    return pclose(out) == 0 ? rate : 0;
}

} // namespace

int main(int argc, char** argv) {
    bool smoke = false;
    std::string peer = ATOMCLOUD_BENCH_DIR "/rest_rate_peer.js";
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--smoke") == 0)
            smoke = true;
        else if (std::strcmp(argv[i], "--peer") == 0 && i + 1 < argc)
            peer = argv[++i];
    }
    const int sequential = smoke ? 20 : 2000;
    const int concurrent = smoke ? 50 : 10000;

    atomcloud::emulator::server cloud;
    auto dev = cloud.device(device);
    dev.connect();
    // GBK readings and heartbeats, as the history of a real device holds.
    const std::string reading = "\xCE\xC2\xB6\xC8:23.5 \xCA\xAA\xB6\xC8:41%";
    for (int i = 0; i < 1000; ++i)
        dev.send(i % 3 == 0 ? std::string("ALIENTEK-HRTDT") : reading);

    boost::asio::io_context io;
    atomcloud::config cfg = cloud.client_config();
    cfg.max_connections = 4;
    atomcloud::rest_client api(io.get_executor(), cfg);

    std::printf("rest_rate%s\n", smoke ? " (smoke run: figures are meaningless)" : "");

    // Device lists, sequential: one keep-alive connection, each request waits for the last.
    api.list_devices(1, 45); // connect once before timing
    auto start = clock_type::now();
    for (int i = 0; i < sequential; ++i)
        if (api.list_devices(1, 45).size() != 2)
            return 1;
    const double seq_s = seconds_since(start);

    // Device lists, concurrent: 64 requests in flight at any time, over the pool.
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
    if (failed != 0 || done != concurrent)
        return 1;

    const auto stats = api.stats();
    std::printf("device list, sequential: %d requests in %.3f s = %.0f req/s (%.1f us each)\n",
                sequential, seq_s, sequential / seq_s, seq_s / sequential * 1e6);
    std::printf("device list, 64 in flight (%zu connections): %d requests in %.3f s = %.0f req/s\n",
                cfg.max_connections, concurrent, conc_s, concurrent / conc_s);
    std::printf("connections opened: %llu, requests: %llu, reused: %llu\n",
                static_cast<unsigned long long>(stats.connections_opened),
                static_cast<unsigned long long>(stats.requests),
                static_cast<unsigned long long>(stats.reused));

    // History pages.
    const bool node = !smoke && have_node() && std::filesystem::exists(peer);
    const std::string ca_file = (std::filesystem::temp_directory_path() /
                                 ("rest_rate_ca_" + std::to_string(getpid()) + ".pem"))
                                    .string();
    if (node)
        std::ofstream(ca_file) << cloud.ca_pem();

    for (const unsigned limit : {30u, 100u, 1000u}) {
        const int n = smoke ? 5 : (limit == 1000 ? 300 : 3000);
        atomcloud::packet_query q;
        q.limit = limit;
        if (api.packets(1, atomcloud::device_number(device), q).items.size() != limit)
            return 1;

        cpu_probe seq;
        for (int i = 0; i < n; ++i)
            if (api.packets(1, atomcloud::device_number(device), q).items.size() != limit)
                return 1;
        const double seq_wall = seq.wall();
        const double cpp_rate = n / seq_wall;
        std::printf("history page of %u, sequential: %.0f req/s (%.1f us each); CPU: client "
                    "thread %.0f%%, emulator %.0f%% of the wall time\n",
                    limit, cpp_rate, seq_wall / n * 1e6, 100 * seq.client_thread() / seq_wall,
                    100 * seq.emulator() / seq_wall);

        int h_started = 0, h_done = 0, h_failed = 0;
        std::function<void()> next = [&] {
            ++h_started;
            api.async_packets(1, atomcloud::device_number(device), q,
                              [&](atomcloud::error_code ec, auto page) {
                                  ++h_done;
                                  if (ec || page.items.size() != limit)
                                      ++h_failed;
                                  if (h_started < n)
                                      next();
                              });
        };
        cpu_probe conc;
        for (int i = 0; i < 8 && h_started < n; ++i)
            next();
        io.restart();
        io.run();
        const double conc_wall = conc.wall();
        if (h_failed != 0 || h_done != n)
            return 1;
        std::printf("history page of %u, 8 in flight: %.0f req/s; emulator CPU %.0f%%\n", limit,
                    n / conc_wall, 100 * conc.emulator() / conc_wall);

        if (!node)
            continue;
        const std::string path =
            "/api/orgs/1/devicepacket/" + std::string(device) + "?limit=" + std::to_string(limit);
        cpu_probe peer_cpu;
        const double node_rate = run_node(peer, cloud, ca_file, path, n);
        const double node_wall = peer_cpu.wall();
        if (node_rate <= 0) {
            std::printf("history page of %u, Node.js peer failed\n", limit);
            continue;
        }
        std::printf("history page of %u, Node.js https, sequential: %.0f req/s; emulator CPU "
                    "%.0f%%, node CPU %.0f%% (start-up included)\n",
                    limit, node_rate, 100 * peer_cpu.emulator() / node_wall,
                    100 * peer_cpu.children() / node_wall);
        std::printf("history page of %u: atomcloud / Node.js = %.2f\n", limit,
                    cpp_rate / node_rate);
    }
    if (node)
        std::filesystem::remove(ca_file);
    if (!node && !smoke)
        std::printf("(node not found: no Node.js peer)\n");
    return 0;
}
