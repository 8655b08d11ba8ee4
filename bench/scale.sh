#!/usr/bin/env bash
# The growth curve, in one command: bench/scale.sh (STORE=postgres bench/scale.sh, STORE=both)
#
# Builds once, then for each number of positions in SIZES (10 000, 100 000, 1 000 000) runs
# bench/run.sh on a fresh store of that size: seeding it with examples/seed_positions (timed),
# paVerifyPaymentNotice and paGetPaymentV2 through wrk against the gateway and against the bare
# hyper server answering the gateway's captured responses, the gateway's VmRSS / VmHWM after the
# load and the store's size on disk. Each size's figures become a row of bench/results/scale.csv
# (the rows of a store not measured in this run are kept, so that one run per store fills the
# file); bench/scale_plot.py then writes the table, bench/results/scale.md, and the plot,
# docs/scale.svg. Each size's full bench/run.sh report goes to bench/results/scale/.
#
# Knobs (environment): SIZES ("10000 100000 1000000"), STORE (sqlite; postgres; both: SQLite
# then PostgreSQL), DURATION (10, seconds per measured wrk run), WARMUP (2), THREADS (2),
# CONNECTIONS (64), GATEWAY_PORT (18080), BARE_PORT (18081, and +1), CSV
# (bench/results/scale.csv), OUT (bench/results/scale.md), SVG (docs/scale.svg), SEED_TIMEOUT
# (1200, seconds each step of a seeding may take), PG_SEED (copy: on PostgreSQL, seed_positions
# into SQLite, then `gpd-gateway store copy`, several times faster than store: seed_positions
# through the PostgreSQL store), CARGO_TARGET_DIR (./target), SKIP_BUILD (0).
set -euo pipefail

BENCH_NAME=scale
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZES=${SIZES:-10000 100000 1000000}
STORE=${STORE:-sqlite}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
GATEWAY_PORT=${GATEWAY_PORT:-18080}
BARE_PORT=${BARE_PORT:-18081}
CSV=${CSV:-bench/results/scale.csv}
OUT=${OUT:-bench/results/scale.md}
SVG=${SVG:-docs/scale.svg}
SEED_TIMEOUT=${SEED_TIMEOUT:-1200}
PG_SEED=${PG_SEED:-copy}
SKIP_BUILD=${SKIP_BUILD:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

need_tools wrk curl awk sed timeout python3 df
positive DURATION THREADS CONNECTIONS GATEWAY_PORT BARE_PORT SEED_TIMEOUT
[[ $PG_SEED == store || $PG_SEED == copy ]] || die "PG_SEED must be store or copy"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds"
read -ra SIZE_LIST <<<"$SIZES"
((${#SIZE_LIST[@]} > 0)) || die "SIZES is empty"
for size in "${SIZE_LIST[@]}"; do
  [[ $size =~ ^[1-9][0-9]*$ ]] || die "SIZES must be positive integers, not '$size'"
done
case $STORE in
  sqlite | postgres) STORES=("$STORE") ;;
  both) STORES=(sqlite postgres) ;;
  *) die "STORE must be sqlite, postgres or both" ;;
esac
[[ $STORE == sqlite ]] || need_tools psql
for port in "$GATEWAY_PORT" "$BARE_PORT" $((BARE_PORT + 1)); do
  port_busy "$port" && die "port $port is in use: free it or set GATEWAY_PORT / BARE_PORT"
done

# bench/run.sh makes its temporary directory (store, logs) in this one, and removes it unless it
# fails; on the way out, this one goes, but for the logs of a failed run (its store removed: a
# million positions take a gigabyte), unless interrupted. RUN_PID is the running bench/run.sh, in a process group of
# its own (setsid): an interrupt stops it, wrk and its servers at once, then lets it clean up.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-scale.XXXXXX")
chmod 711 "$WORK" # a PostgreSQL cluster in it belongs to the postgres user when run as root
RUN_PID=
cleanup() {
  local rc=$?
  if [[ -n $RUN_PID ]] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM -- "-$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
  fi
  if ((rc != 0 && !INTERRUPTED)) && compgen -G "$WORK/gpd-bench.*" >/dev/null; then
    rm -rf "$WORK"/gpd-bench.*/data "$WORK"/gpd-bench.*/pg/data
    log "kept the logs of the failed run in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
INTERRUPTED=0
trap cleanup EXIT
trap 'INTERRUPTED=1; exit 130' INT TERM

if [[ $SKIP_BUILD != 1 ]]; then
  log "building (release): gpd-gateway, examples bare_server and seed_positions"
  cargo build --release --bin gpd-gateway --example bare_server --example seed_positions >&2
fi

bench_commit
COMMIT=${COMMIT//,/ } # a CSV field
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
REPORTS=$(dirname "$OUT")/scale
mkdir -p "$REPORTS" "$(dirname "$CSV")" "$(dirname "$SVG")"

COLUMNS=(store positions seed seed_s store_bytes
  gw_verify_rps bare_verify_rps gw_verify_p99_us bare_verify_p99_us gw_verify_cpu_us bare_verify_cpu_us
  gw_gpv2_rps bare_gpv2_rps gw_gpv2_p99_us bare_gpv2_p99_us gw_gpv2_cpu_us
  gw_rss_kb gw_hwm_kb errors load1 duration_s commit date)
get() { sed -n "s/^$2=//p" "$1" | tail -1; } # summary-file key

# The new rows, one per size, with the columns above.
ROWS=$WORK/rows.csv
: >"$ROWS"
RUN_START=$SECONDS
for store in "${STORES[@]}"; do
  for size in "${SIZE_LIST[@]}"; do
    avail=$(df -Pk "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $4}')
    # About 1 KB per position on either store, twice that while copied: refuse rather than fill
    # the disk half-way.
    ((avail > size * 3)) || die "$((avail / 1024)) MB free in ${TMPDIR:-/tmp}: too little for $size positions"
    load=$(cut -d' ' -f1 /proc/loadavg)
    log "$store, $size positions: seeding and measuring (load average $load, $((SECONDS - RUN_START)) s so far)"
    sum=$WORK/$store-$size.sum
    seed=$([[ $store == postgres ]] && echo "$PG_SEED" || echo store)
    started=$SECONDS
    STORE=$store INSTANCES=1 POSITIONS=$size SKIP_BUILD=1 EXTRA=0 DURATION=$DURATION WARMUP=$WARMUP \
      THREADS=$THREADS CONNECTIONS=$CONNECTIONS GATEWAY_PORT=$GATEWAY_PORT BARE_PORT=$BARE_PORT \
      SEED=$seed SEED_TIMEOUT=$SEED_TIMEOUT OUT="$REPORTS/$store-$size.md" SUMMARY="$sum" KEEP=0 TMPDIR="$WORK" \
      setsid bench/run.sh >/dev/null &
    RUN_PID=$!
    wait "$RUN_PID" || die "bench/run.sh failed for $store, $size positions"
    RUN_PID=
    errors=$(($(get "$sum" gw-verify_errors) + $(get "$sum" bare-verify_errors) +
      $(get "$sum" gw-gpv2_errors) + $(get "$sum" bare-gpv2_errors)))
    values=("$store" "$size" "$seed" "$(get "$sum" seed_seconds)" "$(get "$sum" store_bytes)"
      "$(get "$sum" gw-verify_rps)" "$(get "$sum" bare-verify_rps)"
      "$(get "$sum" gw-verify_p99_us)" "$(get "$sum" bare-verify_p99_us)"
      "$(get "$sum" gw-verify_cpu_us)" "$(get "$sum" bare-verify_cpu_us)"
      "$(get "$sum" gw-gpv2_rps)" "$(get "$sum" bare-gpv2_rps)"
      "$(get "$sum" gw-gpv2_p99_us)" "$(get "$sum" bare-gpv2_p99_us)" "$(get "$sum" gw-gpv2_cpu_us)"
      "$(get "$sum" gw_rss_kb)" "$(get "$sum" gw_hwm_kb)" "$errors" "$load" $((SECONDS - started))
      "$COMMIT" "$DATE")
    for v in "${values[@]}"; do
      [[ -n $v ]] || die "bench/run.sh left a figure out of $sum"
    done
    (IFS=,; echo "${values[*]}") >>"$ROWS"
    log "$(awk -F, '{printf "%s, %s positions: seeded in %s s (%.0f/s); verify %.0f req/s (bare %.0f, %.0f %%); p99 %.2f ms (bare %.2f); RSS %.1f MB, peak %.1f MB; store %.0f MB",
      $1, $2, $4, $2 / $4, $6, $7, 100 * $6 / $7, $8 / 1000, $9 / 1000, $17 / 1024, $18 / 1024, $5 / 1048576}' <<<"$(tail -1 "$ROWS")")"
  done
done

# The file's rows of the stores not measured now stay; those of the stores measured are replaced.
{
  (IFS=,; echo "${COLUMNS[*]}")
  if [[ -s $CSV ]]; then
    [[ $(head -1 "$CSV") == "$(IFS=,; echo "${COLUMNS[*]}")" ]] ||
      die "$CSV has other columns than this script writes: move it away"
    tail -n +2 "$CSV" | awk -F, -v measured=" ${STORES[*]} " 'index(measured, " " $1 " ") == 0'
  fi
  cat "$ROWS"
} >"$WORK/scale.csv"
mv "$WORK/scale.csv" "$CSV"
python3 bench/scale_plot.py "$CSV" --md "$OUT" --svg "$SVG"
log "done in $((SECONDS - RUN_START)) s: $CSV, $OUT, $SVG"
