#!/usr/bin/env bash
# Long fuzzing runs: scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Builds the libFuzzer targets (clang, AddressSanitizer and UndefinedBehaviorSanitizer,
# every report fatal) in build/fuzz-long, then runs every target, or the named ones, for
# SECONDS each (default 600). Each target keeps its corpus in build/fuzz-long/corpus/<name>
# across runs (the seeds in fuzz/corpus/<name> are read as well) and writes crash, timeout
# and out-of-memory inputs to build/fuzz-long/artifacts/<name>/. The full output of a run
# is in build/fuzz-long/logs/<name>.log.
#
# A TARGET is a name such as ws_reader (or ws_reader_fuzz). ATOMCLOUD_FUZZ_JOBS (default 1)
# runs that many targets at once. Prints one summary line per target and exits non-zero
# if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: ${all_names[*]})" >&2
}

all_names=()
for source in fuzz/*_fuzz.cpp; do
    name=${source#fuzz/}
    all_names+=("${name%_fuzz.cpp}")
done

seconds=600
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    seconds=$((10#$1))
    shift
fi
if [ "$seconds" -lt 1 ]; then
    echo "fuzz.sh: SECONDS must be at least 1" >&2
    exit 2
fi

names=()
for arg in "$@"; do
    case $arg in
    -h | --help)
        usage
        exit 0
        ;;
    esac
    name=${arg%_fuzz}
    if [ ! -f "fuzz/${name}_fuzz.cpp" ]; then
        echo "fuzz.sh: no fuzz target '$arg'" >&2
        usage
        exit 2
    fi
    names+=("$name")
done
[ ${#names[@]} -eq 0 ] && names=("${all_names[@]}")

jobs=${ATOMCLOUD_FUZZ_JOBS:-1}
if ! [[ $jobs =~ ^[0-9]+$ ]] || [ "$jobs" -lt 1 ]; then
    echo "fuzz.sh: ATOMCLOUD_FUZZ_JOBS must be a positive integer, not '$jobs'" >&2
    exit 2
fi

./scripts/install-deps.sh

build=build/fuzz-long
link_flags=()
if command -v ld.lld >/dev/null 2>&1; then
    link_flags=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld)
fi
cmake -S . -B "$build" -G Ninja \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DATOMCLOUD_BUILD_FUZZ=ON -DATOMCLOUD_BUILD_TESTS=OFF -DATOMCLOUD_BUILD_TOOLS=OFF \
    -DATOMCLOUD_BUILD_EXAMPLES=OFF -DATOMCLOUD_INSTALL=OFF "${link_flags[@]}"
cmake --build "$build" -j"$(nproc)" --target atomcloud_fuzz_targets

# The same sanitizer settings as scripts/test.sh.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

results=$build/results
mkdir -p "$results" "$build/logs"

# Runs one target; its summary line goes to $results/<name>, its exit status to
# $results/<name>.rc.
run_target() {
    local name=$1
    local binary=$build/fuzz/${name}_fuzz
    local corpus=$build/corpus/$name
    local artifacts=$build/artifacts/$name
    local log=$build/logs/$name.log
    mkdir -p "$corpus" "$artifacts"
    local rc=0 pid
    "$binary" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" "fuzz/corpus/$name" >"$log" 2>&1 &
    pid=$!
    # This runs in a background subshell: pass an interruption on to the fuzzer.
    trap 'kill "$pid" 2>/dev/null; exit 143' TERM
    wait "$pid" || rc=$?

    local execs rate status cov ft corp artifact result
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    # The last status line: "#N  DONE  cov: C ft: F corp: U/SIZE ..."
    status=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
    corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$status")
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        result=clean
    elif [ -n "$artifact" ]; then
        result="crash: $artifact"
    else
        result="failed (exit $rc, see $log)"
    fi
    printf '%-15s execs %-11s %7s/s  cov %-6s ft %-7s corpus %-14s kept %-6s %s\n' \
        "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
        "$(find "$corpus" -type f | wc -l)" "$result" >"$results/$name"
    echo "$rc" >"$results/$name.rc"
}

# Stop the fuzzers this script started when it is interrupted.
trap 'kill $(jobs -p) 2>/dev/null; wait; exit 130' INT TERM

echo "fuzz.sh: ${#names[@]} target(s), $seconds s each, $jobs at a time; logs in $build/logs/"
running=0
for name in "${names[@]}"; do
    rm -f "$results/$name" "$results/$name.rc"
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    echo "fuzz.sh: $name: started ($(date +%H:%M:%S))"
    run_target "$name" &
    running=$((running + 1))
done
wait || true

echo
echo "fuzz.sh: summary ($seconds s each)"
failed=()
for name in "${names[@]}"; do
    if [ -f "$results/$name.rc" ]; then
        cat "$results/$name"
        [ "$(cat "$results/$name.rc")" = 0 ] || failed+=("$name")
    else
        echo "$name: no result"
        failed+=("$name")
    fi
done
[ ${#failed[@]} -eq 0 ] && echo "fuzz.sh: all targets clean" && exit 0

# The sanitizer or libFuzzer report of each failure, from its first line to its SUMMARY.
for name in "${failed[@]}"; do
    log=$build/logs/$name.log
    echo >&2
    echo "--- $name ($log)" >&2
    awk '/==[0-9]+== ?ERROR|: runtime error:/ { on = 1 }
         on && n < 80 { print; n++ }
         on && /^SUMMARY: / { exit }' "$log" >&2
    grep -E 'Test unit written to' "$log" >&2 || true
done
echo >&2
echo "fuzz.sh: ${failed[*]} failed; reproduce with $build/fuzz/<name>_fuzz <artifact>" >&2
exit 1
