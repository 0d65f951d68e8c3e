#!/usr/bin/env bash
# The demo: installs what is missing, builds Release, and runs the frame-codec example.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
build=${ATOMCLOUD_DEMO_BUILD_DIR:-build/demo}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATOMCLOUD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target 00_frame_codec
"$build/examples/00_frame_codec"
