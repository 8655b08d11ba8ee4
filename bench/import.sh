#!/usr/bin/env bash
# The bulk-import benchmark, in one command: bench/import.sh
#
# Builds the release binary and the examples gen_positions and seed_positions, generates
# POSITIONS (100 000) positions twice with the same seed, as JSON lines and as CSV
# (examples/gen_positions.rs: 1 to 3 payment options, 1 or 2 transfers each), then, ROUNDS (3)
# times, each into a fresh data directory on the same disk:
#
#   (a) gpd-gateway import FILE.jsonl --org 77777777777
#   (b) gpd-gateway import FILE.csv --org 77777777777
#   (c) examples/seed_positions: the same number of positions built in memory and inserted through
#       the store in transactions of the same size (no file, no parsing, no validation; one option
#       and two transfers each): the store's own insert rate, for comparison
#
# Each import must exit 0 having imported every position. Reports wall-clock seconds (median and
# range over the rounds), positions/s at the median, and the CPU time of the process (user +
# system), as a markdown table, also written to bench/results/import.md.
#
# Knobs (environment): POSITIONS (100000), ROUNDS (3), BATCH (1000, --batch-size), OUT
# (bench/results/import.md), KEEP (0; 1 keeps the temporary directory), SKIP_BUILD (0),
# CARGO_TARGET_DIR (./target).
set -euo pipefail

BENCH_NAME=import
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POSITIONS=${POSITIONS:-100000}
ROUNDS=${ROUNDS:-3}
BATCH=${BATCH:-1000}
OUT=${OUT:-bench/results/import.md}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
ORG=77777777777

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-import.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

if [[ $SKIP_BUILD != 1 ]]; then
  log "building (release)"
  cargo build --release --quiet --bin gpd-gateway --example gen_positions --example seed_positions
fi
bench_commit

for format in jsonl csv; do
  "$BIN/examples/gen_positions" --count "$POSITIONS" --format "$format" --out "$WORK/positions.$format" \
    2>"$WORK/gen-$format.txt"
  log "generated $(cat "$WORK/gen-$format.txt")"
done
SHAPE=$(sed -n 's/^positions=\([0-9]*\) options=\([0-9]*\) transfers=\([0-9]*\).*/\1 positions, \2 payment options, \3 transfers/p' "$WORK/gen-jsonl.txt")
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.1f", b / 1048576}'; }

declare -A SECONDS_OF CPU_OF
TIMEFORMAT='%R %U %S'
timed() { # key command... -> appends wall seconds and CPU seconds of one run
  local key=$1 times
  shift
  local status=0
  times=$({ time "$@" >"$WORK/$key.out" 2>"$WORK/$key.err"; } 2>&1) || status=$?
  if ((status != 0)); then
    cat "$WORK/$key.err" >&2
    die "$key failed (exit $status)"
  fi
  read -r real user sys <<<"$times"
  SECONDS_OF[$key]+="$real "
  CPU_OF[$key]+="$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}') "
}

for round in $(seq "$ROUNDS"); do
  for format in jsonl csv; do
    data="$WORK/data-$format-$round"
    timed "$format" "$BIN/gpd-gateway" import "$WORK/positions.$format" --org "$ORG" --data "$data" \
      --batch-size "$BATCH"
    grep -q "^imported $POSITIONS of $POSITIONS positions" "$WORK/$format.err" ||
      { cat "$WORK/$format.err" >&2; die "$format: not every position was imported"; }
    log "round $round, $format: $(head -1 "$WORK/$format.err")"
    STORE_MB=$(du -cm "$data" | awk 'END {print $1}')
    rm -rf "$data"
  done
  timed seed "$BIN/examples/seed_positions" --data "$WORK/data-seed-$round" --count "$POSITIONS" --batch "$BATCH"
  log "round $round, store only: $(cat "$WORK/seed.out")"
  rm -rf "$WORK/data-seed-$round"
done

range() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f–%.2f", lo, hi}'; }
rate() { awk -v n="$POSITIONS" -v s="$1" 'BEGIN {printf "%.0f", n / s}'; }
row() { # label key
  local m
  m=$(median "${SECONDS_OF[$2]}")
  printf '| %s | %.2f | %s | %s | %s | %s |\n' "$1" "$m" "$(range "${SECONDS_OF[$2]}")" "$(rate "$m")" \
    "$(median "${CPU_OF[$2]}")" "${SECONDS_OF[$2]% }"
}
under_30s() { awk -v s="$(median "${SECONDS_OF[$1]}")" 'BEGIN {print (s < 30) ? "met" : "**missed**"}'; }

REPORT=$(
  cat <<EOF
# gpd-gateway bulk-import benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')

\`bench/import.sh\` at commit $COMMIT. Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1).
Input: $SHAPE (examples/gen_positions, seed 1); JSON lines $(size_mb "$WORK/positions.jsonl") MB, CSV
$(size_mb "$WORK/positions.csv") MB. \`--batch-size $BATCH\`, SQLite WAL with synchronous FULL, a fresh data directory for each
run (store after an import: $STORE_MB MB). $ROUNDS rounds, each running (a), (b), (c) in turn.

| run | median s | range s | positions/s (median) | CPU s (median) | every run, s |
|---|---|---|---|---|---|
$(row "(a) import, JSON lines" jsonl)
$(row "(b) import, CSV" csv)
$(row "(c) store only: seed_positions, no parsing or validation" seed)

Target: $POSITIONS positions in under 30 s. JSON lines: $(under_30s jsonl); CSV: $(under_30s csv).
"CPU s" is the process's user + system time: above the wall time, the reader and the store's writer
ran in parallel on the two cores.
EOF
)

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n' "$REPORT"
log "written to $OUT"
