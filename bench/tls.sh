#!/usr/bin/env bash
# paVerifyPaymentNotice over TLS against plain HTTP, in one run: bench/tls.sh
#
# Builds the release binary and seed_positions, seeds POSITIONS (100 000) published positions
# into one data directory, makes a CA and a server certificate for 127.0.0.1 with openssl, then
# takes turns, ROUNDS (3) times: the gateway on plain HTTP, then the same binary on the same data
# with [tls] (ECDSA P-256 certificate, no client certificate: wrk cannot present one), each
# measured with wrk on kept-alive connections after a warm-up. Every request names a random
# seeded notice (bench/soap.lua), answered OK (checked before measuring). Prints a markdown table
# of the medians over the rounds: req/s, p50 and p99, and TLS's ratio to plain HTTP, also
# written to OUT (bench/results/tls.md).
#
# Knobs (environment): DURATION (10, seconds per measured run), WARMUP (2), THREADS (2) and
# CONNECTIONS (64) for wrk, POSITIONS (100000), ROUNDS (3), GATEWAY_PORT (18080),
# CARGO_TARGET_DIR (./target), SKIP_BUILD (0), KEEP (0; 1 keeps the temp dir).
set -euo pipefail

BENCH_NAME=tls
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
POSITIONS=${POSITIONS:-100000}
ROUNDS=${ROUNDS:-3}
GATEWAY_PORT=${GATEWAY_PORT:-18080}
OUT=${OUT:-bench/results/tls.md}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release

need_tools wrk curl openssl awk sed timeout
positive DURATION THREADS CONNECTIONS POSITIONS ROUNDS
port_busy "$GATEWAY_PORT" && die "port $GATEWAY_PORT is in use: free it or set GATEWAY_PORT"

bench_workdir tls

bench_commit
if [[ $SKIP_BUILD != 1 ]]; then
  log "building (release): gpd-gateway, example seed_positions"
  cargo build --release --bin gpd-gateway --example seed_positions >&2
fi
for b in "$BIN/gpd-gateway" "$BIN/examples/seed_positions"; do
  [[ -x $b ]] || die "$b is missing (CARGO_TARGET_DIR=$TARGET_DIR)"
done

log "seeding $POSITIONS positions"
"$BIN/examples/seed_positions" --data "$WORK/data" --count "$POSITIONS" >&2

log "making a CA and a certificate for $HOST"
(
  cd "$WORK"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=bench CA" -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
    -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$HOST" >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.pem 2>/dev/null
)
# The example configuration, the one the seeded data is made for, with or without [tls]; the
# event journal off in both (an entry per request, measured on its own: bench/receipts.sh
# JOURNAL), so that its writes do not land in the other run's time.
sed '/^\[journal\]/,/^\[/ s/^enabled = true/enabled = false/' config/example.toml >"$WORK/plain.toml"
grep -q '^enabled = false' "$WORK/plain.toml" || die "config/example.toml has no [journal] enabled to set"
{ cat "$WORK/plain.toml"; printf '\n[tls]\ncert = "%s"\nkey = "%s"\n' "$WORK/server.pem" "$WORK/server.key"; } \
  >"$WORK/tls.toml"

start() { # plain|tls
  RUST_LOG=warn "$BIN/gpd-gateway" serve --listen "$HOST:$GATEWAY_PORT" --data "$WORK/data" \
    --config "$WORK/$1.toml" >>"$WORK/gateway-$1.log" 2>&1 &
  GW_PID=$!
  local deadline=$((SECONDS + 30))
  until curl -sS -m 1 -o /dev/null --cacert "$WORK/ca.pem" "$(url "$1" /health)" 2>/dev/null; do
    kill -0 "$GW_PID" 2>/dev/null || { tail -20 "$WORK/gateway-$1.log" >&2; die "the gateway ($1) exited"; }
    ((SECONDS < deadline)) || die "the gateway ($1) did not answer within 30 s"
    sleep 0.05
  done
}
url() { # plain|tls path
  if [[ $1 == tls ]]; then echo "https://$HOST:$GATEWAY_PORT$2"; else echo "http://$HOST:$GATEWAY_PORT$2"; fi
}

declare -A RPS P50 P99
measure() { # plain|tls round
  local mode=$1 round=$2 out line check
  start "$mode"
  check=$(timeout 30 wrk -t1 -c2 -d1s -s bench/soap.lua "$(url "$mode" /partner)" \
    -- bench/requests/verify.xml paVerifyPaymentNotice 1 "$POSITIONS" check | sed -n 's/^CHECK //p')
  [[ $check =~ ^ok=[1-9][0-9]*\ ko=0\ other=0 ]] || die "$mode: the verify check failed: $check"
  timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s bench/soap.lua \
    "$(url "$mode" /partner)" -- bench/requests/verify.xml paVerifyPaymentNotice 1 "$POSITIONS" >/dev/null
  out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s bench/soap.lua "$(url "$mode" /partner)" -- bench/requests/verify.xml paVerifyPaymentNotice 1 "$POSITIONS")
  stop_pid "$GW_PID"
  GW_PID=
  line=$(sed -n 's/^BENCH //p' <<<"$out" | tail -1)
  [[ -n $line ]] || { echo "$out" >&2; die "wrk printed no BENCH line"; }
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line"; }
  local errors=$(($(get non2xx) + $(get connect_err) + $(get read_err) + $(get write_err) + $(get timeout_err)))
  ((errors == 0)) || die "$mode round $round: $errors errors"
  RPS[$mode]+=" $(get rps)" P50[$mode]+=" $(get p50_us)" P99[$mode]+=" $(get p99_us)"
  log "$(printf '%-5s round %d: %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms' "$mode" "$round" "$(get rps)" \
    "$(ms "$(get p50_us)")" "$(ms "$(get p99_us)")")"
}

log "measuring: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds, plain then TLS"
for round in $(seq "$ROUNDS"); do
  measure plain "$round"
  measure tls "$round"
done

for mode in plain tls; do
  RPS[$mode]=$(median "${RPS[$mode]}") P50[$mode]=$(median "${P50[$mode]}") P99[$mode]=$(median "${P99[$mode]}")
done
mkdir -p "$(dirname "$OUT")"
tee "$OUT" <<EOF
Commit $COMMIT, $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), SQLite,
$POSITIONS positions; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency, kept-alive connections,
medians of $ROUNDS rounds taking turns.

| paVerifyPaymentNotice | req/s | p50 ms | p99 ms |
|---|---|---|---|
| plain HTTP | $(printf '%.0f' "${RPS[plain]}") | $(ms "${P50[plain]}") | $(ms "${P99[plain]}") |
| TLS (rustls, ECDSA P-256) | $(printf '%.0f' "${RPS[tls]}") | $(ms "${P50[tls]}") | $(ms "${P99[tls]}") |
| TLS / plain | $(ratio "${RPS[tls]}" "${RPS[plain]}") | $(ratio "${P50[tls]}" "${P50[plain]}") | $(ratio "${P99[tls]}" "${P99[plain]}") |
EOF
