#!/usr/bin/env bash
# ThreadSanitizer run of the integration tests of the multi-threaded usage (docs/threads.md):
# builds atomcloud_rest_tests and atomcloud_session_tests with -fsanitize=thread in
# build/tsan and runs their "[threads]" tests (with `all`: every test of both programs).
# Exits non-zero on any ThreadSanitizer report or failed test.
#
#   scripts/tsan.sh          the "[threads]" tests
#   scripts/tsan.sh all      every test of atomcloud_rest_tests and atomcloud_session_tests
#
# Environment: ATOMCLOUD_TSAN_BUILD_DIR (build/tsan), ATOMCLOUD_TSAN_BUILD_TYPE
# (RelWithDebInfo), ATOMCLOUD_TSAN_JOBS (nproc), CXX and CXXFLAGS (as for CMake).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-threads}" in
threads) filter=("[threads]") ;;
all) filter=() ;;
*)
    echo "usage: $0 [threads|all]" >&2
    exit 2
    ;;
esac

build=${ATOMCLOUD_TSAN_BUILD_DIR:-build/tsan}
build_type=${ATOMCLOUD_TSAN_BUILD_TYPE:-RelWithDebInfo}
jobs=${ATOMCLOUD_TSAN_JOBS:-$(nproc)}

options=()
if command -v ninja >/dev/null 2>&1; then
    options+=(-G Ninja)
fi
if command -v ccache >/dev/null 2>&1; then
    options+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# lld links the large instrumented test programs several times faster than ld.bfd.
if command -v ld.lld >/dev/null 2>&1; then
    options+=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld)
fi

# GCC 12+ warns (-Wtsan, an error under ATOMCLOUD_WERROR) wherever Asio's std_fenced_block,
# inlined into our code, calls std::atomic_thread_fence: ThreadSanitizer does not model
# fences. Asio's handler queues synchronise with mutexes and atomic operations, which it
# does model, so the warning is only informational here. Clang has no such warning (and
# rejects the option), hence the probe.
cxx_flags=${CXXFLAGS:-}
if echo | "${CXX:-c++}" -Wno-tsan -Werror -x c++ -fsyntax-only - >/dev/null 2>&1; then
    cxx_flags="${cxx_flags:+$cxx_flags }-Wno-tsan"
fi

# Only the two test programs and what they need (library, emulator): no examples, no
# install rules (the package tests would install and build consumers).
cmake -S . -B "$build" "${options[@]}" \
    -DCMAKE_BUILD_TYPE="$build_type" \
    -DCMAKE_CXX_FLAGS="$cxx_flags" \
    -DATOMCLOUD_SANITIZE=thread \
    -DATOMCLOUD_BUILD_EXAMPLES=OFF \
    -DATOMCLOUD_INSTALL=OFF
cmake --build "$build" -j"$jobs" --target atomcloud_rest_tests atomcloud_session_tests

# halt_on_error: the first report ends the program with a non-zero status (66), so no
# report can scroll by unnoticed. second_deadlock_stack: both stacks of a lock-order
# inversion. scripts/tsan.supp: false positives in third-party code, each explained there.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

status=0
for program in atomcloud_rest_tests atomcloud_session_tests; do
    echo "tsan.sh: $program ${filter[*]:-(every test)}"
    start=$SECONDS
    if "$build/tests/integration/$program" "${filter[@]}" --durations yes; then
        echo "tsan.sh: $program passed in $((SECONDS - start)) s"
    else
        rc=$?
        if [ "$rc" -eq 66 ]; then
            echo "tsan.sh: $program FAILED: a ThreadSanitizer report (above)" >&2
        else
            echo "tsan.sh: $program FAILED: exit status $rc (failed tests; no ThreadSanitizer" \
                "report)" >&2
        fi
        status=1
    fi
done

if [ "$status" -ne 0 ]; then
    echo "tsan.sh: FAILED" >&2
    exit "$status"
fi
echo "tsan.sh: no ThreadSanitizer report, every test passed"
