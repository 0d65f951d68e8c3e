// Reads a device's whole message history, page after page, with coroutines: every packet
// of the window exactly once, newest first, heartbeats left out, even while the device
// keeps sending.
//
// With ATOMCLOUD_TOKEN set it reads the real platform: pass the organisation id and the
// device number as arguments. Without, it starts a local emulator whose device has sent
// 250 messages.
#include <atomcloud/atomcloud.hpp>
#include <atomcloud/emulator/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>
#include <optional>
#include <string>

namespace asio = boost::asio;

asio::awaitable<void> read_history(atomcloud::rest_client& api, std::int64_t org,
                                   std::string number) {
    atomcloud::history_options opts;
    opts.page_size = 40;         // packets per request
    opts.skip_heartbeats = true; // leave ALIENTEK-HRTDT out
    atomcloud::history_walker walk(api, org, number, opts);

    std::size_t total = 0, batches = 0;
    while (!walk.done()) {
        auto batch = co_await walk.async_next_batch(asio::use_awaitable);
        if (batch.empty())
            break;
        ++batches;
        total += batch.size();
        std::cout << "batch " << batches << ": " << batch.size() << " packets, newest "
                  << batch.front().raw_time << " \""
                  << atomcloud::gbk_to_utf8(batch.front().payload) << "\"\n";
    }
    std::cout << total << " packets in " << batches << " batches\n";
}

int main(int argc, char** argv) {
    atomcloud::config cfg = atomcloud::config::from_env();
    std::int64_t org = 1;
    std::string number = "18846494908532689575";

    std::optional<atomcloud::emulator::server> local;
    if (cfg.token.empty()) {
        local.emplace();
        cfg = local->client_config();
        auto dev = local->device(number);
        dev.connect();
        for (int i = 0; i < 250; ++i) {
            dev.send("reading " + std::to_string(i));
            if (i % 10 == 0)
                dev.send(atomcloud::default_heartbeat);
        }
        std::cout << "(ATOMCLOUD_TOKEN is not set: using a local emulator)\n";
    } else if (argc == 3) {
        org = std::stoll(argv[1]);
        number = argv[2];
    } else {
        std::cerr << "usage: " << argv[0] << " ORG_ID DEVICE_NUMBER\n";
        return 2;
    }

    asio::io_context io;
    atomcloud::rest_client api(io.get_executor(), cfg);
    int status = 0;
    asio::co_spawn(io, read_history(api, org, number), [&](std::exception_ptr e) {
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            std::cerr << "error: " << ex.what() << '\n';
            status = 1;
        }
    });
    io.run();
    return status;
}
