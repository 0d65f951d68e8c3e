// Simulated device traffic (options::simulate): heartbeats and GBK readings from every
// connected device, on timers of the server's thread.
#include "server_impl.hpp"

#include <atomcloud/payload.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <random>

namespace atomcloud::emulator {

namespace asio = boost::asio;

void server::impl::start_simulation() {
    const auto& sim = opts.simulate;
    for (const bool heartbeat : {true, false}) {
        const auto interval = heartbeat ? sim.heartbeat_interval : sim.reading_interval;
        if (interval.count() <= 0)
            continue;
        auto t = std::make_shared<asio::steady_timer>(*ioc);
        simulation_timers.push_back(t);
        asio::co_spawn(*ioc, simulate(t, interval, heartbeat), asio::detached);
    }
}

asio::awaitable<void> server::impl::simulate(std::shared_ptr<asio::steady_timer> timer,
                                             std::chrono::milliseconds interval, bool heartbeat) {
    std::minstd_rand rng(heartbeat ? 1u : 2u);
    std::uniform_int_distribution<int> temperature(180, 320); // tenths of a degree
    std::uniform_int_distribution<int> humidity(30, 80);
    auto next = std::chrono::steady_clock::now();
    for (;;) {
        next += interval;
        timer->expires_at(next);
        auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec || stopping)
            co_return;
        const auto& devs = core->devices().devices;
        for (std::size_t i = 0; i < devs.size(); ++i) {
            if (!core->connected(i))
                continue;
            if (heartbeat) {
                if (devs[i].kind != detail::device_kind::nbiot)
                    core->device_send(i, as_bytes(default_heartbeat));
                continue;
            }
            const int t = temperature(rng);
            char text[64];
            std::snprintf(text, sizeof text, "温度:%d.%d℃ 湿度:%d%%", t / 10, t % 10,
                          humidity(rng));
            error_code gec;
            auto gbk = utf8_to_gbk(text, gec);
            if (!gec)
                core->device_send(i, gbk);
        }
    }
}

} // namespace atomcloud::emulator
