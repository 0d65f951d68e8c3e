// A long run of atomcloud::stream against the in-process emulator: devices sending at
// their rates with repeated payloads, WebSocket outages of 0.1-30 s (some refused for
// that long), REST faults during backfills, for N minutes. Every report interval it checks
// what was delivered against the emulator's ground truth (then forgets both, so that the
// checker's own memory stays flat) and prints a line: time, RSS, heap in use, messages delivered,
// backfilled, reconnects, gaps, held, undelivered, mismatches.
//
//   stream_soak [--minutes M] [--report-seconds S] [--rates 100,50,20] [--seed N] [--smoke]
//
// Exit status 0 when every message was delivered once, in order, with no gap; 1 otherwise.
// scripts/soak.sh builds it in Release and runs it.
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/stream.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <malloc.h>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace emu = atomcloud::emulator;

namespace {

const std::vector<std::string> numbers = {"18846494908532689575", "27309143566123801957",
                                          "84021677359012846630"};
const std::vector<std::string> alphabet = {"ALIENTEK-HRTDT", "t=21", "t=22", "ok", "t=21 h=40"};

// Bytes the allocator has handed out and not had back (RSS also counts what it keeps).
double heap_mb() {
    const struct mallinfo2 mi = ::mallinfo2();
    return static_cast<double>(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
}

long rss_kb() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0)
            return std::atol(line.c_str() + 6);
    return -1;
}

struct checker {
    // Per device: what the stream delivered and what the device sent, not yet matched.
    std::map<std::string, std::deque<std::string>> delivered, truth;
    std::size_t matched = 0, mismatches = 0;

    void match() {
        for (auto& [n, d] : delivered) {
            auto& t = truth[n];
            while (!d.empty() && !t.empty()) {
                if (d.front() != t.front())
                    ++mismatches;
                else
                    ++matched;
                d.pop_front();
                t.pop_front();
            }
        }
    }
    std::size_t undelivered() const {
        std::size_t n = 0;
        for (const auto& [k, t] : truth)
            n += t.size();
        return n;
    }
    std::size_t unexplained() const { // delivered but never sent
        std::size_t n = 0;
        for (const auto& [k, d] : delivered)
            n += d.size();
        return n;
    }
};

} // namespace

int main(int argc, char** argv) {
    double minutes = 1;
    int report_seconds = 30;
    std::vector<int> rates = {100, 50, 20};
    std::uint64_t seed = std::random_device{}();
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--minutes" && i + 1 < argc)
            minutes = std::atof(argv[++i]);
        else if (a == "--report-seconds" && i + 1 < argc)
            report_seconds = std::max(1, std::atoi(argv[++i]));
        else if (a == "--seed" && i + 1 < argc)
            seed = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--rates" && i + 1 < argc) {
            rates.clear();
            std::stringstream in(argv[++i]);
            for (std::string r; std::getline(in, r, ',');)
                rates.push_back(std::max(1, std::atoi(r.c_str())));
        } else if (a == "--smoke") {
            minutes = 0.1;
            report_seconds = 2;
        } else {
            std::cerr << "usage: stream_soak [--minutes M] [--report-seconds S] [--rates "
                         "100,50,20] [--seed N] [--smoke]\n";
            return 2;
        }
    }
    rates.resize(std::min(rates.size(), numbers.size()));
    std::printf("stream_soak: %.1f min, seed %llu, rates", minutes,
                static_cast<unsigned long long>(seed));
    for (int r : rates)
        std::printf(" %d", r);
    std::printf(" Hz\n");

    emu::options eo;
    eo.retention = std::chrono::minutes(10); // bounded history (outages are at most 30 s)
    emu::server cloud(eo);
    std::vector<emu::device_handle> devs;
    for (std::size_t i = 0; i < rates.size(); ++i) {
        devs.push_back(cloud.device(numbers[i]));
        devs.back().connect();
    }

    asio::io_context io;
    atomcloud::config cfg = cloud.client_config();
    cfg.session.reconnect.initial_delay = 50ms;
    cfg.session.reconnect.max_delay = 1s;
    atomcloud::stream_options so;
    so.settle_time = 500ms;
    so.retry.initial_delay = 100ms;
    so.retry.max_delay = 1s;
    atomcloud::stream st(io.get_executor(), cfg, 1, so);
    for (std::size_t i = 0; i < rates.size(); ++i)
        st.add(atomcloud::device_number(numbers[i]));

    checker check;
    std::size_t gaps = 0;
    std::function<void()> receive = [&] {
        st.async_receive([&](atomcloud::error_code ec, atomcloud::stream_batch b) {
            if (ec)
                return;
            for (const auto& ev : b) {
                if (auto* m = std::get_if<atomcloud::stream_message>(&ev))
                    check.delivered[std::string(atomcloud::device_text(m->device))].emplace_back(
                        m->payload.begin(), m->payload.end());
                else if (std::holds_alternative<atomcloud::stream_gap>(ev))
                    ++gaps;
            }
            receive();
        });
    };
    receive();
    st.async_run([](atomcloud::error_code) {});
    // The first (empty) backfills, so that the ground truth starts after them.
    const auto warm = std::chrono::steady_clock::now() + 10s;
    while (st.status().backfills < rates.size() && std::chrono::steady_clock::now() < warm)
        io.run_for(20ms);
    for (auto& d : devs)
        d.clear_sent();

    // Senders: paused (under the lock) while the checker takes the ground truth.
    std::mutex send_lock;
    std::atomic<bool> stop{false};
    std::thread sender([&] {
        std::mt19937_64 rng(seed);
        std::vector<std::chrono::steady_clock::time_point> next(devs.size(),
                                                                std::chrono::steady_clock::now());
        while (!stop) {
            {
                std::lock_guard<std::mutex> g(send_lock);
                const auto now = std::chrono::steady_clock::now();
                for (std::size_t i = 0; i < devs.size(); ++i)
                    if (now >= next[i]) {
                        devs[i].send(alphabet[rng() % alphabet.size()]);
                        next[i] += std::chrono::microseconds(1'000'000 / rates[i]);
                        if (next[i] < now - 1s) // fell far behind: do not burst
                            next[i] = now;
                    }
            }
            std::this_thread::sleep_for(1ms);
        }
    });
    // Chaos: outages of 0.1-30 s every 2-20 s, a third of them with REST faults.
    std::size_t outages = 0;
    std::thread chaos([&] {
        std::mt19937_64 rng(seed + 1);
        const bool smoke = minutes < 0.5;
        while (!stop) {
            const auto pause =
                std::chrono::milliseconds(smoke ? 500 + rng() % 1000 : 2000 + rng() % 18000);
            for (auto until = std::chrono::steady_clock::now() + pause;
                 !stop && std::chrono::steady_clock::now() < until;)
                std::this_thread::sleep_for(50ms);
            if (stop)
                break;
            const auto length =
                std::chrono::milliseconds(smoke ? 100 + rng() % 900 : 100 + rng() % 29900);
            if (rng() % 3 == 0) {
                emu::fault f;
                const emu::fault::kind kinds[] = {
                    emu::fault::kind::http_status, emu::fault::kind::close_connection,
                    emu::fault::kind::truncated_body, emu::fault::kind::malformed_body};
                f.what = kinds[rng() % 4];
                cloud.inject_fault(f, 1 + rng() % 3);
            }
            cloud.drop_connections(length);
            ++outages;
        }
    });

    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::milliseconds(static_cast<long>(minutes * 60000));
    auto report = [&](const char* when) {
        {
            std::lock_guard<std::mutex> g(send_lock);
            for (std::size_t i = 0; i < devs.size(); ++i) {
                auto& t = check.truth[numbers[i]];
                for (auto& m : devs[i].sent())
                    t.emplace_back(m.payload.begin(), m.payload.end());
                devs[i].clear_sent();
            }
        }
        check.match();
        const auto s = st.status();
        const double t =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("%s t=%6.0fs rss=%6.1fMB heap=%6.1fMB delivered=%zu backfilled=%zu "
                    "reconnects=%zu outages=%zu gaps=%zu held=%zu undelivered=%zu "
                    "mismatches=%zu\n",
                    when, t, static_cast<double>(rss_kb()) / 1024.0, heap_mb(), check.matched,
                    s.backfilled, s.reconnects, outages, gaps, s.held_messages, check.undelivered(),
                    check.mismatches + check.unexplained());
        std::fflush(stdout);
    };
    auto next_report = start + std::chrono::seconds(report_seconds);
    while (std::chrono::steady_clock::now() < end) {
        io.run_for(20ms);
        if (std::chrono::steady_clock::now() >= next_report) {
            report("  ");
            next_report += std::chrono::seconds(report_seconds);
        }
    }
    stop = true;
    chaos.join();
    sender.join();
    cloud.clear_faults();
    cloud.drop_connections(0ms);
    // Drain: everything sent must arrive.
    const auto drain = std::chrono::steady_clock::now() + 60s;
    for (;;) {
        for (int i = 0; i < 50; ++i)
            io.run_for(20ms);
        report("  ");
        if (check.undelivered() == 0 || std::chrono::steady_clock::now() > drain)
            break;
    }
    report("end");
    const bool ok = check.undelivered() == 0 && check.mismatches == 0 && check.unexplained() == 0 &&
                    gaps == 0 && check.matched > 0;
    std::printf("stream_soak: %s\n", ok ? "OK: every message once, in order, no gap" : "FAILED");
    st.stop();
    for (int i = 0; i < 100 && !io.stopped(); ++i)
        io.run_for(20ms);
    return ok ? 0 : 1;
}
