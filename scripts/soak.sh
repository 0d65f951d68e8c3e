#!/usr/bin/env bash
# The gapless stream's soak: a Release build of tests/soak/stream_soak.cpp against the
# in-process emulator, devices sending at 100/50/20 Hz, WebSocket outages of 0.1-30 s
# every 2-20 s (a third with REST faults during the backfill), for MINUTES (default 30).
# Prints a line every 30 s: RSS, messages delivered and backfilled, reconnects, outages,
# gaps, held and undelivered messages, mismatches against the emulator's ground truth.
# Exits non-zero unless every message was delivered once, in order, with no gap.
#
#   ./scripts/soak.sh [MINUTES] [extra stream_soak options, e.g. --rates 100,100,100]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
shift || true
build=${ATOMCLOUD_SOAK_BUILD_DIR:-build/soak}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATOMCLOUD_BUILD_EXAMPLES=OFF \
    -DATOMCLOUD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target atomcloud_stream_soak
exec "$build/tests/soak/atomcloud_stream_soak" --minutes "$minutes" "$@"
