#!/usr/bin/env bash
# Resource limits under a flood, in one command: bench/limits.sh
#
# Builds the release binary, starts the gateway on loopback with the demo positions, started
# under a soft open-files limit of 1,024 (the gateway raises it to the hard limit itself), with
# the default connection cap and body budget but header and request deadlines of 60 s, so that
# nothing is let go by a timeout during the run: what holds memory down is the limits alone.
# Then, from bench/limits_load.py, in two processes:
#
#   verify  a paVerifyPaymentNotice about every 5 ms on one kept-alive connection, timed;
#   flood   UPLOADS (400) requests declaring 1 MiB that send 512 KiB and stall, and IDLE
#           (5,000) connections that send nothing, all held for HOLD (15) seconds.
#
# It prints the figures (peak VmRSS of the gateway, uploads refused with 503, connections shed,
# verify p50 / p99 / max) as a markdown table. Every step is bounded by `timeout`; the whole run
# takes about 30 s after the build.
#
# Knobs (environment): UPLOADS (400), IDLE (5000), HOLD (15), PORT (18090), SKIP_BUILD (0),
# CARGO_TARGET_DIR (./target), KEEP (0; 1 keeps the temp dir with data and logs).
set -euo pipefail

BENCH_NAME=limits
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

UPLOADS=${UPLOADS:-400}
IDLE=${IDLE:-5000}
HOLD=${HOLD:-15}
PORT=${PORT:-18090}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP=${KEEP:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/gpd-gateway

need_tools python3 curl timeout
port_busy "$PORT" && die "port $PORT is in use: free it or set PORT"

# The client holds UPLOADS + IDLE sockets.
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) > UPLOADS + IDLE + 64 )) ||
  die "the open-files hard limit ($(ulimit -Hn)) is too low for $UPLOADS + $IDLE sockets"

bench_workdir limits

if [[ $SKIP_BUILD != 1 ]]; then
  log "building (release)"
  cargo build --release --bin gpd-gateway >&2
fi
[[ -x $BIN ]] || die "$BIN is missing"

# The built-in configuration with the deadlines lengthened (the limits keep their defaults).
sed -e 's/^request_timeout_ms = [0-9]*/request_timeout_ms = 60000/' \
    -e 's/^header_timeout_ms = [0-9]*/header_timeout_ms = 60000/' \
    config/example.toml > "$WORK/gateway.toml"
grep -q '^header_timeout_ms = 60000' "$WORK/gateway.toml" || die "could not set the deadlines"

log "starting the gateway on $HOST:$PORT (soft open-files limit 1024)"
(ulimit -Sn 1024; exec "$BIN" serve --demo --listen "$HOST:$PORT" --data "$WORK/data" \
  --config "$WORK/gateway.toml") 2> "$WORK/gateway.log" &
GW_PID=$!
wait_http "http://$HOST:$PORT/health" "$GW_PID" "$WORK/gateway.log" 20
FILES=$(grep -o 'soft=[0-9]* hard=[0-9]*' "$WORK/gateway.log" | head -1 || true)
log "open-files limit as the gateway logged it: ${FILES:-not logged}"

export PORT GATEWAY_PID=$GW_PID UPLOADS IDLE HOLD STOP=$WORK/stop MAX_SECONDS=$((HOLD + 60))
timeout $((HOLD + 70)) python3 bench/limits_load.py verify > "$WORK/verify.json" &
VERIFY_PID=$!
sleep 1
log "flood: $UPLOADS stalled 1 MiB uploads, $IDLE idle connections, held $HOLD s"
timeout $((HOLD + 60)) python3 bench/limits_load.py flood > "$WORK/flood.json"
wait "$VERIFY_PID"
SHED_LOGGED=$(grep -c 'connection cap reached' "$WORK/gateway.log" || true)
RSS_AFTER=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$GW_PID/status")

python3 - "$WORK/flood.json" "$WORK/verify.json" "$RSS_AFTER" "${FILES:-}" <<'PY'
import json, sys
flood = json.load(open(sys.argv[1]))
verify = json.load(open(sys.argv[2]))
print("| measure | value |")
print("|---|---|")
print(f"| open-files limit (gateway log) | {sys.argv[4] or 'not logged'} |")
print(f"| stalled 1 MiB uploads / refused 503 | {flood['uploads']} / {flood['uploads_refused_503']} |")
print(f"| idle connections / shed (503, closed) | {flood['idle']} / {flood['idle_shed']} |")
print(f"| client connect errors | {flood['idle_connect_errors']} |")
print(f"| gateway RSS before / peak during hold / after (MiB) | {flood['rss_start_mib']} / {flood['rss_max_mib']} / {sys.argv[3]} |")
print(f"| verifies during the flood / failed | {verify['verifies']} / {verify['verify_failures']} |")
print(f"| verify p50 / p99 / max (ms) | {verify['verify_p50_ms']} / {verify['verify_p99_ms']} / {verify['verify_max_ms']} |")
PY
