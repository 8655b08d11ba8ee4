#!/usr/bin/env bash
# The receipts benchmark, in one command: bench/receipts.sh
#
# Builds the release binary and the receipt examples, seeds POSITIONS (100 000) published debt
# positions, starts the gateway and a stub broadcast station (examples/stub_station.rs), then
# measures with examples/receipt_load.rs, each receipt for a different unpaid position:
#
#   (a) paSendRTV2 receipts, durably committed, no broadcast station registered
#   (b) the same after registering the stub as broadcast station of 77777777777 (PUT
#       /organizations/77777777777/broadcast-stations/…), so every receipt is also forwarded
#   (c) the stub station alone, driven by the same load tool
#   (d) the store engine's raw batched-insert rate on the same disk (examples/store_insert_rate.rs)
#
# (a), (b) and (c) each run at saturation (CONCURRENCY connections, as fast as answered, for
# DURATION s or until their share of the positions is used), then at a fixed RATE, ROUNDS times
# taking turns, for latency: there "added latency with one station" = (b) − (a) − (c) is
# meaningful. (a) at a fixed rate is the same station row with "enabled": false. Before (c) it
# waits for the gateway's outbox to drain and checks that the stub received every receipt
# acknowledged with the station enabled, and none sent while it was disabled. Prints a markdown
# table, also written to bench/results/receipts.md.
#
# Knobs (environment): POSITIONS (100000), DURATION (5, seconds per saturating run), WARMUP (1,
# seconds of unmeasured load before (a) and (b)), CONCURRENCY (64), RATE (1000, receipts/s of the
# fixed-rate runs), RATE_DURATION (4), ROUNDS (3), VERSION (2: paSendRTV2; 1: paSendRT), STUB_DELAY_MS (0),
# STATION_ID (77777777777_09), INSERT_SECONDS (3), DRAIN_SECONDS (60), GATEWAY_PORT (18080),
# STUB_PORT (18091), OUT (bench/results/receipts.md), KEEP (0; 1 keeps the temp dir with data and
# logs), CARGO_TARGET_DIR (./target), SKIP_BUILD (0), STORE (sqlite; postgres: a throwaway
# cluster started with .ci/postgres.sh in the temp dir, seeded and served through --store; (d),
# SQLite's raw insert rate, is then left out), INSTANCES (1; 2: a second gateway on GATEWAY2_PORT,
# 18090, on the same database, each gateway run split into two receipt_load at once, one per
# gateway, with half the connections, half the rate and positions of their own: receipts/s
# summed, each latency percentile the worse of the two), SUMMARY (a file to append the figures
# to as key=value lines), JOURNAL (1: the event journal on, as configured by default; 0: off,
# `[journal] enabled = false`), CONNECTIONS (PostgreSQL: the pool's size, `[store] max_connections`;
# unset: the gateway's default). On PostgreSQL the report also gives the WAL written per receipt
# in (a) and (b), and how many of the position and option row updates were HOT.
set -euo pipefail

BENCH_NAME=receipts
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POSITIONS=${POSITIONS:-100000}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONCURRENCY=${CONCURRENCY:-64}
RATE=${RATE:-1000}
RATE_DURATION=${RATE_DURATION:-4}
ROUNDS=${ROUNDS:-3}
VERSION=${VERSION:-2}
STUB_DELAY_MS=${STUB_DELAY_MS:-0}
STATION_ID=${STATION_ID:-77777777777_09}
INSERT_SECONDS=${INSERT_SECONDS:-3}
DRAIN_SECONDS=${DRAIN_SECONDS:-60}
GATEWAY_PORT=${GATEWAY_PORT:-18080}
STUB_PORT=${STUB_PORT:-18091}
OUT=${OUT:-bench/results/receipts.md}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
GATEWAY2_PORT=${GATEWAY2_PORT:-$((GATEWAY_PORT + 10))}
SUMMARY=${SUMMARY:-}
JOURNAL=${JOURNAL:-1}
CONNECTIONS=${CONNECTIONS:-}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
ORG=77777777777

need_tools curl awk sed sort comm timeout
positive POSITIONS DURATION CONCURRENCY RATE RATE_DURATION ROUNDS INSERT_SECONDS DRAIN_SECONDS
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds"
[[ $VERSION == 1 || $VERSION == 2 ]] || die "VERSION must be 1 or 2"
[[ $JOURNAL == 0 || $JOURNAL == 1 ]] || die "JOURNAL must be 0 or 1"
[[ -z $CONNECTIONS || $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive whole number"
store_knobs
((INSTANCES == 1 || CONCURRENCY >= 2)) || die "INSTANCES=2 splits CONCURRENCY: it must be at least 2"

# Every measured receipt is for a fresh position: the fixed-rate runs need RATE * RATE_DURATION
# each, the warm-ups up to 10 000 per second each, the two saturating runs share the rest.
RATE_N=$((RATE * RATE_DURATION))
WARM_N=$((WARMUP * 10000))
RESERVED_N=$((WARM_N + ROUNDS * 2 * RATE_N)) # what must be left after (a)'s saturating run
SAT_N=$(((POSITIONS - WARM_N - RESERVED_N - 1) / 2))
((SAT_N >= 10000)) || die "POSITIONS=$POSITIONS leaves $SAT_N receipts per saturating run: raise POSITIONS"

PORTS=("$GATEWAY_PORT" "$STUB_PORT")
((INSTANCES == 1)) || PORTS+=("$GATEWAY2_PORT")
for port in "${PORTS[@]}"; do
  port_busy "$port" && die "port $port is in use: free it or set GATEWAY_PORT / STUB_PORT / GATEWAY2_PORT"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-receipts.XXXXXX")
DATA=$WORK/data
GW_PID= GW2_PID= STUB_PID=

cleanup() {
  local rc=$?
  stop_pid "$GW_PID"
  stop_pid "$GW2_PID"
  stop_pid "$STUB_PID"
  store_stop
  bench_leave "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What is measured: the commit, and a digest of the sources as built (committed or not).
bench_commit
SRC_DIGEST=$(find src examples Cargo.toml Cargo.lock -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)

# ---------------------------------------------------------------------------------------------
bench_build seed_positions receipt_load stub_station store_insert_rate

store_start "$WORK"
log "seeding $POSITIONS positions into ${STORE_ARGS[1]}"
log "$(timeout 600 "$BIN/examples/seed_positions" "${STORE_ARGS[@]}" "${SEED_ARGS[@]}" --count "$POSITIONS")"
store_seeded
# The API key for the REST calls below (station registration, delivery and receipt checks).
KEY=$("$BIN/gpd-gateway" keys create "${STORE_ARGS[@]}" --org "$ORG" --label bench 2>/dev/null)

log "starting the stub station on $HOST:$STUB_PORT (delay $STUB_DELAY_MS ms)"
"$BIN/examples/stub_station" --listen "$HOST:$STUB_PORT" --delay-ms "$STUB_DELAY_MS" \
  --log "$WORK/station-received.log" >"$WORK/stub.log" 2>&1 &
STUB_PID=$!
wait_http "http://$HOST:$STUB_PORT/" "$STUB_PID" "$WORK/stub.log" 10

log "starting the gateway on $HOST:$GATEWAY_PORT"
# The example configuration, with the stub station's network (loopback) allowed.
# The event journal on or off as JOURNAL says.
journal=$([[ $JOURNAL == 1 ]] && echo true || echo false)
sed -e 's|^allowed_networks = \[\]|allowed_networks = ["127.0.0.0/8"]|' \
  -e "/^\[journal\]/,/^\[/ s|^enabled = true|enabled = $journal|" \
  -e "${CONNECTIONS:+s|^# max_connections = 16 .*|max_connections = $CONNECTIONS|}" config/example.toml >"$WORK/gateway.toml"
[[ -z $CONNECTIONS ]] || grep -q "^max_connections = $CONNECTIONS$" "$WORK/gateway.toml" || die "the configuration's [store] max_connections was not found"
grep -q "^enabled = $journal" "$WORK/gateway.toml" || die "the configuration's [journal] section was not found"
RUST_LOG=warn "$BIN/gpd-gateway" serve --listen "$HOST:$GATEWAY_PORT" "${STORE_ARGS[@]}" \
  --config "$WORK/gateway.toml" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
wait_http "http://$HOST:$GATEWAY_PORT/health" "$GW_PID" "$WORK/gateway.log" 30
if ((INSTANCES == 2)); then
  log "starting the second gateway on $HOST:$GATEWAY2_PORT, on the same database"
  RUST_LOG=warn "$BIN/gpd-gateway" serve --listen "$HOST:$GATEWAY2_PORT" "${STORE_ARGS[@]}" \
    --config "$WORK/gateway.toml" >"$WORK/gateway2.log" 2>&1 &
  GW2_PID=$!
  wait_http "http://$HOST:$GATEWAY2_PORT/health" "$GW2_PID" "$WORK/gateway2.log" 30
fi

# ---------------------------------------------------------------------------------------------
declare -A RPS OKN KON FAILN P50 P90 P99 MAXL CPU ELAPSED BUSY WRITER LATE
RAW=
CLK_TCK=$(getconf CLK_TCK)
writer_ticks() { # pid -> CPU ticks of its threads named store-writer (the store's single writer)
  local t total=0
  for t in /proc/"$1"/task/*; do
    [[ $(cat "$t/comm" 2>/dev/null) == store-writer ]] && total=$((total + $(awk '{print $14 + $15}' "$t/stat")))
  done
  echo "$total"
}
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat; } # busy idle (steal left out)
NEXT=1 # the next unused position

# A gateway run with two instances: receipt_load against each at once, with half the connections,
# half the rate (--rate) and half the positions each; their RESULT lines merged into one, counts
# and rates summed, times and percentiles the worse of the two.
split_load() { # key count extra-args…
  local key=$1 count=$2 i port first pids=() args
  shift 2
  args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    [[ ${args[i]} == --rate ]] && args[i + 1]=$(awk -v r="${args[i + 1]}" 'BEGIN {print r / 2}')
  done
  for i in 1 2; do
    port=$([[ $i == 1 ]] && echo "$GATEWAY_PORT" || echo "$GATEWAY2_PORT")
    first=$([[ $i == 1 ]] && echo "$NEXT" || echo $((NEXT + count / 2)))
    timeout $((DURATION + RATE_DURATION + 120)) "$BIN/examples/receipt_load" --target "http://$HOST:$port/partner" \
      --version "$VERSION" --first "$first" --count $((i == 1 ? count / 2 : count - count / 2)) \
      --concurrency $((CONCURRENCY / 2)) --ok-log "$WORK/acked-$key~$i.log" "${args[@]}" \
      >"$WORK/split-$i.txt" 2>>"$WORK/load.log" &
    pids+=($!)
  done
  wait "${pids[0]}" || true
  wait "${pids[1]}" || true
  cat "$WORK/split-1.txt" "$WORK/split-2.txt"
  sed -n 's/^RESULT //p' "$WORK/split-1.txt" "$WORK/split-2.txt" | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); k[i] = kv[1]
        if (kv[1] ~ /^(run_id|body_bytes)$/) { if (NR == 1) v[i] = kv[2] }
        else if (kv[1] == "ko_codes") { if (NR == 1 || v[i] == "-") v[i] = kv[2]; else if (kv[2] != "-") v[i] = v[i] "," kv[2] }
        else if (kv[1] ~ /_us$|^elapsed_s$/) { if (kv[2] + 0 > v[i] + 0) v[i] = kv[2] }
        else v[i] += kv[2] } n = NF }
    END { if (NR != 2) exit 1; printf "RESULT"; for (i = 1; i <= n; i++) printf " %s=%s", k[i], v[i]; print "" }'
}

load() { # key url pid count extra-args… : runs receipt_load for positions NEXT.. (or FIRST..), records RESULT
  local key=$1 url=$2 pid=$3 count=$4 out before after line split=0
  shift 4
  [[ $INSTANCES == 2 && $url == "$GW_URL" ]] && split=1
  before=$(cpu_ticks "$pid") writer0=$(writer_ticks "$pid")
  ((split)) && before=$((before + $(cpu_ticks "$GW2_PID")))
  read -r busy0 idle0 < <(machine_ticks)
  if ((split)); then
    out=$(split_load "$key" "$count" "$@") || true
  else
    out=$(timeout $((DURATION + RATE_DURATION + 120)) "$BIN/examples/receipt_load" --target "$url" \
      --version "$VERSION" --first "${FIRST:-$NEXT}" --count "$count" --concurrency "$CONCURRENCY" \
      --ok-log "$WORK/acked-$key.log" "$@" 2>>"$WORK/load.log") || true
  fi
  after=$(cpu_ticks "$pid") writer1=$(writer_ticks "$pid")
  ((split)) && after=$((after + $(cpu_ticks "$GW2_PID")))
  read -r busy1 idle1 < <(machine_ticks)
  BUSY[$key]=$(awk -v b=$((busy1 - busy0)) -v i=$((idle1 - idle0)) 'BEGIN {printf "%.0f %%", (b + i > 0) ? 100 * b / (b + i) : 0}')
  echo "$out" >"$WORK/load-$key.txt"
  line=$(sed -n 's/^RESULT //p' <<<"$out" | tail -1)
  [[ -n $line ]] || { echo "$out" >&2; tail -5 "$WORK/load.log" >&2; die "receipt_load printed no RESULT line for $key"; }
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line"; }
  RPS[$key]=$(get ok_rps) OKN[$key]=$(get ok) KON[$key]=$(get ko) FAILN[$key]=$(get failed)
  P50[$key]=$(get p50_us) P90[$key]=$(get p90_us) P99[$key]=$(get p99_us) MAXL[$key]=$(get max_us)
  ELAPSED[$key]=$(get elapsed_s) LATE[$key]=$(get late_starts)
  WRITER[$key]=$(awk -v t=$((writer1 - writer0)) -v hz="$CLK_TCK" -v s="${ELAPSED[$key]}" -v n="$(get receipts)" \
    'BEGIN {if (t > 0 && n > 0) printf "%.0f %% (%.1f µs/receipt)", 100 * t / hz / s, t / hz * 1e6 / n; else printf "—"}')
  CPU[$key]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$(get receipts)" \
    'BEGIN {printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0}')
  RAW+="$key $line"$'\n'
  # Split, each half had its own range of positions: the whole range is taken.
  [[ -n ${FIRST:-} ]] || NEXT=$((NEXT + (split ? count : $(get receipts))))
  log "$(printf '%-10s %8.0f OK/s  p50 %7.2f ms  p99 %7.2f ms  %6s µs CPU/receipt  OK %s KO %s failed %s' \
    "$key" "${RPS[$key]}" "$(ms "${P50[$key]}")" "$(ms "${P99[$key]}")" "${CPU[$key]}" \
    "${OKN[$key]}" "${KON[$key]}" "${FAILN[$key]}")"
  if [[ ${KON[$key]} != 0 || ${FAILN[$key]} != 0 ]]; then
    log "$key: $(sed -n 's/.* ko_codes=\([^ ]*\).*/\1/p' <<<" $line") $(grep '^errors' "$WORK/load-$key.txt" || true)"
  fi
}

deliveries() { # state -> items_found, or "n/a" when the API does not answer
  local body
  body=$(curl -fsS -m 5 -H "Ocp-Apim-Subscription-Key: $KEY" \
    "http://$HOST:$GATEWAY_PORT/organizations/$ORG/deliveries?state=$1&page=0&limit=1" 2>/dev/null) ||
    { echo n/a; return; }
  sed -n 's/.*"items_found"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' <<<"$body"
}

GW_URL=http://$HOST:$GATEWAY_PORT/partner
STUB_URL=http://$HOST:$STUB_PORT/partner

# One receipt end to end before measuring: OK, then readable back.
out=$("$BIN/examples/receipt_load" --target "$GW_URL" --version "$VERSION" --first "$NEXT" --count 1 \
  --concurrency 1 --ok-log "$WORK/acked-probe.log" 2>&1) || { echo "$out" >&2; die "the probe receipt was not answered OK"; }
"$BIN/examples/receipt_load" --target "$GW_URL" --check "$WORK/acked-probe.log" --key "$KEY" >"$WORK/check-probe.txt" 2>&1 ||
  { cat "$WORK/check-probe.txt" >&2; die "the probe receipt, answered OK, is not readable back"; }
NEXT=$((NEXT + 1))
log "probe receipt answered OK and readable back"

put_station() { # enabled: registers (or updates) the stub as broadcast station of $ORG
  local status
  status=$(curl -sS -m 5 -o "$WORK/put-station.txt" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    -H "Ocp-Apim-Subscription-Key: $KEY" \
    -d "{\"url\": \"$STUB_URL\", \"brokerId\": \"$ORG\", \"primitiveVersion\": $VERSION, \"timeoutMs\": 1000, \"enabled\": $1}" \
    "http://$HOST:$GATEWAY_PORT/organizations/$ORG/broadcast-stations/$STATION_ID")
  [[ $status == 200 || $status == 201 ]] || { cat "$WORK/put-station.txt" >&2; die "PUT broadcast station (enabled: $1) answered HTTP $status"; }
}
left() { echo $((POSITIONS - NEXT + 1)); } # positions not used yet

log "(a) no broadcast station: ${WARMUP}s warm-up, then saturation for ${DURATION}s"
if ((WARMUP > 0)); then load warm-a "$GW_URL" "$GW_PID" "$WARM_N" --duration "$WARMUP"; fi
declare -A WAL
wal0=$(store_wal)
load sat-a "$GW_URL" "$GW_PID" $((($(left) - RESERVED_N) / 2)) --duration "$DURATION"
[[ -z $wal0 ]] || WAL[sat-a]=$(($(store_wal) - wal0))

log "registering the stub as broadcast station $STATION_ID of $ORG"
put_station true
log "(b) one broadcast station: ${WARMUP}s warm-up, then saturation for ${DURATION}s"
if ((WARMUP > 0)); then load warm-b "$GW_URL" "$GW_PID" "$WARM_N" --duration "$WARMUP"; fi
wal0=$(store_wal)
load sat-b "$GW_URL" "$GW_PID" $(($(left) - ROUNDS * 2 * RATE_N)) --duration "$DURATION"
[[ -z $wal0 ]] || WAL[sat-b]=$(($(store_wal) - wal0))

# The fixed-rate runs of (a), (b) and (c) take turns, ROUNDS times, so that drifts in the
# machine's speed weigh on all three alike; (a) is the station disabled (the same routing table
# row, "enabled": false), (b) enabled again.
for round in $(seq "$ROUNDS"); do
  log "fixed rate, round $round of $ROUNDS: $RATE receipts/s for ${RATE_DURATION}s each to (a), (b), (c)"
  put_station false
  load "rate-a-$round" "$GW_URL" "$GW_PID" "$RATE_N" --rate "$RATE" --duration "$RATE_DURATION"
  put_station true
  load "rate-b-$round" "$GW_URL" "$GW_PID" "$RATE_N" --rate "$RATE" --duration "$RATE_DURATION"
  FIRST=1 load "rate-c-$round" "$STUB_URL" "$STUB_PID" "$RATE_N" --rate "$RATE" --duration "$RATE_DURATION"
done

log "waiting up to ${DRAIN_SECONDS}s for every receipt acknowledged with the station enabled to reach the stub"
{ cat "$WORK"/acked-warm-b*.log "$WORK"/acked-sat-b*.log "$WORK"/acked-rate-b-*.log 2>/dev/null || true; } |
  cut -d' ' -f2 | sort -u >"$WORK/acked-b.ids"
ACKED_B=$(wc -l <"$WORK/acked-b.ids")
deadline=$((SECONDS + DRAIN_SECONDS))
while :; do
  sort -u "$WORK/station-received.log" >"$WORK/station.ids"
  UNDELIVERED=$(comm -23 "$WORK/acked-b.ids" "$WORK/station.ids" | wc -l)
  ((UNDELIVERED == 0 || SECONDS >= deadline)) && break
  sleep 0.5
done
DRAIN_S=$((SECONDS - deadline + DRAIN_SECONDS))
PENDING=$(deliveries PENDING) DELIVERED=$(deliveries DELIVERED)
NOT_DELIVERED_STATES=
for state in REJECTED UNDELIVERABLE FAILED; do NOT_DELIVERED_STATES+="$state $(deliveries $state), "; done
STATION_LINES=$(wc -l <"$WORK/station-received.log")
log "stub received $((ACKED_B - UNDELIVERED)) of $ACKED_B acknowledged receipts ($STATION_LINES requests, in ${DRAIN_S}s); deliveries: PENDING $PENDING, DELIVERED $DELIVERED, ${NOT_DELIVERED_STATES%, }"
# With the station disabled, (a)'s receipts must not have been forwarded.
FORWARDED_A=$(cat "$WORK"/acked-rate-a-*.log | cut -d' ' -f2 | sort -u | comm -12 - "$WORK/station.ids" | wc -l)
((FORWARDED_A == 0)) || die "$FORWARDED_A receipts sent while the station was disabled reached it: (a) is not (a)"

log "(c) the stub station alone: saturation for ${DURATION}s"
FIRST=1 load sat-c "$STUB_URL" "$STUB_PID" 50000 --duration "$DURATION"

# Each fixed-rate figure is the median of its rounds; the receipt counts are summed.
declare -A RANGE50 RANGE99
for x in a b c; do
  for name in RPS P50 P90 P99 MAXL OKN KON FAILN LATE; do
    declare -n metric=$name
    values=()
    for round in $(seq "$ROUNDS"); do values+=("${metric[rate-$x-$round]}"); done
    case $name in
      OKN | KON | FAILN | LATE) metric[rate-$x]=$(printf '%s\n' "${values[@]}" | awk '{t += $1} END {print t}') ;;
      *) metric[rate-$x]=$(median "${values[@]}") ;;
    esac
    case $name in
      P50 | P99)
        range=$(printf '%s\n' "${values[@]}" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f–%.2f", lo / 1000, hi / 1000}')
        [[ $name == P50 ]] && RANGE50[rate-$x]=$range || RANGE99[rate-$x]=$range
        ;;
    esac
    unset -n metric
  done
done

RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW_PID/status")
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$GW_PID/status")
kill -0 "$GW_PID" 2>/dev/null || die "the gateway died during the runs"
stop_pid "$GW_PID"
GW_PID=
if ((INSTANCES == 2)); then
  kill -0 "$GW2_PID" 2>/dev/null || die "the second gateway died during the runs"
  stop_pid "$GW2_PID"
  GW2_PID=
fi
DB_BYTES=$(store_bytes)
HOT_UPDATES=$(store_hot_updates)

declare -A INS INS_MS INS_SP
if [[ $STORE == sqlite ]]; then
  log "(d) raw batched inserts on the same disk, ${INSERT_SECONDS}s per batch size"
  INSERT_OUT=$("$BIN/examples/store_insert_rate" --dir "$WORK/insert" --seconds "$INSERT_SECONDS" --batches 1,50,200 --savepoints)
else
  INSERT_OUT=
fi
echo "$INSERT_OUT" >"$WORK/insert.txt"

while read -r _ kv; do
  b=$(sed -n 's/.*batch=\([0-9]*\).*/\1/p' <<<"$kv")
  sp=$(sed -n 's/.*savepoints=\([01]\).*/\1/p' <<<"$kv")
  r=$(sed -n 's/.*rows_per_s=\([0-9.]*\).*/\1/p' <<<"$kv")
  if [[ $sp == 1 ]]; then
    INS_SP[$b]=$r
  else
    INS[$b]=$r INS_MS[$b]=$(sed -n 's/.*commit_ms=\([0-9.]*\).*/\1/p' <<<"$kv")
  fi
  log "insert batch $b$([[ $sp == 1 ]] && echo ' + savepoints'): $r rows/s"
done < <(grep '^INSERT ' <<<"$INSERT_OUT")

# ---------------------------------------------------------------------------------------------
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f %%", 100 * a / b}'; }
added() { # percentile-array-name -> (b) − (a) − (c) at the fixed rate, in ms
  local -n p=$1
  awk -v b="${p[rate-b]}" -v a="${p[rate-a]}" -v c="${p[rate-c]}" 'BEGIN {printf "%.2f", (b - a - c) / 1000}'
}
with_minus_without() { # percentile-array-name -> (b) − (a) at the fixed rate, in ms
  local -n p=$1
  awk -v b="${p[rate-b]}" -v a="${p[rate-a]}" 'BEGIN {printf "%.2f", (b - a) / 1000}'
}
station_plus_2() { # percentile-array-name -> (c) + 2 ms
  local -n p=$1
  awk -v c="${p[rate-c]}" 'BEGIN {printf "%.2f", c / 1000 + 2}'
}

row() { # label key
  printf '| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n' "$1" "${RPS[$2]}" "${ELAPSED[$2]}" \
    "$(ms "${P50[$2]}")" "$(ms "${P90[$2]}")" "$(ms "${P99[$2]}")" "$(ms "${MAXL[$2]}")" "${CPU[$2]}" \
    "${WRITER[$2]}" "${BUSY[$2]}" "${OKN[$2]}" "${KON[$2]}" "${FAILN[$2]}"
}
rate_row() { # label key
  printf '| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n' "$1" "${RPS[$2]}" "$(ms "${P50[$2]}")" \
    "$(ms "${P90[$2]}")" "$(ms "${P99[$2]}")" "$(ms "${MAXL[$2]}")" "${RANGE50[$2]}" "${RANGE99[$2]}" \
    "${LATE[$2]}" "${OKN[$2]}" "${KON[$2]}" "${FAILN[$2]}"
}
insert_row() { # batch
  printf '| %s | %.0f | %s | %.0f | %s | %s |\n' "$1" "${INS[$1]}" "${INS_MS[$1]}" "${INS_SP[$1]:-0}" \
    "$(pct "${RPS[sat-a]}" "${INS[$1]}")" "$(pct "${RPS[sat-b]}" "${INS[$1]}")"
}

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
BODY_BYTES=$(sed -n 's/.* body_bytes=\([0-9]*\).*/\1/p' <<<"$RAW" | head -1)
PRIMITIVE=$([[ $VERSION == 2 ]] && echo paSendRTV2 || echo paSendRT)
DELIVERY_OK=$([[ $UNDELIVERED == 0 ]] && echo met || echo "**missed**")
# What differs with the store. The x keeps the section's trailing blank line through $(…).
if [[ $STORE == sqlite ]]; then
  COMMITTED="SQLite WAL, synchronous FULL"
  INSERT_SECTION=$(
    cat <<EOF
## Store ceiling (d): \`examples/store_insert_rate\`, receipt-shaped rows with ~3 KB documents, same disk

| rows per transaction | rows/s | ms per transaction | rows/s with a savepoint per row | (a) receipts/s as share | (b) receipts/s as share |
|---|---|---|---|---|---|
$(insert_row 1)
$(insert_row 50)
$(insert_row 200)

x
EOF
  )
  INSERT_RATIOS="(a) reaches $(pct "${RPS[sat-a]}" "${INS[200]}") of the raw insert rate at 200 rows per transaction
and $(pct "${RPS[sat-a]}" "${INS[50]}") at 50; "
else
  COMMITTED="PostgreSQL, synchronous_commit on"
  INSERT_SECTION=x INSERT_RATIOS=
  per_receipt() { awk -v b="${WAL[$1]}" -v n="${OKN[$1]}" 'BEGIN {printf "%.0f B", (n > 0) ? b / n : 0}'; }
  STORE_FIGURES="
PostgreSQL: WAL written per receipt OK, (a) $(per_receipt sat-a), (b) $(per_receipt sat-b) (the
insert position's difference over the run); row updates that were HOT, over all the runs:
$HOT_UPDATES. Pool: $([[ -n $CONNECTIONS ]] && echo "$CONNECTIONS connections" || echo "the default size")."
fi

REPORT=$(
  cat <<EOF
# gpd-gateway receipts benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')

\`bench/receipts.sh\` at commit $COMMIT (source digest $SRC_DIGEST). Machine: $(nproc) CPUs,
$CPU_MODEL; the load tool, the gateway and the stub station share them. Load:
\`examples/receipt_load\` with $CONCURRENCY keep-alive connections, $PRIMITIVE bodies of $BODY_BYTES B, each
receipt for a different unpaid position among the $POSITIONS seeded (store: $(mb $((DB_BYTES / 1024))) MB on disk after
the runs). The gateway answers OK once the receipt is committed ($COMMITTED).
Stub station: \`examples/stub_station\`, delay $STUB_DELAY_MS ms, registered as broadcast station
$STATION_ID of $ORG for (b). Event journal: $([[ $JOURNAL == 1 ]] && echo on || echo off).$(store_line)

## Throughput at saturation (up to ${DURATION} s each, or until its share of the positions is used)

| run | receipts OK/s | seconds | p50 ms | p90 ms | p99 ms | max ms | server CPU µs/receipt | store writer thread busy | machine CPU busy | OK / KO / no answer |
|---|---|---|---|---|---|---|---|---|---|---|
$(row "(a) gateway, no broadcast station" sat-a)
$(row "(b) gateway + one stub station" sat-b)
$(row "(c) stub station alone" sat-c)

## Latency at a fixed rate ($RATE receipts/s, $ROUNDS rounds of ${RATE_DURATION} s each, taking turns)

Latency is measured from each receipt's send to its answer. A "late start" is a receipt that no
connection was free to send until more than 2 ms after the schedule meant it to go (all
$CONCURRENCY were waiting on the server): with none, the rate was kept and nothing is hidden. Each figure is the median of the $ROUNDS
rounds; the ranges show the lowest and highest round; counts are summed. (a) here is the same
routing-table row with \`"enabled": false\`.

| run | receipts OK/s | p50 ms | p90 ms | p99 ms | max ms | p50 range | p99 range | late starts | OK / KO / no answer |
|---|---|---|---|---|---|---|---|---|---|
$(rate_row "(a) gateway, no broadcast station" rate-a)
$(rate_row "(b) gateway + one stub station" rate-b)
$(rate_row "(c) stub station alone" rate-c)

Added by the station route beyond the station's own time, (b) − (a) − (c): p50 $(added P50) ms,
p90 $(added P90) ms, p99 $(added P99) ms (a difference of percentiles: an estimate, not a percentile).

${INSERT_SECTION%x}## Against the targets

| target | measured | |
|---|---|---|
| ≥ 10,000 durable receipts/s without broadcast | $(printf '%.0f' "${RPS[sat-a]}") /s | $(verdict "${RPS[sat-a]}" 10000 ge) |
| p99 < 50 ms without broadcast, at saturation | $(ms "${P99[sat-a]}") ms | $(verdict "$(ms "${P99[sat-a]}")" 50 lt) |
| one station: p50 with − without ≤ station's own p50 + 2 ms | $(with_minus_without P50) ms ≤ $(station_plus_2 P50) ms | $(verdict "$(with_minus_without P50)" "$(station_plus_2 P50)" le) |
| one station: p99 with − without ≤ station's own p99 + 2 ms | $(with_minus_without P99) ms ≤ $(station_plus_2 P99) ms | $(verdict "$(with_minus_without P99)" "$(station_plus_2 P99)" le) |
| every receipt acknowledged with the station registered reaches it | $((ACKED_B - UNDELIVERED)) of $ACKED_B (in ${DRAIN_S} s) | $DELIVERY_OK |

Ratios: ${INSERT_RATIOS}with one station (b) keeps $(pct "${RPS[sat-b]}" "${RPS[sat-a]}") of (a)'s throughput.
Deliveries after the drain: PENDING $PENDING, DELIVERED $DELIVERED, ${NOT_DELIVERED_STATES%, }; the stub
answered $STATION_LINES requests.${STORE_FIGURES:-} Gateway memory$([[ $INSTANCES == 1 ]] || echo ' (the first instance)') after the runs: VmRSS $(mb "$RSS_KB") MB, peak $(mb "$HWM_KB") MB.

"server CPU µs/receipt" is the measured process's user + system time during the run (gateway for
(a) and (b), stub for (c)) divided by the receipts sent, in 10 ms clock ticks; "machine CPU busy"
is the share of all $(nproc) CPUs not idle during the run (100 %: the run was CPU-bound); "store
writer thread busy" is the CPU time of the gateway's \`store-writer\` thread over the run's
duration (100 %: one core spent on writing alone), and per receipt.

<details><summary>raw figures (latencies in µs)</summary>

\`\`\`
$(printf '%s' "$RAW")
$(grep '^INSERT ' <<<"$INSERT_OUT" || true)
\`\`\`
</details>
EOF
)

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n' "$REPORT"
log "written to $OUT"
if [[ -n $SUMMARY ]]; then
  for key in sat-a sat-b sat-c rate-a rate-b rate-c; do
    printf '%s_rps=%s\n%s_p50_us=%s\n%s_p99_us=%s\n%s_ok=%s\n%s_ko=%s\n%s_failed=%s\n%s_cpu_us=%s\n' \
      "$key" "${RPS[$key]}" "$key" "${P50[$key]}" "$key" "${P99[$key]}" "$key" "${OKN[$key]}" \
      "$key" "${KON[$key]}" "$key" "${FAILN[$key]}" "$key" "${CPU[$key]:-}"
  done >>"$SUMMARY"
  [[ $STORE == sqlite ]] || printf 'sat-a_wal_bytes=%s\nsat-b_wal_bytes=%s\nhot_updates=%s\n' \
    "${WAL[sat-a]}" "${WAL[sat-b]}" "$HOT_UPDATES" >>"$SUMMARY"
  printf 'commit=%s\nsource_digest=%s\npositions=%s\nstore_bytes=%s\nundelivered=%s\njournal=%s\n' "$COMMIT" \
    "$SRC_DIGEST" "$POSITIONS" "$DB_BYTES" "$UNDELIVERED" "$JOURNAL" >>"$SUMMARY"
fi
[[ $UNDELIVERED == 0 ]] || die "$UNDELIVERED acknowledged receipts never reached the station (list: comm -23 $WORK/acked-b.ids $WORK/station.ids)"
