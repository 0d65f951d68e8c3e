// Parsing of REST responses: a history page of 30 and of 1000 packets (JSON -> typed
// packets with their bytes decoded and times converted), and a device list.
#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/payload.hpp>

#include <benchmark/benchmark.h>

#include <string>

namespace {

std::string history_body(int items) {
    std::string body = R"({"code":200,"message":"","data":{"current_page":1,"total_page":1,)"
                       R"("total_item":)" +
                       std::to_string(items) + R"(,"page_limit":)" + std::to_string(items) +
                       R"(,"items":[)";
    for (int i = 0; i < items; ++i) {
        if (i)
            body += ',';
        body +=
            R"({"time":"2018-08-11T17:03:)" + std::to_string(10 + i % 50) + "." +
            std::to_string(100000 + i) +
            R"(+08:00","hex_packet":"D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4 32 31 33 31",)"
            R"("length":20,"number":"18846494908532689575"})";
    }
    return body + "]}}";
}

void parse_history_page(benchmark::State& state) {
    const std::string body = history_body(static_cast<int>(state.range(0)));
    const atomcloud::detail::parse_context ctx{"token", std::chrono::minutes(480), nullptr};
    for (auto _ : state) {
        atomcloud::diagnostics diag;
        atomcloud::error_code ec;
        auto page = atomcloud::detail::parse_packet_page(200, body, ctx, diag, ec);
        if (ec || page.items.size() != static_cast<std::size_t>(state.range(0)))
            state.SkipWithError("parse failed");
        benchmark::DoNotOptimize(page.items.data());
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

void parse_device_list(benchmark::State& state) {
    std::string body = R"({"code":200,"message":"","data":[)";
    for (int i = 0; i < 100; ++i)
        body +=
            std::string(i ? "," : "") + R"({"id":)" + std::to_string(146 + i) +
            R"(,"show_id":1007,"device_type":"01","name":"官方设备 - 2","number":"18846494908532689575"})";
    body += "]}";
    const atomcloud::detail::parse_context ctx{"token", std::chrono::minutes(480), nullptr};
    for (auto _ : state) {
        atomcloud::diagnostics diag;
        atomcloud::error_code ec;
        auto devices = atomcloud::detail::parse_devices(200, body, ctx, diag, ec);
        benchmark::DoNotOptimize(devices.data());
    }
    state.SetItemsProcessed(state.iterations() * 100);
}

} // namespace

BENCHMARK(parse_history_page)->Arg(30)->Arg(1000);
BENCHMARK(parse_device_list);
