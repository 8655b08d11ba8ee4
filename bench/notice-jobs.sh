#!/usr/bin/env bash
# The batch of payment notices, in one command: bench/notice-jobs.sh
#
# Builds the release binary and the example gen_positions, imports NOTICES (1000) published
# positions of creditor 77777777777 once (examples/gen_positions: a third with one option, a
# third two installments, a third a single payment plus two installments; some with a postal
# account), then, ROUNDS (3) times, on a fresh copy of that data directory:
#
#   gpd-gateway notices batch --org 77777777777 --iupds-file FILE -o notices.zip
#
# which makes the job in the store, makes its notices in its own process (the worker's rounds,
# [notice_jobs] concurrency: the CPUs) and writes the zip. Each run must make every notice; the
# zip must pass `unzip -t` and hold NOTICES PDFs. Reports wall-clock seconds (median, range),
# notices/s, the CPU time of the process, the zip's size and the PDFs' sizes, as a markdown
# table, also written to OUT.
#
# Knobs (environment): NOTICES (1000), ROUNDS (3), OUT (bench/results/notice-jobs.md), KEEP (0;
# 1 keeps the temporary directory), SKIP_BUILD (0), CARGO_TARGET_DIR (./target).
set -euo pipefail

BENCH_NAME=notice-jobs
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NOTICES=${NOTICES:-1000}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-bench/results/notice-jobs.md}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
ORG=77777777777

need_tools unzip awk sed sort cp
positive NOTICES ROUNDS

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-notice-jobs.XXXXXX")
cleanup() {
  local rc=$?
  bench_leave "$rc"
}
trap cleanup EXIT

if [[ $SKIP_BUILD != 1 ]]; then
  log "building (release)"
  cargo build --release --quiet --bin gpd-gateway --example gen_positions
fi
bench_commit

"$BIN/examples/gen_positions" --count "$NOTICES" --format jsonl --out "$WORK/positions.jsonl" \
  2>"$WORK/gen.txt"
log "generated $(cat "$WORK/gen.txt")"
SHAPE=$(sed -n 's/^positions=\([0-9]*\) options=\([0-9]*\) transfers=\([0-9]*\).*/\1 positions, \2 payment options, \3 transfers/p' "$WORK/gen.txt")
"$BIN/gpd-gateway" import "$WORK/positions.jsonl" --org "$ORG" --publish --data "$WORK/seed" \
  >/dev/null 2>"$WORK/import.txt" || { cat "$WORK/import.txt" >&2; die "import failed"; }
log "$(head -1 "$WORK/import.txt")"
seq 1 "$NOTICES" | sed 's/^/IMPORT-/' >"$WORK/iupds.txt"

TIMES=() CPUS=()
TIMEFORMAT='%R %U %S'
for round in $(seq "$ROUNDS"); do
  rm -rf "$WORK/data" "$WORK/notices.zip" "$WORK/unzipped"
  cp -a "$WORK/seed" "$WORK/data"
  status=0
  times=$({ time "$BIN/gpd-gateway" notices batch --org "$ORG" --iupds-file "$WORK/iupds.txt" \
    -o "$WORK/notices.zip" --data "$WORK/data" >"$WORK/batch.out" 2>"$WORK/batch.err"; } 2>&1) ||
    status=$?
  ((status == 0)) || { cat "$WORK/batch.err" "$WORK/batch.out" >&2; die "the batch failed (exit $status)"; }
  grep -q "$NOTICES notices, $NOTICES made" "$WORK/batch.out" ||
    { cat "$WORK/batch.out" >&2; die "not every notice was made"; }
  unzip -tq "$WORK/notices.zip" >"$WORK/unzip.txt" || { cat "$WORK/unzip.txt" >&2; die "unzip -t failed"; }
  pdfs=$(unzip -Z1 "$WORK/notices.zip" | grep -c '\.pdf$')
  ((pdfs == NOTICES)) || die "$pdfs PDFs in the zip, not $NOTICES"
  read -r real user sys <<<"$times"
  TIMES+=("$real")
  CPUS+=("$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')")
  log "round $round: $real s, $(cat "$WORK/batch.out")"
done

ZIP_BYTES=$(stat -c %s "$WORK/notices.zip")
mkdir "$WORK/unzipped"
unzip -q "$WORK/notices.zip" -d "$WORK/unzipped"
PDF_SIZES=$(find "$WORK/unzipped" -name '*.pdf' -printf '%s\n' | sort -n |
  awk '{v[NR] = $1; t += $1} END {printf "%.0f KB mean, %.0f KB smallest, %.0f KB largest, %.1f MB in all", t / NR / 1024, v[1] / 1024, v[NR] / 1024, t / 1048576}')
range() { tr ' ' '\n' <<<"$*" | grep . | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f–%.2f", lo, hi}'; }
M=$(median "${TIMES[*]}")
RATE=$(awk -v n="$NOTICES" -v s="$M" 'BEGIN {printf "%.0f", n / s}')
MET=$(awk -v s="$M" 'BEGIN {print (s < 60) ? "met" : "**missed**"}')

REPORT=$(
  cat <<EOF
# gpd-gateway batch of payment notices: $(date -u '+%Y-%m-%d %H:%M UTC')

\`bench/notice-jobs.sh\` at commit $COMMIT. Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1).
Input: $SHAPE (examples/gen_positions, seed 1), imported published. One job of $NOTICES notices
by IUPD, made by \`gpd-gateway notices batch\` in its own process, zip written; SQLite store, a
fresh copy of the data for each of $ROUNDS rounds.

| notices | median s | range s | notices/s (median) | CPU s (median) | zip | PDFs |
|---|---|---|---|---|---|---|
| $NOTICES | $M | $(range "${TIMES[*]}") | $RATE | $(median "${CPUS[*]}") | $(awk -v b="$ZIP_BYTES" 'BEGIN {printf "%.1f MB", b / 1048576}') | $PDF_SIZES |

Target: 1,000 notices in under 60 s: $MET.
EOF
)

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n' "$REPORT"
