// Peak heap of REST response parsing for hostile bodies of about 27 MB (under the
// 32 MiB response limit): many small items, deep nesting, a huge unknown field, one huge
// string. A counting global operator new measures the peak bytes live during one parse;
// the counters report it as bytes and as a multiple of the body (`peak_per_body`).
#include <atomcloud/detail/rest_protocol.hpp>

#include <benchmark/benchmark.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

namespace {

std::atomic<std::size_t> live_bytes{0};
std::atomic<std::size_t> peak_bytes{0};

void* counted_alloc(std::size_t size) {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (!p)
        return nullptr;
    const std::size_t now = live_bytes += malloc_usable_size(p);
    std::size_t peak = peak_bytes.load(std::memory_order_relaxed);
    while (now > peak && !peak_bytes.compare_exchange_weak(peak, now))
        ;
    return p;
}

#if defined(__GNUC__) && !defined(__clang__)
// GCC cannot see that every pointer freed here came from counted_alloc's malloc.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void counted_free(void* p) noexcept {
    if (!p)
        return;
    live_bytes -= malloc_usable_size(p);
    std::free(p);
}

#if defined(__SANITIZE_ADDRESS__)
// The sanitized smoke run of the test suite: a tenth of the size (figures meaningless).
constexpr std::size_t target_size = 2700u * 1000u;
#else
constexpr std::size_t target_size = 27u * 1000u * 1000u;
#endif

// `head`, then `item` repeated (comma-separated) until about 27 MB, then `tail`.
std::string repeated(const std::string& head, const std::string& item, const std::string& tail) {
    std::string body;
    body.reserve(target_size + 64);
    body += head;
    bool first = true;
    while (body.size() + item.size() + tail.size() + 1 < target_size) {
        if (!first)
            body += ',';
        first = false;
        body += item;
    }
    body += tail;
    return body;
}

template <class Parse>
void measure(benchmark::State& state, const std::string& body, Parse parse) {
    const atomcloud::detail::parse_context ctx{"token", std::chrono::minutes(480), nullptr};
    std::size_t peak = 0;
    for (auto _ : state) {
        atomcloud::diagnostics diag;
        atomcloud::error_code ec;
        const std::size_t base = live_bytes.load();
        peak_bytes = base;
        {
            auto result = parse(200, body, ctx, diag, ec);
            benchmark::DoNotOptimize(result);
        }
        peak = std::max(peak, peak_bytes.load() - base);
        state.SetLabel(ec ? diag.client_message().substr(0, 60) : std::string("parsed"));
    }
    state.counters["body_MB"] = static_cast<double>(body.size()) / 1e6;
    state.counters["peak_MB"] = static_cast<double>(peak) / 1e6;
    state.counters["peak_per_body"] = static_cast<double>(peak) / static_cast<double>(body.size());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

void orgs_small_items(benchmark::State& state) {
    static const std::string body =
        repeated(R"({"code":200,"message":"","data":[)", R"({"id":1,"name":"a"})", "]}");
    measure(state, body, atomcloud::detail::parse_orgs);
}

void devices_small_items(benchmark::State& state) {
    static const std::string body =
        repeated(R"({"code":200,"message":"","data":[)", R"({"id":1,"number":"n"})", "]}");
    measure(state, body, atomcloud::detail::parse_devices);
}

void history_small_items(benchmark::State& state) {
    static const std::string body =
        repeated(R"({"code":200,"message":"","data":{"items":[)",
                 R"({"time":"2018-08-11T17:03:39Z","hex_packet":"41"})", "]}}");
    measure(state, body, atomcloud::detail::parse_packet_page);
}

void history_large_items(benchmark::State& state) {
    // 1000 items of 9000 bytes each (27 000 hex characters).
    std::string hex;
    for (int i = 0; i < 9000; ++i)
        hex += i ? " 41" : "41";
    static const std::string body = [&] {
        std::string b = R"({"code":200,"message":"","data":{"items":[)";
        for (int i = 0; i < 1000; ++i)
            b += std::string(i ? "," : "") + R"({"time":"2018-08-11T17:03:39Z","hex_packet":")" +
                 hex + R"(","length":9000,"number":"18846494908532689575"})";
        return b + "]}}";
    }();
    measure(state, body, atomcloud::detail::parse_packet_page);
}

void unknown_field_small_objects(benchmark::State& state) {
    static const std::string body =
        repeated(R"({"code":200,"message":"","data":[],"extra":[)", R"({"a":[1]})", "]}");
    measure(state, body, atomcloud::detail::parse_orgs);
}

void deep_nesting(benchmark::State& state) {
    static const std::string body = R"({"code":200,"message":"","data":)" +
                                    std::string(target_size / 2, '[') +
                                    std::string(target_size / 2, ']') + "}";
    measure(state, body, atomcloud::detail::parse_orgs);
}

void huge_string(benchmark::State& state) {
    static const std::string body = R"({"code":200,"message":"","data":[{"id":1,"name":")" +
                                    std::string(target_size, 'x') + R"("}]})";
    measure(state, body, atomcloud::detail::parse_orgs);
}

} // namespace

void* operator new(std::size_t size) {
    if (void* p = counted_alloc(size))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    if (void* p = counted_alloc(size))
        return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return counted_alloc(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return counted_alloc(size);
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete[](void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    counted_free(p);
}

BENCHMARK(orgs_small_items)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(devices_small_items)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(history_small_items)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(history_large_items)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(unknown_field_small_objects)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(deep_nesting)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(huge_string)->Unit(benchmark::kMillisecond)->Iterations(1);
