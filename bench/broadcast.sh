#!/usr/bin/env bash
# What a broadcast station costs the Node, in one command: bench/broadcast.sh
#
# Builds the release binary and the receipt examples, seeds POSITIONS published positions once,
# starts two stub stations (examples/stub_station.rs): a healthy one that answers at once, and a
# black hole that reads each request and never answers within any station timeout. Then, ROUNDS
# times and taking turns, each of three setups gets a fresh gateway on a fresh copy of the seeded
# data:
#
#   none     no broadcast station registered
#   healthy  the healthy stub registered as broadcast station of 77777777777
#   hole     the black hole registered instead (timeout TIMEOUT_MS)
#
# and examples/receipt_load.rs measures paSendRTV2 receipts, each for a different unpaid
# position: at saturation (CONCURRENCY connections, DURATION s: receipts/s and p99), then at a
# fixed RATE for RATE_DURATION s (p99 of an unsaturated gateway). CPU is read from /proc for the
# gateway and the healthy stub: what one delivery costs is the gateway's extra CPU per receipt
# with the healthy station, plus the station's own CPU per receipt it received (both share the
# machine's cores). Prints a markdown table, also written to OUT.
#
# Knobs (environment): POSITIONS (60000), DURATION (5), RATE (1000), RATE_DURATION (4),
# ROUNDS (3), CONCURRENCY (64), TIMEOUT_MS (1000), GATEWAY_PORT (18180), STUB_PORT (18191),
# HOLE_PORT (18192), OUT (bench/results/broadcast.md), KEEP (0), CARGO_TARGET_DIR (./target),
# SKIP_BUILD (0).
set -euo pipefail

BENCH_NAME=broadcast
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POSITIONS=${POSITIONS:-60000}
DURATION=${DURATION:-5}
RATE=${RATE:-1000}
RATE_DURATION=${RATE_DURATION:-4}
ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-64}
TIMEOUT_MS=${TIMEOUT_MS:-1000}
GATEWAY_PORT=${GATEWAY_PORT:-18180}
STUB_PORT=${STUB_PORT:-18191}
HOLE_PORT=${HOLE_PORT:-18192}
OUT=${OUT:-bench/results/broadcast.md}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
ORG=77777777777
SETUPS="none healthy hole"

need_tools curl awk sed sort cp timeout
positive POSITIONS DURATION RATE RATE_DURATION ROUNDS CONCURRENCY TIMEOUT_MS
bench_commit
# A saturating run uses at most this many positions; a fresh copy of the data has them all.
((POSITIONS >= RATE * RATE_DURATION + 10000)) || die "POSITIONS=$POSITIONS is too few for RATE=$RATE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-broadcast.XXXXXX")
SEED=$WORK/seed
GW_PID= STUB_PID= HOLE_PID=

cleanup() {
  local rc=$?
  stop_pid "$GW_PID"
  stop_pid "$STUB_PID"
  stop_pid "$HOLE_PID"
  bench_leave "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_build seed_positions receipt_load stub_station

log "seeding $POSITIONS positions"
log "$(timeout 600 "$BIN/examples/seed_positions" --data "$SEED" --count "$POSITIONS")"
KEY=$("$BIN/gpd-gateway" keys create --data "$SEED" --org "$ORG" --label bench 2>/dev/null)
# The example configuration, with the stubs' network (loopback) allowed.
sed 's|^allowed_networks = \[\]|allowed_networks = ["127.0.0.0/8"]|' config/example.toml >"$WORK/gateway.toml"

"$BIN/examples/stub_station" --listen "$HOST:$STUB_PORT" --log "$WORK/healthy.log" >"$WORK/stub.log" 2>&1 &
STUB_PID=$!
# Accepts and reads every request, answers none within any station timeout.
"$BIN/examples/stub_station" --listen "$HOST:$HOLE_PORT" --delay-ms 86400000 >"$WORK/hole.log" 2>&1 &
HOLE_PID=$!
wait_http "http://$HOST:$STUB_PORT/" "$STUB_PID" "$WORK/stub.log" 10
wait_http "http://$HOST:$HOLE_PORT/" "$HOLE_PID" "$WORK/hole.log" 10

CLK_TCK=$(getconf CLK_TCK)

start_gateway() { # setup
  rm -rf "$WORK/data"
  cp -r "$SEED" "$WORK/data"
  RUST_LOG=warn "$BIN/gpd-gateway" serve --listen "$HOST:$GATEWAY_PORT" --data "$WORK/data" \
    --config "$WORK/gateway.toml" >"$WORK/gateway-$1.log" 2>&1 &
  GW_PID=$!
  wait_http "http://$HOST:$GATEWAY_PORT/health" "$GW_PID" "$WORK/gateway-$1.log" 30
  local port
  case $1 in
    none) return ;;
    healthy) port=$STUB_PORT ;;
    hole) port=$HOLE_PORT ;;
  esac
  local status
  status=$(curl -sS -m 5 -o "$WORK/put.txt" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    -H "Ocp-Apim-Subscription-Key: $KEY" \
    -d "{\"url\": \"http://$HOST:$port/partner\", \"brokerId\": \"$ORG\", \"timeoutMs\": $TIMEOUT_MS}" \
    "http://$HOST:$GATEWAY_PORT/organizations/$ORG/broadcast-stations/${ORG}_09")
  [[ $status == 201 ]] || { cat "$WORK/put.txt" >&2; die "station registration answered $status"; }
}

declare -A V # V[setup,metric] = space-separated values, one per round
record() { V[$1,$2]+="$3 "; }

load() { # setup kind(sat|rate) first args… -> records rps, p99, cpu
  local setup=$1 kind=$2 first=$3 out line gw0 gw1 st0 st1 recv0 recv1
  shift 3
  gw0=$(cpu_ticks "$GW_PID") st0=$(cpu_ticks "$STUB_PID") recv0=$(wc -l <"$WORK/healthy.log" 2>/dev/null || echo 0)
  out=$(timeout $((DURATION + RATE_DURATION + 60)) "$BIN/examples/receipt_load" \
    --target "http://$HOST:$GATEWAY_PORT/partner" --version 2 --first "$first" \
    --concurrency "$CONCURRENCY" "$@" 2>>"$WORK/load.log") || true
  gw1=$(cpu_ticks "$GW_PID") st1=$(cpu_ticks "$STUB_PID") recv1=$(wc -l <"$WORK/healthy.log" 2>/dev/null || echo 0)
  line=$(sed -n 's/^RESULT //p' <<<"$out")
  [[ -n $line ]] || { echo "$out" >&2; die "receipt_load printed no RESULT line"; }
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line"; }
  local n ko failed
  n=$(get receipts) ko=$(get ko) failed=$(get failed)
  [[ $ko == 0 && $failed == 0 ]] || die "$setup $kind: $ko KO and $failed failed answers"
  record "$setup" "$kind-rps" "$(get ok_rps)"
  record "$setup" "$kind-p99" "$(get p99_us)"
  record "$setup" "$kind-gw-cpu" "$(awk -v t=$((gw1 - gw0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')"
  if [[ $setup == healthy ]]; then
    record "$setup" "$kind-stub-cpu" "$(awk -v t=$((st1 - st0)) -v hz="$CLK_TCK" -v n=$((recv1 - recv0)) 'BEGIN {printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0}')"
    record "$setup" "$kind-received" $((recv1 - recv0))
  fi
  log "$(printf '%-8s %-4s %8.0f OK/s  p99 %7.2f ms  gateway %6s µs CPU/receipt' "$setup" "$kind" \
    "$(get ok_rps)" "$(awk -v u="$(get p99_us)" 'BEGIN {print u / 1000}')" \
    "$(awk -v t=$((gw1 - gw0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')")"
}

for round in $(seq "$ROUNDS"); do
  for setup in $SETUPS; do
    log "round $round of $ROUNDS: $setup"
    start_gateway "$setup"
    load "$setup" warm 1 --count 5000 --duration 1 >/dev/null
    load "$setup" sat 5001 --count $((POSITIONS - 5000 - RATE * RATE_DURATION)) --duration "$DURATION"
    load "$setup" rate $((POSITIONS - RATE * RATE_DURATION + 1)) --count $((RATE * RATE_DURATION)) \
      --rate "$RATE" --duration "$RATE_DURATION"
    kill -0 "$GW_PID" 2>/dev/null || die "the gateway died during $setup"
    stop_pid "$GW_PID"
    GW_PID=
  done
done

m() { median "${V[$1,$2]}"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f %%", 100 * (a - b) / b}'; }

DELIVERY_GW=$(awk -v h="$(m healthy sat-gw-cpu)" -v n="$(m none sat-gw-cpu)" 'BEGIN {printf "%.1f", h - n}')
DELIVERY_STUB=$(m healthy sat-stub-cpu)
TABLE=$(
  cat <<EOF
| setup | receipts/s (saturation) | vs none | p99 (saturation) | vs none | p99 at $RATE/s | vs none | gateway CPU per receipt |
|---|---|---|---|---|---|---|---|
EOF
  for setup in $SETUPS; do
    printf '| %s | %.0f | %s | %s ms | %s | %s ms | %s | %s µs |\n' "$setup" \
      "$(m "$setup" sat-rps)" "$(pct "$(m "$setup" sat-rps)" "$(m none sat-rps)")" \
      "$(ms "$(m "$setup" sat-p99)")" "$(pct "$(m "$setup" sat-p99)" "$(m none sat-p99)")" \
      "$(ms "$(m "$setup" rate-p99)")" "$(pct "$(m "$setup" rate-p99)" "$(m none rate-p99)")" \
      "$(m "$setup" sat-gw-cpu)"
  done
)
REPORT=$(
  cat <<EOF
## Broadcast: what a station costs the Node ($(date -u +%F), commit $COMMIT)

\`bench/broadcast.sh\`: $POSITIONS positions, $ROUNDS rounds of each setup on a fresh copy of the
data, medians of the rounds; saturation is $CONCURRENCY connections for ${DURATION} s, the fixed
rate $RATE receipts/s for ${RATE_DURATION} s; station timeout $TIMEOUT_MS ms; $(nproc) cores.

$TABLE

With the healthy station, one delivery costs the gateway $DELIVERY_GW µs of CPU (its CPU per
receipt with the station, less without) and the station $DELIVERY_STUB µs per receipt it
received; both run on the same cores as the gateway, which is most of the gap to "none".
EOF
)
echo "$REPORT"
mkdir -p "$(dirname "$OUT")"
echo "$REPORT" >"$OUT"
log "written to $OUT"
