#!/usr/bin/env bash
# What metrics and the access log cost: bench/observe.sh
#
# Builds the release binary and seed_positions, seeds POSITIONS published positions, then
# measures paVerifyPaymentNotice req/s (wrk, bench/soap.lua, random seeded notices) against
# the same binary and data in four configurations, restarting the gateway for each run and
# taking turns (ROUNDS times: metrics on, metrics off, access log on, access log off):
#
#   metrics-on / metrics-off   [metrics] enabled true / false; no access log, RUST_LOG=warn
#   access-on / access-off     [log] access true / false; metrics on, RUST_LOG=info, the log
#                              written to a file (LOG_TO, default a file in the temp dir; set it
#                              to /dev/null to measure that instead)
#
# Prints each run (req/s, and the gateway's CPU time per request, which a busy machine disturbs
# less) and the median per configuration, and the differences against the targets (metrics
# within 3 %, access log within 5 %), also written to OUT.
#
# Knobs (environment): DURATION (10), WARMUP (2), THREADS (2), CONNECTIONS (64), POSITIONS
# (20000), ROUNDS (3), GATEWAY_PORT (18080), CARGO_TARGET_DIR (./target; use a private one on a
# shared machine), SKIP_BUILD (0), LOG_TO, OUT (bench/results/observe.md), KEEP (0).
set -euo pipefail

BENCH_NAME=observe
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
POSITIONS=${POSITIONS:-20000}
ROUNDS=${ROUNDS:-3}
GATEWAY_PORT=${GATEWAY_PORT:-18080}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT=${OUT:-bench/results/observe.md}
KEEP=${KEEP:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release

need_tools wrk curl awk sed timeout
positive POSITIONS ROUNDS DURATION
port_busy "$GATEWAY_PORT" && die "port $GATEWAY_PORT is in use: free it or set GATEWAY_PORT"

bench_workdir observe
LOG_TO=${LOG_TO:-$WORK/gateway-access.log}

bench_commit
if [[ $SKIP_BUILD != 1 ]]; then
  log "building (release): gpd-gateway and seed_positions"
  cargo build --release --bin gpd-gateway --example seed_positions >&2
fi
log "seeding $POSITIONS positions"
log "$(timeout 600 "$BIN/examples/seed_positions" --data "$WORK/data" --count "$POSITIONS")"

# One configuration file per setting, from the example.
configure() { # name metrics access
  # The event journal off in every configuration: it writes an entry per request, measured on
  # its own (JOURNAL in bench/receipts.sh), and its writes would land in the next run's time.
  sed -e "/^\[metrics\]/,/^\[/ s/^enabled = .*/enabled = $2/" \
    -e "/^\[log\]/,/^\[/ s/^access = .*/access = $3/" \
    -e "/^\[journal\]/,/^\[/ s/^enabled = .*/enabled = false/" config/example.toml >"$WORK/$1.toml"
  grep -q "^access = $3" "$WORK/$1.toml" &&
    [[ $(sed -n "/^\[metrics\]/,/^\[/ s/^enabled = //p" "$WORK/$1.toml") == "$2" ]] &&
    [[ $(sed -n "/^\[journal\]/,/^\[/ s/^enabled = \([a-z]*\).*/\1/p" "$WORK/$1.toml") == false ]] ||
    die "config/example.toml has no [metrics] enabled / [log] access / [journal] enabled to set"
}
configure metrics-on true false
configure metrics-off false false
configure access-on true true
configure access-off true false

declare -A RUNS CPUS
CLK_TCK=$(getconf CLK_TCK)
run() { # name rust_log logfile
  local name=$1 out line rps before after cpu
  RUST_LOG=$2 "$BIN/gpd-gateway" serve --listen "$HOST:$GATEWAY_PORT" --data "$WORK/data" \
    --config "$WORK/$name.toml" >>"$3" 2>&1 &
  GW_PID=$!
  wait_http "http://$HOST:$GATEWAY_PORT/health" "$GW_PID" "$3" 30
  local url=http://$HOST:$GATEWAY_PORT/partner
  timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s bench/soap.lua "$url" \
    -- bench/requests/verify.xml paVerifyPaymentNotice 1 "$POSITIONS" >/dev/null
  before=$(cpu_ticks "$GW_PID")
  out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s bench/soap.lua "$url" -- bench/requests/verify.xml paVerifyPaymentNotice 1 "$POSITIONS")
  after=$(cpu_ticks "$GW_PID")
  line=$(sed -n 's/^BENCH //p' <<<"$out" | tail -1)
  [[ -n $line ]] || { echo "$out" >&2; die "wrk printed no BENCH line"; }
  [[ $(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<" $line") == 0 ]] || die "$name: non-2xx answers: $line"
  rps=$(sed -n 's/.* rps=\([^ ]*\).*/\1/p' <<<" $line")
  cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<" $line")" \
    'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  RUNS[$name]+="$rps " CPUS[$name]+="$cpu "
  log "$(printf '%-12s %9.0f req/s  %6s us CPU/req' "$name" "$rps" "$cpu")"
  stop_pid "$GW_PID"
  GW_PID=
}

log "measuring: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (after ${WARMUP}s warm-up), $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  run metrics-on warn "$WORK/gateway.log"
  run metrics-off warn "$WORK/gateway.log"
  run access-on info "$LOG_TO"
  run access-off info "$LOG_TO"
done

m() { median "${RUNS[$1]}"; }
c() { median "${CPUS[$1]}"; }
diff_pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) / b * 100}'; }
METRICS_COST=$(diff_pct "$(m metrics-on)" "$(m metrics-off)")
ACCESS_COST=$(diff_pct "$(m access-on)" "$(m access-off)")
# CPU per request: how much more the gateway spends, as a share of its throughput.
METRICS_CPU=$(diff_pct "$(c metrics-off)" "$(c metrics-on)")
ACCESS_CPU=$(diff_pct "$(c access-off)" "$(c access-on)")
mkdir -p "$(dirname "$OUT")"
{
  echo "Commit $COMMIT; verify, $POSITIONS positions, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds taking turns; $(nproc) CPUs."
  echo
  echo "| configuration | runs (req/s) | median req/s | runs (gateway CPU µs/req) | median µs/req |"
  echo "|---|---|---|---|---|"
  for name in metrics-on metrics-off access-on access-off; do
    echo "| $name | ${RUNS[$name]% } | $(m "$name") | ${CPUS[$name]% } | $(c "$name") |"
  done
  echo
  echo "Metrics cost: $METRICS_COST % of verify req/s (target under 3 %: $(verdict "$METRICS_COST" 3 lt)); $METRICS_CPU % more CPU per request."
  echo "Access log cost (to ${LOG_TO/#$WORK/<temp dir>}): $ACCESS_COST % of req/s (target within 5 %: $(verdict "$ACCESS_COST" 5 le)); $ACCESS_CPU % more CPU per request."
} | tee "$OUT"
