#!/bin/sh
# with_emulator.sh EMULATOR PROGRAM...: runs PROGRAM with ATOMCLOUD_BASE_URL, _TOKEN and
# _CA_FILE pointing at a fresh emulator (EMULATOR, the installed atomcloud-emulator), which
# is stopped afterwards. Exits with PROGRAM's status.
set -eu
emulator=$1
shift
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$emulator" --listen 127.0.0.1:0 --write-ca "$dir/ca.pem" > "$dir/info" &
pid=$!
tries=0
until grep -q '^ca=' "$dir/info" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "with_emulator.sh: the emulator did not start" >&2
        exit 1
    fi
    sleep 0.1
done
ATOMCLOUD_BASE_URL=$(sed -n 's/^base_url=//p' "$dir/info")
ATOMCLOUD_TOKEN=$(sed -n 's/^token=//p' "$dir/info")
ATOMCLOUD_CA_FILE=$dir/ca.pem
export ATOMCLOUD_BASE_URL ATOMCLOUD_TOKEN ATOMCLOUD_CA_FILE
"$@"
