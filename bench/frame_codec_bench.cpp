// Frame codec throughput: encode into a reused buffer and decode in place, for payloads
// of 0, 16, 1 KiB and 64 KiB. Reports bytes/s and frames/s (items/s).
#include <atomcloud/frame.hpp>

#include <benchmark/benchmark.h>

namespace {

const atomcloud::device_number device{"18846494908532689575"};
const atomcloud::nbiot_id nbiot{"b6d85634-9d34-4052-80cd-b840b75cb910"};

atomcloud::bytes make_payload(std::size_t n) {
    atomcloud::bytes p(n);
    for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<std::uint8_t>(i * 31 + 7);
    return p;
}

void encode_device_data(benchmark::State& state) {
    const auto payload = make_payload(static_cast<std::size_t>(state.range(0)));
    const atomcloud::frame f = atomcloud::device_data_frame{device, payload};
    atomcloud::bytes out;
    for (auto _ : state) {
        atomcloud::encode_frame(f, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

void encode_nbiot_send(benchmark::State& state) {
    const auto payload = make_payload(static_cast<std::size_t>(state.range(0)));
    const atomcloud::frame f = atomcloud::nbiot_send_frame{nbiot, payload};
    atomcloud::bytes out;
    for (auto _ : state) {
        atomcloud::encode_frame(f, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

void decode_device_data(benchmark::State& state) {
    const auto payload = make_payload(static_cast<std::size_t>(state.range(0)));
    const atomcloud::bytes wire =
        atomcloud::encode_frame(atomcloud::device_data_frame{device, payload});
    atomcloud::error_code ec;
    for (auto _ : state) {
        auto f = atomcloud::decode_frame(wire, atomcloud::frame_origin::cloud, ec);
        benchmark::DoNotOptimize(f);
    }
    if (ec)
        state.SkipWithError("decode failed");
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

void decode_nbiot_data(benchmark::State& state) {
    const auto payload = make_payload(static_cast<std::size_t>(state.range(0)));
    const atomcloud::bytes wire =
        atomcloud::encode_frame(atomcloud::nbiot_data_frame{nbiot, payload});
    atomcloud::error_code ec;
    for (auto _ : state) {
        auto f = atomcloud::decode_frame(wire, atomcloud::frame_origin::cloud, ec);
        benchmark::DoNotOptimize(f);
    }
    if (ec)
        state.SkipWithError("decode failed");
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

} // namespace

BENCHMARK(encode_device_data)->Arg(0)->Arg(16)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(decode_device_data)->Arg(0)->Arg(16)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(encode_nbiot_send)->Arg(0)->Arg(16)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(decode_nbiot_data)->Arg(0)->Arg(16)->Arg(1024)->Arg(64 * 1024);
