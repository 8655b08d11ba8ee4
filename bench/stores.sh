#!/usr/bin/env bash
# SQLite against PostgreSQL with one and with two gateway instances, in one run: bench/stores.sh
#
# Builds once, then runs bench/run.sh (paVerifyPaymentNotice and paGetPaymentV2 through wrk) for
# each of three setups, then bench/receipts.sh (paSendRTV2 receipts) for each:
#
#   sqlite      SQLite, one gateway (STORE=sqlite)
#   postgres    PostgreSQL, one gateway (STORE=postgres INSTANCES=1)
#   postgres×2  PostgreSQL, two gateways on the one database (STORE=postgres INSTANCES=2): the
#               load split evenly between them, figures summed, each percentile the worse of
#               the two
#
# Every run seeds a fresh store with the same POSITIONS. Writes one markdown table to
# bench/results/stores.md, the six reports after it.
#
# Knobs (environment): POSITIONS (50000), DURATION (5, seconds of each measured wrk run and each
# saturating receipts run), WARMUP (1), CONNECTIONS (64, for wrk and receipt_load alike), ROUNDS
# (1) and RATE_DURATION (2) for receipts.sh's fixed-rate runs, OUT (bench/results/stores.md),
# CARGO_TARGET_DIR (./target), SKIP_BUILD (0).
set -euo pipefail

BENCH_NAME=stores
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POSITIONS=${POSITIONS:-50000}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-1}
RATE_DURATION=${RATE_DURATION:-2}
OUT=${OUT:-bench/results/stores.md}
SKIP_BUILD=${SKIP_BUILD:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
positive POSITIONS DURATION CONNECTIONS ROUNDS RATE_DURATION

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-stores.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

if [[ $SKIP_BUILD != 1 ]]; then
  log "building (release): gpd-gateway and the examples of both benchmarks"
  cargo build --release --bin gpd-gateway --example bare_server --example seed_positions \
    --example receipt_load --example stub_station --example store_insert_rate >&2
fi

SETUPS=("sqlite 1" "postgres 1" "postgres 2")
name() { [[ $1 == sqlite ]] && echo SQLite || echo "PostgreSQL$([[ $2 == 2 ]] && echo ', two instances' || echo ', one instance')"; }
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

for setup in "${SETUPS[@]}"; do
  read -r store instances <<<"$setup"
  log "bench/run.sh: $(name "$store" "$instances")"
  STORE=$store INSTANCES=$instances SKIP_BUILD=1 EXTRA=0 POSITIONS=$POSITIONS DURATION=$DURATION \
    WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS OUT="$WORK/verify-$store-$instances.md" \
    SUMMARY="$WORK/verify-$store-$instances.sum" bench/run.sh >/dev/null
done
for setup in "${SETUPS[@]}"; do
  read -r store instances <<<"$setup"
  log "bench/receipts.sh: $(name "$store" "$instances")"
  STORE=$store INSTANCES=$instances SKIP_BUILD=1 POSITIONS=$POSITIONS DURATION=$DURATION \
    WARMUP=$WARMUP CONCURRENCY=$CONNECTIONS ROUNDS=$ROUNDS RATE_DURATION=$RATE_DURATION \
    OUT="$WORK/receipts-$store-$instances.md" SUMMARY="$WORK/receipts-$store-$instances.sum" \
    bench/receipts.sh >/dev/null
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

get() { # file key
  sed -n "s/^$2=//p" "$1" | tail -1
}
num() { awk -v v="$1" 'BEGIN {printf "%.0f", v}'; }
row() { # store instances
  local v=$WORK/verify-$1-$2.sum r=$WORK/receipts-$1-$2.sum
  printf '| %s | %s | %s ms | %s | %s ms | %s | %s | %s ms | %s | %s ms | %s |\n' "$(name "$1" "$2")" \
    "$(num "$(get "$v" gw-verify_rps)")" "$(ms "$(get "$v" gw-verify_p99_us)")" \
    "$(num "$(get "$v" gw-gpv2_rps)")" "$(ms "$(get "$v" gw-gpv2_p99_us)")" \
    "$(num "$(get "$v" bare-verify_rps)")" \
    "$(num "$(get "$r" sat-a_rps)")" "$(ms "$(get "$r" sat-a_p99_us)")" \
    "$(num "$(get "$r" sat-b_rps)")" "$(ms "$(get "$r" rate-a_p99_us)")" \
    "$(($(get "$v" gw-verify_errors) + $(get "$v" gw-gpv2_errors))) / $(($(get "$r" sat-a_ko) + $(get "$r" sat-a_failed) + $(get "$r" sat-b_ko) + $(get "$r" sat-b_failed)))"
}

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
REPORT=$(
  cat <<EOF
# gpd-gateway on SQLite and on PostgreSQL: $STARTED

\`bench/stores.sh\` at commit $(get "$WORK/verify-sqlite-1.sum" commit) (source digest $(get "$WORK/verify-sqlite-1.sum" source_digest)). Machine: $(nproc) CPUs,
$CPU_MODEL; the load tools, the gateways, PostgreSQL and the stub station all share them, so two
gateway instances compete for the same two CPUs with each other and with PostgreSQL: the
figures show what a second instance costs here, not what it adds on a second machine. Load
average before / after: $LOAD_START / $LOAD_END.

Each setup gets a fresh store with $POSITIONS positions. verify and getPaymentV2: \`bench/run.sh\`
with \`wrk -t2 -c$CONNECTIONS\`, ${DURATION} s after a ${WARMUP} s warm-up, random notices. Receipts:
\`bench/receipts.sh\` with $CONNECTIONS connections, each receipt for a different unpaid position, saturation
for up to ${DURATION} s (or until its share of the positions is used) after a ${WARMUP} s warm-up, and
$ROUNDS round(s) of ${RATE_DURATION} s at 1,000 receipts/s. Every receipt is answered OK once committed (SQLite:
synchronous FULL; PostgreSQL: fsync and synchronous_commit on). With two instances the load is
split evenly between them and run at once (two wrk, two receipt_load): req/s and receipts/s are
summed, each p99 is the worse of the two instances' p99s.

| store | verify req/s | verify p99 | getPaymentV2 req/s | getPaymentV2 p99 | bare server verify req/s (same run) | receipts/s, saturation | receipts p99, saturation | receipts/s, one station | receipts p99 at 1,000/s | errors: wrk / receipts KO or unanswered |
|---|---|---|---|---|---|---|---|---|---|---|
$(row sqlite 1)
$(row postgres 1)
$(row postgres 2)

<details><summary>the six reports</summary>

$(for setup in "${SETUPS[@]}"; do read -r s i <<<"$setup"; sed 's/^#/##/' "$WORK/verify-$s-$i.md"; echo; done)
$(for setup in "${SETUPS[@]}"; do read -r s i <<<"$setup"; sed 's/^#/##/' "$WORK/receipts-$s-$i.md"; echo; done)
</details>
EOF
)

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$REPORT" >"$OUT"
sed -n '1,/^<details>/p' <<<"$REPORT"
log "written to $OUT"
