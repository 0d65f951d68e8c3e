// 03_history_paging: a device's whole message history, page after page, with coroutines:
// every packet the platform keeps exactly once, newest first, heartbeats left out, even
// while the device keeps sending. Prints a line per batch and the total.
//
//   ATOMCLOUD_TOKEN=... 03_history_paging ORG_ID DEVICE_NUMBER
//
// ATOMCLOUD_BASE_URL and ATOMCLOUD_CA_FILE select another server (e.g. the emulator).
#include <atomcloud/atomcloud.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;

asio::awaitable<void> read_history(atomcloud::rest_client& api, std::int64_t org,
                                   std::string number) {
    atomcloud::history_walk_options opts;
    opts.page_size = 40;         // packets per request
    opts.skip_heartbeats = true; // leave ALIENTEK-HRTDT out
    atomcloud::history_walker walk(api, org, atomcloud::device_number(number), opts);

    std::size_t total = 0, batches = 0;
    while (!walk.done()) {
        auto batch = co_await walk.async_next_batch(asio::use_awaitable);
        if (batch.empty())
            break;
        ++batches;
        total += batch.size();
        std::cout << "batch " << batches << ": " << batch.size() << " packets, newest "
                  << batch.front().raw_time << " \""
                  << atomcloud::gbk_to_utf8(batch.front().payload) << "\", oldest "
                  << batch.back().raw_time << " \"" << atomcloud::gbk_to_utf8(batch.back().payload)
                  << "\"\n";
    }
    std::cout << total << " packets in " << batches << " batches\n";
}

int main(int argc, char** argv) {
    if (argc != 3 || std::atoll(argv[1]) <= 0) {
        std::cerr << "usage: 03_history_paging ORG_ID DEVICE_NUMBER\n";
        return 2;
    }
    const atomcloud::config cfg = atomcloud::config::from_env();
    if (cfg.token.empty()) {
        std::cerr << "ATOMCLOUD_TOKEN is not set (the API token of your Atom Cloud account)\n";
        return 2;
    }

    asio::io_context io;
    atomcloud::rest_client api(io.get_executor(), cfg);
    int status = 0;
    asio::co_spawn(io, read_history(api, std::atoll(argv[1]), argv[2]), [&](std::exception_ptr e) {
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            // atomcloud::error says the API's code and the server's message
            std::cerr << "error: " << ex.what() << '\n';
            status = 1;
        }
    });
    io.run();
    return status;
}
