#!/usr/bin/env bash
# The test command: installs what is missing, builds everything in Debug with
# AddressSanitizer and UndefinedBehaviorSanitizer, runs every test with ctest, then
# (when clang is present) builds the fuzz targets and runs each for a few seconds.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
build=${ATOMCLOUD_TEST_BUILD_DIR:-build/test}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# lld links the large sanitized test programs several times faster than ld.bfd.
link_flags=()
if command -v ld.lld >/dev/null 2>&1; then
    link_flags=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld)
fi

cmake -S . -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Debug \
    -DATOMCLOUD_SANITIZE=address,undefined \
    -DATOMCLOUD_BUILD_BENCH=ON "${link_flags[@]}"
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 300

if command -v clang++ >/dev/null 2>&1; then
    fuzz_build=${ATOMCLOUD_FUZZ_BUILD_DIR:-build/fuzz}
    cmake -S . -B "$fuzz_build" -G Ninja \
        -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DATOMCLOUD_BUILD_FUZZ=ON -DATOMCLOUD_BUILD_TESTS=OFF -DATOMCLOUD_BUILD_TOOLS=OFF \
        -DATOMCLOUD_BUILD_EXAMPLES=OFF -DATOMCLOUD_INSTALL=OFF "${link_flags[@]}"
    # The fuzz targets are header-only: the compiled library is not needed here.
    cmake --build "$fuzz_build" -j"$jobs" --target atomcloud_fuzz_targets
    ctest --test-dir "$fuzz_build" --output-on-failure
else
    echo "test.sh: clang++ not found; fuzz targets skipped (their seed corpora ran above)"
fi
echo "test.sh: all tests passed"
