#!/usr/bin/env bash
# Installs the Debian packages atomcloud's build, tests, tools and demo need: only the
# missing ones, idempotent, quiet when everything is already there.
set -euo pipefail

packages=(
    cmake ninja-build g++ pkg-config
    libboost1.81-dev libboost-url1.81-dev libssl-dev nlohmann-json3-dev
    catch2 libcli11-dev libbenchmark-dev
    libsqlite3-dev     # the CLI's record and export
    curl ca-certificates python3 doxygen
    python3-websockets # a WebSocket peer that is not ours, in the session's tests
    tinyproxy          # a real HTTP CONNECT proxy, in the REST and session proxy tests
    node-ws            # Node.js's ws package: the benchmarks' side-by-side peer
    clang libclang-rt-14-dev lld # the fuzz targets (libFuzzer), and quicker links
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
    sudo_cmd=()
elif command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them and re-run" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
