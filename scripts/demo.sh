#!/usr/bin/env bash
# The demo: installs what is missing, builds (Release), starts the local Atom Cloud
# (atomcloud-emulator) with simulated devices on a free loopback port, and walks the
# whole API with the atomcloud command: organisations, groups, devices, state, history,
# a live watch of a device, a message sent to a device, and a recording into SQLite that
# loses nothing through a link outage; then runs an example program from examples/ against
# the same emulator. Stops the emulator at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

build=${ATOMCLOUD_DEMO_BUILD_DIR:-build/demo}
echo "Building atomcloud (Release) in $build ..."
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DATOMCLOUD_BUILD_TESTS=OFF -DATOMCLOUD_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target atomcloud_cli atomcloud-emulator 02_watch_echo >/dev/null

cli_bin="$PWD/$build/tools/cli/atomcloud"
emulator_bin="$PWD/$build/tools/emulator/atomcloud-emulator"
examples_dir="$PWD/$build/examples"
work=$(mktemp -d)
emulator_pid=""
cleanup() {
    if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then
        kill -TERM "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ -t 1 ]; then bold=$'\033[1m'; dim=$'\033[2m'; plain=$'\033[0m'; else bold=""; dim=""; plain=""; fi
say() { printf '\n%s# %s%s\n' "$dim" "$*" "$plain"; }
atomcloud() {
    local shown="" arg
    for arg in "$@"; do
        case "$arg" in *" "*) shown+=" \"$arg\"" ;; *) shown+=" $arg" ;; esac
    done
    printf '%s$ atomcloud%s%s\n' "$bold" "$shown" "$plain"
    "$cli_bin" "$@"
}

# 1. The local Atom Cloud: devices from the default fixture, all connected, each sending
#    a GBK reading every second and a heartbeat every 3 seconds.
"$emulator_bin" --listen 127.0.0.1:0 --simulate --connect-all \
    --reading-interval 1 --heartbeat-interval 3 --write-ca "$work/ca.pem" >"$work/emulator.out" 2>&1 &
emulator_pid=$!
for _ in $(seq 1 300); do
    grep -q '^base_url=' "$work/emulator.out" 2>/dev/null && break
    kill -0 "$emulator_pid" 2>/dev/null || { cat "$work/emulator.out"; exit 1; }
    sleep 0.1
done
ATOMCLOUD_BASE_URL=$(sed -n 's/^base_url=//p' "$work/emulator.out")
ATOMCLOUD_TOKEN=$(sed -n 's/^token=//p' "$work/emulator.out")
ATOMCLOUD_CA_FILE="$work/ca.pem"
export ATOMCLOUD_BASE_URL ATOMCLOUD_TOKEN ATOMCLOUD_CA_FILE
[ -n "$ATOMCLOUD_BASE_URL" ] || { echo "the emulator did not start"; cat "$work/emulator.out"; exit 1; }

say "The local Atom Cloud listens on $ATOMCLOUD_BASE_URL (HTTPS and WSS, verified TLS with its own CA)."
say "ATOMCLOUD_BASE_URL, ATOMCLOUD_TOKEN and ATOMCLOUD_CA_FILE point the atomcloud command at it."

say "The account's organisations"
atomcloud orgs
say "Device groups of organisation 1"
atomcloud groups --org 1
say "Devices of group 44, and of group 45"
atomcloud devices --org 1 --group 44
atomcloud devices --org 1 --group 45
say "Connection state of device 146 (the ID column)"
atomcloud state --org 1 --device-id 146
sleep 3
say "The device's last messages (history, newest first; its readings are GBK text)"
atomcloud history --org 1 --number 18846494908532689575 --limit 6 --encoding gbk
say "The same page as JSON, heartbeats left out"
atomcloud --json history --org 1 --number 18846494908532689575 --limit 2 --no-heartbeat --encoding gbk
say "Watching the device live for 4 seconds (WebSocket: subscribe, then frames 0x06)"
atomcloud watch --org 1 --number 18846494908532689575 --duration 4 --encoding gbk
say "Sending text to the device (frame 0x03, GBK-encoded)"
atomcloud send --org 1 --number 18846494908532689575 --text "你好, 设备" --encoding gbk
say "What the device received, from the emulator's control API:"
curl -sS --cacert "$ATOMCLOUD_CA_FILE" -H "token: $ATOMCLOUD_TOKEN" \
    "$ATOMCLOUD_BASE_URL/emulator/devices/18846494908532689575/received"
echo
say "Nothing missed: recording the device into SQLite while its WebSocket link is cut for 4 s"
say "(the stream backfills from the history what was sent meanwhile; each message once)"
printf '%s$ atomcloud record --org 1 --number 18846494908532689575 --db rec.db &%s\n' "$bold" "$plain"
"$cli_bin" record --org 1 --number 18846494908532689575 --db "$work/rec.db" 2>"$work/record.err" &
record_pid=$!
sleep 3
curl -sS --cacert "$ATOMCLOUD_CA_FILE" -H "token: $ATOMCLOUD_TOKEN" -X POST -d '{"refuse_ms":4000}' \
    "$ATOMCLOUD_BASE_URL/emulator/drop-connections" >/dev/null
echo "(link cut: upgrades refused for 4 s while the devices keep sending)"
sleep 9
kill -INT "$record_pid"
wait "$record_pid" || { echo "record failed:"; cat "$work/record.err"; exit 1; }
atomcloud export --db "$work/rec.db" --encoding gbk --format csv | cut -d, -f1-5 | head -n 14
echo "..."
"$cli_bin" export --db "$work/rec.db" --format csv |
    awk -F, 'NR>1 {n[$4]++} END {for (o in n) print o ": " n[o] " messages"}'
"$cli_bin" export --db "$work/rec.db" --gaps --format csv | awk 'END {print "gaps: " NR-1}'

say "The SDK in a program: examples/02_watch_echo.cpp, configured by the same ATOMCLOUD_* variables, sends each message of the device back to it (3 of them here)"
curl -sS --cacert "$ATOMCLOUD_CA_FILE" -H "token: $ATOMCLOUD_TOKEN" -X DELETE \
    "$ATOMCLOUD_BASE_URL/emulator/devices/18846494908532689575/received" >/dev/null
printf '%s$ examples/02_watch_echo 1 18846494908532689575 3%s\n' "$bold" "$plain"
"$examples_dir/02_watch_echo" 1 18846494908532689575 3
say "What the device received back, from the emulator's control API:"
curl -sS --cacert "$ATOMCLOUD_CA_FILE" -H "token: $ATOMCLOUD_TOKEN" \
    "$ATOMCLOUD_BASE_URL/emulator/devices/18846494908532689575/received"
echo

say "Errors are explicit: a wrong token is API code 300, exit status 1"
ATOMCLOUD_TOKEN=wrong atomcloud orgs || echo "(exit status $?)"

say "Stopping the emulator."
kill -TERM "$emulator_pid"
wait "$emulator_pid" && echo "The emulator exited cleanly."
emulator_pid=""
