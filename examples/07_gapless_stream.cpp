// 07_gapless_stream: every message of some devices, exactly once, across outages and
// restarts. Messages missed while the link was down come from the history ("backfill");
// the cursors saved after each batch let a restarted program continue where it stopped.
//
//   ATOMCLOUD_TOKEN=... 07_gapless_stream ORG_ID DEVICE_NUMBER... [--cursors FILE] [--seconds N]
//
// ATOMCLOUD_BASE_URL and ATOMCLOUD_CA_FILE select another server (e.g. the emulator).
// Runs until Ctrl-C, or for N seconds.
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace asio = boost::asio;

namespace {

// One cursor per line; a missing file is an empty start.
std::map<std::string, atomcloud::stream_cursor> load(const std::string& path) {
    std::map<std::string, atomcloud::stream_cursor> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (auto c = atomcloud::stream_cursor::parse(line))
            out.insert_or_assign(std::string(atomcloud::device_text(c->device)), *c);
    return out;
}

void save(const std::string& path, const std::map<std::string, atomcloud::stream_cursor>& all) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        for (const auto& [device, c] : all)
            out << c.to_string() << '\n';
    }
    std::rename(tmp.c_str(), path.c_str()); // replaced whole, never half-written
}

asio::awaitable<void> print(atomcloud::stream& st, std::string cursor_file,
                            std::map<std::string, atomcloud::stream_cursor> cursors) {
    for (;;) {
        auto [ec, batch] = co_await st.async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec) // session_stopped
            co_return;
        for (const atomcloud::stream_event& ev : batch) {
            if (auto* m = std::get_if<atomcloud::stream_message>(&ev)) {
                std::cout << atomcloud::device_text(m->device) << ' ' << to_string(m->origin) << ' '
                          << atomcloud::gbk_to_utf8(m->payload) << '\n';
            } else if (auto* g = std::get_if<atomcloud::stream_gap>(&ev)) {
                std::cout << atomcloud::device_text(g->device) << " GAP: messages may be missing ("
                          << to_string(g->reason) << ")\n";
            } else if (std::holds_alternative<atomcloud::session_disconnected>(ev)) {
                std::cout << "link lost; what is sent meanwhile will be backfilled\n";
            }
        }
        // Saved after the batch is handled: a restart continues right after it.
        for (const auto& c : batch.cursors())
            cursors.insert_or_assign(std::string(atomcloud::device_text(c.device)), c);
        if (!cursor_file.empty())
            save(cursor_file, cursors);
    }
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string cursor_file;
    int seconds = 0;
    std::vector<std::string> numbers;
    std::int64_t org = 0;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--cursors" && i + 1 < args.size())
            cursor_file = args[++i];
        else if (args[i] == "--seconds" && i + 1 < args.size())
            seconds = std::atoi(args[++i].c_str());
        else if (org == 0)
            org = std::atoll(args[i].c_str());
        else
            numbers.push_back(args[i]);
    }
    if (org <= 0 || numbers.empty()) {
        std::cerr << "usage: 07_gapless_stream ORG_ID DEVICE_NUMBER... [--cursors FILE] "
                     "[--seconds N]\n";
        return 2;
    }
    const atomcloud::config cfg = atomcloud::config::from_env();
    if (cfg.token.empty()) {
        std::cerr << "ATOMCLOUD_TOKEN is not set (the API token of your Atom Cloud account)\n";
        return 2;
    }
    try {
        asio::io_context io;
        atomcloud::stream st(io.get_executor(), cfg, org);
        auto cursors = cursor_file.empty() ? decltype(load("")){} : load(cursor_file);
        for (const auto& n : numbers) {
            auto it = cursors.find(n);
            if (it != cursors.end())
                st.add(it->second); // continue exactly after the last saved batch
            else
                st.add(atomcloud::device_number(n)); // from now on
        }
        asio::signal_set signals(io, SIGINT, SIGTERM);
        asio::steady_timer limit(io);
        int status = 0;
        st.async_run([&](atomcloud::error_code ec) {
            if (ec != atomcloud::client_errc::session_stopped) {
                std::cerr << "stream ended: " << ec.message() << '\n';
                status = 1;
            }
            signals.cancel();
            limit.cancel();
        });
        asio::co_spawn(io, print(st, cursor_file, cursors), asio::detached);
        signals.async_wait([&](auto ec, int) {
            if (!ec)
                st.stop();
        });
        if (seconds > 0) {
            limit.expires_after(std::chrono::seconds(seconds));
            limit.async_wait([&](auto ec) {
                if (!ec)
                    st.stop();
            });
        }
        io.run();
        return status;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }
}
