#!/usr/bin/env bash
# The payment-notice render benchmark, in one command: bench/notices.sh
#
# Builds examples/notice_render (release) and runs it: two notices, (a) one single option and
# (b) a single option, three installments and the Poste slips (4 QR codes, 4 Data Matrix, two
# pages), each rendered ROUNDS (300) times on one thread after a first render that also loads
# the fonts. Reports the median, p99 and maximum render time and the PDF's size, as a markdown
# table, also written to bench/results/notices.md, and checks each PDF with `qpdf --check` when
# qpdf is installed.
#
# Knobs (environment): ROUNDS (300), OUT (bench/results/notices.md), KEEP (0; 1 keeps the
# temporary directory with the PDFs), SKIP_BUILD (0), CARGO_TARGET_DIR (./target).
set -euo pipefail

BENCH_NAME=notices
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-300}
OUT=${OUT:-bench/results/notices.md}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
positive ROUNDS

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-notices.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

if [[ $SKIP_BUILD != 1 ]]; then
  log "building (release)"
  cargo build --release --quiet --example notice_render
fi
bench_commit

"$TARGET_DIR/release/examples/notice_render" --rounds "$ROUNDS" --out "$WORK" >"$WORK/out.txt"
if command -v qpdf >/dev/null; then
  for pdf in "$WORK"/*.pdf; do
    qpdf --check "$pdf" >/dev/null || die "qpdf --check failed on $pdf"
  done
fi

field() { sed -n "s/^NOTICE name=$1 .*$2=\([0-9.]*\).*/\1/p" "$WORK/out.txt"; }
pages() { pdfinfo "$1" 2>/dev/null | awk '/^Pages:/ {print $2}'; }
row() { # label name
  printf '| %s | %s | %s | %s | %s | %s | %.1f |\n' "$1" "$(field "$2" first_ms)" "$(field "$2" median_ms)" \
    "$(field "$2" p99_ms)" "$(field "$2" max_ms)" "$(pages "$WORK/$2.pdf")" \
    "$(awk -v b="$(field "$2" bytes)" 'BEGIN {print b / 1024}')"
}
under_50() { awk -v s="$(field "$1" p99_ms)" 'BEGIN {print (s < 50) ? "met" : "**missed**"}'; }

REPORT=$(
  cat <<EOF
# gpd-gateway payment-notice benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')

\`bench/notices.sh\` at commit $COMMIT. Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end.
$ROUNDS renders of each notice on one thread (examples/notice_render), after a first one.

| notice | first ms | median ms | p99 ms | max ms | pages | PDF KiB |
|---|---|---|---|---|---|---|
$(row "(a) single option" single)
$(row "(b) single option, 3 installments, Poste slips" installments3-poste)

Target: one notice in under 50 ms. (a): $(under_50 single) at p99; (b): $(under_50 installments3-poste) at p99.
EOF
)

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n' "$REPORT"
