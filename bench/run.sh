#!/usr/bin/env bash
# The gateway's throughput benchmark, in one command: bench/run.sh
#
# Builds the release binary and the two examples, seeds POSITIONS (100 000) published debt
# positions into a fresh data directory, starts the gateway and two bare hyper servers (one per
# response size, each answering a real gateway response captured with curl), checks that the
# gateway answers OK to the benchmark's requests, then runs wrk against each pair in turn:
#
#   paVerifyPaymentNotice   gateway, then bare server answering the captured verify response
#   paGetPaymentV2          gateway, then bare server answering the captured getPaymentV2 response
#   verify, unknown notice  gateway only (EXTRA=1): a store miss, no rows loaded; for profiling
#
# Every request names a notice picked at random among the seeded ones (bench/soap.lua). At the
# end it samples the gateway's VmRSS / VmHWM and prints a markdown table, also written to
# bench/results/latest.md (with the captured responses next to it).
#
# Knobs (environment): DURATION (10, seconds per measured run), WARMUP (2, seconds of unmeasured
# load before each run), THREADS (2) and CONNECTIONS (64) for wrk, POSITIONS (100000),
# GATEWAY_PORT (18080), BARE_PORT (18081; the second bare server uses BARE_PORT+1), EXTRA (1),
# OUT (bench/results/latest.md), KEEP (0; 1 keeps the temp dir with data and logs),
# CARGO_TARGET_DIR (./target), SKIP_BUILD (0), STORE (sqlite; postgres: a throwaway cluster
# started with .ci/postgres.sh in the temp dir, seeded and served through --store), INSTANCES
# (1; 2: a second gateway on GATEWAY2_PORT, 18090, on the same database, each gateway run getting
# two wrk at once, each with half the threads and connections: req/s summed, each percentile the
# worse of the two), SUMMARY (a file to append the figures to as key=value lines, the seeding's
# seconds and the gateway's memory included), SEED_TIMEOUT (600, seconds each step of the seeding
# may take), SEED (store: seed_positions through the store; copy, with STORE=postgres:
# seed_positions into SQLite, then `gpd-gateway store copy` into the database), CONFIG (a
# configuration file for the gateway, e.g. one with `[journal] enabled = false`; default: the
# built-in example). After the runs it reads the event journal's lost entries from /metrics.
set -euo pipefail

BENCH_NAME=bench
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
POSITIONS=${POSITIONS:-100000}
GATEWAY_PORT=${GATEWAY_PORT:-18080}
BARE_PORT=${BARE_PORT:-18081}
BARE2_PORT=$((BARE_PORT + 1))
EXTRA=${EXTRA:-1}
OUT=${OUT:-bench/results/latest.md}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
GATEWAY2_PORT=${GATEWAY2_PORT:-$((GATEWAY_PORT + 10))}
SUMMARY=${SUMMARY:-}
SEED_TIMEOUT=${SEED_TIMEOUT:-600}
SEED=${SEED:-store}
CONFIG=${CONFIG:-}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release

need_tools wrk curl awk sed timeout
positive POSITIONS SEED_TIMEOUT
[[ $SEED == store || $SEED == copy ]] || die "SEED must be store or copy"
CONFIG_ARGS=()
if [[ -n $CONFIG ]]; then
  [[ -f $CONFIG ]] || die "CONFIG: no file $CONFIG"
  CONFIG_ARGS=(--config "$CONFIG")
fi
store_knobs
((INSTANCES == 1 || (THREADS >= 2 && CONNECTIONS >= 2))) || die "INSTANCES=2 splits THREADS and CONNECTIONS: both must be at least 2"

PORTS=("$GATEWAY_PORT" "$BARE_PORT" "$BARE2_PORT")
((INSTANCES == 1)) || PORTS+=("$GATEWAY2_PORT")
for port in "${PORTS[@]}"; do
  port_busy "$port" && die "port $port is in use: free it or set GATEWAY_PORT / BARE_PORT / GATEWAY2_PORT"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-bench.XXXXXX")
DATA=$WORK/data
GW_PID= GW2_PID= BARE_PID= BARE2_PID=

cleanup() {
  local rc=$?
  stop_pid "$GW_PID"
  stop_pid "$GW2_PID"
  store_stop
  stop_pid "$BARE_PID"
  stop_pid "$BARE2_PID"
  bench_leave "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The SOAP templates hold {{NOTICE}}; notice numbers are 3 + IUV (segregation code 01).
notice() { # base -> notice number, as bench/soap.lua and Iuv::from_parts compute it
  printf '3%02d%013d%02d' 1 "$1" $(((3 * 10 ** 15 + 1 * 10 ** 13 + $1) % 93))
}
render() { sed "s/{{NOTICE}}/$2/" "$1"; }

soap_post() { # template action base outfile -> prints the HTTP status
  render "$1" "$(notice "$3")" |
    curl -sS -m 5 -o "$4" -w '%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' \
      -H "SOAPAction: $2" --data-binary @- "http://$HOST:$GATEWAY_PORT/partner"
}

VERIFY_REQ=bench/requests/verify.xml
GPV2_REQ=bench/requests/getpaymentv2.xml

# What is measured: the commit, and a digest of the sources as built (committed or not).
bench_commit
# Identifies the exact source measured, committed or not.
SRC_DIGEST=$(find src Cargo.toml Cargo.lock -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)

# ---------------------------------------------------------------------------------------------
bench_build bare_server seed_positions

store_start "$WORK"
log "seeding $POSITIONS positions into ${STORE_ARGS[1]}"
SEED_START=$EPOCHREALTIME
if [[ $STORE == postgres && $SEED == copy ]]; then
  # Into a SQLite data directory first, then the rows copied over whole with COPY: several
  # times faster than the PostgreSQL store's inserts, a round trip per statement.
  SEED_OUT=$(timeout "$SEED_TIMEOUT" "$BIN/examples/seed_positions" --data "$WORK/seed" --count "$POSITIONS")
  log "$SEED_OUT"
  timeout "$SEED_TIMEOUT" "$BIN/gpd-gateway" store copy --from "$WORK/seed" --to "$PG_URL" 2>&1 |
    tail -1 | sed "s/^/[$BENCH_NAME $(date +%T)] store copy: /" >&2
  rm -rf "$WORK/seed"
else
  SEED_OUT=$(timeout "$SEED_TIMEOUT" "$BIN/examples/seed_positions" "${STORE_ARGS[@]}" "${SEED_ARGS[@]}" --count "$POSITIONS")
  log "$SEED_OUT"
fi
store_seeded
# The seeding as a whole, the statistics taken after it included.
SEED_SECONDS=$(awk -v a="$SEED_START" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')
DB_BYTES=$(store_bytes)

log "starting the gateway on $HOST:$GATEWAY_PORT"
RUST_LOG=warn "$BIN/gpd-gateway" serve --listen "$HOST:$GATEWAY_PORT" "${CONFIG_ARGS[@]}" "${STORE_ARGS[@]}" \
  >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
wait_http "http://$HOST:$GATEWAY_PORT/health" "$GW_PID" "$WORK/gateway.log" 30
if ((INSTANCES == 2)); then
  log "starting the second gateway on $HOST:$GATEWAY2_PORT, on the same database"
  RUST_LOG=warn "$BIN/gpd-gateway" serve --listen "$HOST:$GATEWAY2_PORT" "${CONFIG_ARGS[@]}" "${STORE_ARGS[@]}" \
    >"$WORK/gateway2.log" 2>&1 &
  GW2_PID=$!
  wait_http "http://$HOST:$GATEWAY2_PORT/health" "$GW2_PID" "$WORK/gateway2.log" 30
fi
RSS_START_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW_PID/status")

log "capturing one verify and one getPaymentV2 response (notice $(notice 1))"
status=$(soap_post "$VERIFY_REQ" paVerifyPaymentNotice 1 "$WORK/verify-response.xml")
[[ $status == 200 ]] && grep -q '<outcome>OK</outcome>' "$WORK/verify-response.xml" ||
  { cat "$WORK/verify-response.xml" >&2; die "verify of $(notice 1) answered HTTP $status, not OK"; }
status=$(soap_post "$GPV2_REQ" paGetPaymentV2 1 "$WORK/getpaymentv2-response.xml")
[[ $status == 200 ]] && grep -q '<outcome>OK</outcome>' "$WORK/getpaymentv2-response.xml" ||
  { cat "$WORK/getpaymentv2-response.xml" >&2; die "getPaymentV2 of $(notice 1) answered HTTP $status, not OK"; }
VERIFY_BYTES=$(wc -c <"$WORK/verify-response.xml")
GPV2_BYTES=$(wc -c <"$WORK/getpaymentv2-response.xml")
mkdir -p "$(dirname "$OUT")"
cp "$WORK/verify-response.xml" "$(dirname "$OUT")/latest-verify-response.xml"
cp "$WORK/getpaymentv2-response.xml" "$(dirname "$OUT")/latest-getpaymentv2-response.xml"

log "starting bare servers: $HOST:$BARE_PORT ($VERIFY_BYTES B body), $HOST:$BARE2_PORT ($GPV2_BYTES B body)"
"$BIN/examples/bare_server" --listen "$HOST:$BARE_PORT" --body "$WORK/verify-response.xml" \
  >"$WORK/bare.log" 2>&1 &
BARE_PID=$!
"$BIN/examples/bare_server" --listen "$HOST:$BARE2_PORT" --body "$WORK/getpaymentv2-response.xml" \
  >"$WORK/bare2.log" 2>&1 &
BARE2_PID=$!
# The bare servers answer any path; GET / is as good as a health check.
wait_http "http://$HOST:$BARE_PORT/" "$BARE_PID" "$WORK/bare.log" 10
wait_http "http://$HOST:$BARE2_PORT/" "$BARE2_PID" "$WORK/bare2.log" 10

# Before measuring: the wrk script's own notice numbers must be answered OK (not KO), by every
# gateway.
GW_PORTS=("$GATEWAY_PORT")
((INSTANCES == 1)) || GW_PORTS+=("$GATEWAY2_PORT")
for port in "${GW_PORTS[@]}"; do
  for spec in "$VERIFY_REQ paVerifyPaymentNotice" "$GPV2_REQ paGetPaymentV2"; do
    read -r template action <<<"$spec"
    out=$(timeout 30 wrk -t1 -c2 -d1s -s bench/soap.lua "http://$HOST:$port/partner" \
      -- "$template" "$action" 1 "$POSITIONS" check)
    line=$(sed -n 's/^CHECK //p' <<<"$out")
    ok=$(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$line")
    bad=$(sed -n 's/.* ko=\([0-9]*\) other=\([0-9]*\).*/\1 \2/p' <<<"$line")
    [[ -n $ok && $ok -gt 0 && $bad == "0 0" ]] || { echo "$out" >&2; die "$action check failed: $line"; }
    log "check $action$([[ $port == "$GATEWAY_PORT" ]] || echo " (second gateway)"): $ok random notices answered OK, none KO"
  done
done

# ---------------------------------------------------------------------------------------------
declare -A RPS P50 P99 P90 ERR CPU REQS
CLK_TCK=$(getconf CLK_TCK)

# The gateway runs with two instances: wrk against each at once, half the threads and connections
# each; their BENCH lines merged into one, counts summed, each percentile the worse of the two.
split_wrk() { # seconds latency-flag template action lo hi
  local seconds=$1 latency=$2 template=$3 action=$4 lo=$5 hi=$6 i port pids=()
  for i in 1 2; do
    port=$([[ $i == 1 ]] && echo "$GATEWAY_PORT" || echo "$GATEWAY2_PORT")
    timeout $((seconds + 30)) wrk -t$((THREADS / 2)) -c$((CONNECTIONS / 2)) -d"${seconds}s" $latency \
      -s bench/soap.lua "http://$HOST:$port/partner" -- "$template" "$action" "$lo" "$hi" >"$WORK/split-$i.txt" &
    pids+=($!)
  done
  wait "${pids[0]}" && wait "${pids[1]}" || die "wrk against the two gateways failed"
  cat "$WORK/split-1.txt" "$WORK/split-2.txt"
  sed -n 's/^BENCH //p' "$WORK/split-1.txt" "$WORK/split-2.txt" | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); k[i] = kv[1]
        if (kv[1] ~ /^p[0-9]+_us$|^max_us$|^mean_us$|^duration_us$/) { if (kv[2] > v[i]) v[i] = kv[2] } else v[i] += kv[2] } n = NF }
    END { if (NR != 2) exit 1; printf "BENCH"; for (i = 1; i <= n; i++) printf " %s=%s", k[i], v[i]; print "" }'
}

measure() { # key pid url template action lo hi
  local key=$1 pid=$2 url=$3 template=$4 action=$5 lo=$6 hi=$7 out before after line split=0
  [[ $INSTANCES == 2 && $url == "$GW_URL" ]] && split=1
  if ((WARMUP > 0)); then
    if ((split)); then
      split_wrk "$WARMUP" "" "$template" "$action" "$lo" "$hi" >/dev/null
    else
      timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s bench/soap.lua "$url" \
        -- "$template" "$action" "$lo" "$hi" >/dev/null
    fi
  fi
  before=$(cpu_ticks "$pid")
  ((split)) && before=$((before + $(cpu_ticks "$GW2_PID")))
  if ((split)); then
    out=$(split_wrk "$DURATION" --latency "$template" "$action" "$lo" "$hi")
  else
    out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
      -s bench/soap.lua "$url" -- "$template" "$action" "$lo" "$hi")
  fi
  after=$(cpu_ticks "$pid")
  ((split)) && after=$((after + $(cpu_ticks "$GW2_PID")))
  echo "$out" >"$WORK/wrk-$key.txt"
  line=$(sed -n 's/^BENCH //p' <<<"$out" | tail -1)
  [[ -n $line ]] || { echo "$out" >&2; die "wrk printed no BENCH line for $key"; }
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line"; }
  RPS[$key]=$(get rps) P50[$key]=$(get p50_us) P90[$key]=$(get p90_us) P99[$key]=$(get p99_us)
  REQS[$key]=$(get requests)
  ERR[$key]=$(($(get non2xx) + $(get connect_err) + $(get read_err) + $(get write_err) + $(get timeout_err)))
  CPU[$key]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="${REQS[$key]}" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  RAW+="$key $line"$'\n'
  log "$(printf '%-14s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %5s us CPU/req  errors %s' "$key" "${RPS[$key]}" \
    "$(awk -v u="${P50[$key]}" 'BEGIN {print u / 1000}')" "$(awk -v u="${P99[$key]}" 'BEGIN {print u / 1000}')" \
    "${CPU[$key]}" "${ERR[$key]}")"
}

RAW=
GW_URL=http://$HOST:$GATEWAY_PORT/partner
log "measuring: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (after ${WARMUP}s warm-up each)"
measure gw-verify "$GW_PID" "$GW_URL" "$VERIFY_REQ" paVerifyPaymentNotice 1 "$POSITIONS"
measure bare-verify "$BARE_PID" "http://$HOST:$BARE_PORT/partner" "$VERIFY_REQ" paVerifyPaymentNotice 1 "$POSITIONS"
measure gw-gpv2 "$GW_PID" "$GW_URL" "$GPV2_REQ" paGetPaymentV2 1 "$POSITIONS"
measure bare-gpv2 "$BARE2_PID" "http://$HOST:$BARE2_PORT/partner" "$GPV2_REQ" paGetPaymentV2 1 "$POSITIONS"
if [[ $EXTRA == 1 ]]; then
  # Notices of the same shape that are not in the store: the lookup misses, nothing is loaded.
  measure gw-unknown "$GW_PID" "$GW_URL" "$VERIFY_REQ" paVerifyPaymentNotice $((POSITIONS + 1)) $((2 * POSITIONS))
fi

RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW_PID/status")
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$GW_PID/status")
BARE_HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$BARE_PID/status")
kill -0 "$GW_PID" 2>/dev/null || die "the gateway died during the runs"
# Entries the journal dropped (its queue full: the store slower than the traffic), as the
# gateway counts them; "n/a" when its metrics are off or not served to this host.
JOURNAL_LOST=$(curl -sS -m 5 "http://$HOST:$GATEWAY_PORT/metrics" 2>/dev/null |
  awk '$1 == "gpd_gateway_journal_entries_lost_total" {print $2; found = 1} END {if (!found) print "n/a"}')

# ---------------------------------------------------------------------------------------------
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f %%", 100 * a / b}'; }

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) (family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1), model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1))"
VERIFY_RATIO=$(ratio "${RPS[gw-verify]}" "${RPS[bare-verify]}")
VERIFY_P99_RATIO=$(ratio "${P99[gw-verify]}" "${P99[bare-verify]}")
GPV2_P99_RATIO=$(ratio "${P99[gw-gpv2]}" "${P99[bare-gpv2]}")

row() { # label gw bare
  printf '| %s | %.0f | %.0f | %s | %s / %s | %s / %s | %s | %s / %s | %s |\n' "$1" "${RPS[$2]}" "${RPS[$3]}" \
    "$(pct "${RPS[$2]}" "${RPS[$3]}")" "$(ms "${P50[$2]}")" "$(ms "${P50[$3]}")" \
    "$(ms "${P99[$2]}")" "$(ms "${P99[$3]}")" "$(ratio "${P99[$2]}" "${P99[$3]}")" \
    "${CPU[$2]}" "${CPU[$3]}" "${ERR[$2]} / ${ERR[$3]}"
}

REPORT=$(
  cat <<EOF
# gpd-gateway benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')

\`bench/run.sh\` at commit $COMMIT (source digest $SRC_DIGEST). Machine: $(nproc) CPUs, $CPU_MODEL; wrk and both servers
share them. Load: \`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency\` after a ${WARMUP} s warm-up,
each request for a random notice among the $POSITIONS seeded positions (store: $(mb $((DB_BYTES / 1024))) MB on disk).
The bare server (examples/bare_server.rs) answers the gateway's own captured response:
verify $VERIFY_BYTES B, getPaymentV2 $GPV2_BYTES B.$(store_line)

| primitive | gateway req/s | bare req/s | gateway / bare | p50 ms (gw / bare) | p99 ms (gw / bare) | p99 ratio | server CPU µs/req (gw / bare) | errors (gw / bare) |
|---|---|---|---|---|---|---|---|---|
$(row paVerifyPaymentNotice gw-verify bare-verify)
$(row paGetPaymentV2 gw-gpv2 bare-gpv2)
EOF
  if [[ $EXTRA == 1 ]]; then
    printf '| verify, unknown notice (store miss) | %.0f | — | %s of bare verify | %s / — | %s / — | %s | %s / — | %s |\n' \
      "${RPS[gw-unknown]}" "$(pct "${RPS[gw-unknown]}" "${RPS[bare-verify]}")" "$(ms "${P50[gw-unknown]}")" \
      "$(ms "${P99[gw-unknown]}")" "$(ratio "${P99[gw-unknown]}" "${P99[bare-verify]}")" "${CPU[gw-unknown]}" "${ERR[gw-unknown]}"
  fi
  cat <<EOF

Gateway memory$([[ $INSTANCES == 1 ]] || echo ' (the first instance)') with $POSITIONS positions, after the runs: VmRSS $(mb "$RSS_KB") MB, peak (VmHWM)
$(mb "$HWM_KB") MB; $(mb "$RSS_START_KB") MB right after start. Bare server peak: $(mb "$BARE_HWM_KB") MB.
Event journal entries lost (queue full) during the runs: $JOURNAL_LOST.

| target | measured | |
|---|---|---|
| verify req/s >= 50 % of the bare server's | $(pct "${RPS[gw-verify]}" "${RPS[bare-verify]}") | $(verdict "$VERIFY_RATIO" 0.5 ge) |
| verify p99 <= 2x the bare server's | ${VERIFY_P99_RATIO}x | $(verdict "$VERIFY_P99_RATIO" 2 le) |
| getPaymentV2 p99 <= 2x the bare server's | ${GPV2_P99_RATIO}x | $(verdict "$GPV2_P99_RATIO" 2 le) |
| peak resident memory < 100 MB | $(mb "$HWM_KB") MB | $(verdict "$(mb "$HWM_KB")" 100 lt) |

"server CPU µs/req" is the server process's user + system time during the measured run divided
by the requests served (10 ms clock ticks: about ±1 µs here). Errors are wrk's socket errors plus
non-2xx answers.

<details><summary>raw wrk figures (latencies in µs)</summary>

\`\`\`
$(printf '%s' "$RAW")
\`\`\`
</details>
EOF
)

printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n' "$REPORT"
log "written to $OUT"
if [[ -n $SUMMARY ]]; then
  for key in "${!RPS[@]}"; do
    printf '%s_rps=%s\n%s_p50_us=%s\n%s_p99_us=%s\n%s_errors=%s\n%s_cpu_us=%s\n' "$key" "${RPS[$key]}" \
      "$key" "${P50[$key]}" "$key" "${P99[$key]}" "$key" "${ERR[$key]}" "$key" "${CPU[$key]}"
  done >>"$SUMMARY"
  printf 'commit=%s\nsource_digest=%s\npositions=%s\nstore_bytes=%s\nseed_seconds=%s\n' "$COMMIT" "$SRC_DIGEST" "$POSITIONS" "$DB_BYTES" "$SEED_SECONDS" >>"$SUMMARY"
  printf 'gw_rss_kb=%s\ngw_hwm_kb=%s\ngw_start_rss_kb=%s\nverify_bytes=%s\ngpv2_bytes=%s\n' "$RSS_KB" "$HWM_KB" "$RSS_START_KB" "$VERIFY_BYTES" "$GPV2_BYTES" >>"$SUMMARY"
  printf 'journal_lost=%s\n' "$JOURNAL_LOST" >>"$SUMMARY"
fi
