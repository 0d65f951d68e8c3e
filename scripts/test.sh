#!/usr/bin/env bash
# The test command: installs what is missing, then
#  1. builds everything in Debug with AddressSanitizer and UndefinedBehaviorSanitizer (with
#     clang when present) and runs its tests (all but those of the performance scope);
#  2. meanwhile builds the library, the tools, the examples and the benchmarks in Release
#     with the default compiler (warnings are errors in both builds) and then runs there
#     the benchmarks' smoke runs and the tests of memory bounds (the performance scope);
#  3. when clang is present, meanwhile builds the fuzz targets and runs each for a few
#     seconds.
# Exits non-zero on any failure. docs/building.md describes the builds and their times.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
build=${ATOMCLOUD_TEST_BUILD_DIR:-build/test}
release=${ATOMCLOUD_RELEASE_BUILD_DIR:-build/release}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# lld links the large sanitized test programs several times faster than ld.bfd.
link_flags=()
if command -v ld.lld >/dev/null 2>&1; then
    link_flags=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld)
fi

# With clang (scripts/install-deps.sh installs it), the sanitized Debug build uses it: it
# compiles this code base's Asio and Beast templates at -O0 in less than half the time
# GCC takes; GCC builds the Release tree, so both compilers' warnings are errors. And the
# fuzz build runs the fuzz targets over their seed corpora (and fuzzes); without clang,
# the Debug build replays the corpora through a plain driver.
fuzz=0
replay=ON
debug_compiler=()
if command -v clang++ >/dev/null 2>&1; then
    fuzz=1
    replay=OFF
    debug_compiler=(-DCMAKE_CXX_COMPILER=clang++)
fi

# -g1 (line tables only) keeps file:line in the sanitizers' stack traces and compiles and
# links faster than -g.
cmake -S . -B "$build" -G Ninja "${debug_compiler[@]}" \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    -DATOMCLOUD_SANITIZE=address,undefined -DATOMCLOUD_WERROR=ON \
    -DATOMCLOUD_TEST_SCOPE=functional -DATOMCLOUD_BUILD_BENCH=OFF \
    -DATOMCLOUD_FUZZ_REPLAY=$replay "${link_flags[@]}"
cmake -S . -B "$release" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DATOMCLOUD_WERROR=ON \
    -DATOMCLOUD_TEST_SCOPE=performance -DATOMCLOUD_BUILD_EXAMPLES=ON \
    -DATOMCLOUD_BUILD_BENCH=ON -DATOMCLOUD_INSTALL=OFF "${link_flags[@]}"
cmake --build "$build" -j"$jobs"

# The Debug tests wait on sockets and timers much of the time: the Release build and the
# fuzz build (then its fuzzing, which lasts a fixed time) use what they leave of the CPU,
# at a lower priority. The background steps' output is shown when they end.
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 300 &
debug_tests=$!

fuzz_job=
if [ "$fuzz" -eq 1 ]; then
    fuzz_build=${ATOMCLOUD_FUZZ_BUILD_DIR:-build/fuzz}
    cmake -S . -B "$fuzz_build" -G Ninja \
        -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DATOMCLOUD_BUILD_FUZZ=ON -DATOMCLOUD_BUILD_TESTS=OFF -DATOMCLOUD_BUILD_TOOLS=OFF \
        -DATOMCLOUD_BUILD_EXAMPLES=OFF -DATOMCLOUD_INSTALL=OFF "${link_flags[@]}" >/dev/null
    # The fuzz targets are header-only: the compiled library is not needed here.
    (
        if ! nice -n 10 cmake --build "$fuzz_build" -j"$jobs" --target atomcloud_fuzz_targets; then
            echo "test.sh: the fuzz build failed"
            exit 1
        fi
        # Each target fuzzes for its own fixed time; they run side by side.
        nice -n 10 ctest --test-dir "$fuzz_build" --output-on-failure -j"$jobs"
    ) >"$fuzz_build.log" 2>&1 &
    fuzz_job=$!
fi

status=0
release_built=1
if ! nice -n 10 cmake --build "$release" -j"$jobs" >"$release.log" 2>&1; then
    cat "$release.log"
    echo "test.sh: the Release build failed" >&2
    status=1
    release_built=0
fi

wait "$debug_tests" || status=1
if [ "$release_built" -eq 1 ]; then
    ctest --test-dir "$release" --output-on-failure -j"$jobs" --timeout 300 || status=1
fi
if [ -n "$fuzz_job" ]; then
    fuzz_status=0
    wait "$fuzz_job" || fuzz_status=1
    cat "$fuzz_build.log"
    if [ "$fuzz_status" -ne 0 ]; then
        echo "test.sh: the fuzz build or fuzzing failed" >&2
        status=1
    fi
else
    echo "test.sh: no fuzzing (clang++ not found)"
fi
if [ "$status" -ne 0 ]; then
    echo "test.sh: FAILED" >&2
    exit 1
fi
echo "test.sh: all tests passed"
