#!/usr/bin/env bash
# Crash test for receipts: bench/crash-test.sh
#
# Checks the gateway's two promises about receipts when it is killed without warning: a receipt
# answered OK is in the store, and it reaches the creditor's broadcast station at least once.
# Each run, on fresh data:
#
#   1. seeds POSITIONS positions, starts a stub broadcast station (examples/stub_station.rs) and
#      the gateway with a short retry backoff, registers the stub as broadcast station of
#      77777777777 (PUT /organizations/77777777777/broadcast-stations/…);
#   2. sends paSendRTV2 receipts under load with examples/receipt_load.rs (--ok-log records every
#      receipt answered OK as it arrives; --retries resends unanswered ones, as the Node does);
#   3. kills the gateway with SIGKILL after a random 1–3 s, restarts it on the same data
#      directory while the load goes on, and lets the load finish;
#   4. checks that every receipt answered OK is in the store (GET …/receipts/{iuv}: 200 with its
#      receiptId) and that the stub received every one of them, waiting up to DELIVERY_DEADLINE
#      seconds for that and for the outbox to have nothing PENDING; also that no receipt was
#      answered KO, that the stub was always addressed as itself and that the gateway did not
#      panic.
#
# The stub answers every STUB_FAIL_EVERY-th request HTTP 503, so part of the deliveries go
# through the durable outbox and its retry worker, across the crash too.
#
# Exits non-zero naming what was lost. RUNS (1) repeats the whole test; it succeeds only if
# every run does.
#
# Knobs (environment): RUNS (1), POSITIONS (100000), CONCURRENCY (32), LOAD_SECONDS (8, the
# whole load, kill included), KILL_MIN_MS (1000), KILL_MAX_MS (3000), STUB_FAIL_EVERY (10; 0:
# never), BACKOFF_BASE_MS (200), BACKOFF_MAX_MS (2000), POLL_INTERVAL_MS (200), MAX_ATTEMPTS (10),
# DELIVERY_DEADLINE (60), VERSION (2), STATION_ID (77777777777_09), GATEWAY_PORT (18085),
# STUB_PORT (18095), KEEP (0; 1 keeps the temp dir with data and logs), CARGO_TARGET_DIR
# (./target), SKIP_BUILD (0).
set -euo pipefail

BENCH_NAME=crash
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-1}
POSITIONS=${POSITIONS:-100000}
CONCURRENCY=${CONCURRENCY:-32}
LOAD_SECONDS=${LOAD_SECONDS:-8}
KILL_MIN_MS=${KILL_MIN_MS:-1000}
KILL_MAX_MS=${KILL_MAX_MS:-3000}
STUB_FAIL_EVERY=${STUB_FAIL_EVERY:-10}
BACKOFF_BASE_MS=${BACKOFF_BASE_MS:-200}
BACKOFF_MAX_MS=${BACKOFF_MAX_MS:-2000}
POLL_INTERVAL_MS=${POLL_INTERVAL_MS:-200}
MAX_ATTEMPTS=${MAX_ATTEMPTS:-10}
DELIVERY_DEADLINE=${DELIVERY_DEADLINE:-60}
VERSION=${VERSION:-2}
STATION_ID=${STATION_ID:-77777777777_09}
GATEWAY_PORT=${GATEWAY_PORT:-18085}
STUB_PORT=${STUB_PORT:-18095}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
ORG=77777777777

need_tools curl awk sed sort comm timeout
positive RUNS POSITIONS CONCURRENCY LOAD_SECONDS KILL_MIN_MS KILL_MAX_MS BACKOFF_BASE_MS \
  BACKOFF_MAX_MS POLL_INTERVAL_MS MAX_ATTEMPTS DELIVERY_DEADLINE
[[ $STUB_FAIL_EVERY =~ ^[0-9]+$ ]] || die "STUB_FAIL_EVERY must be a whole number"
((KILL_MIN_MS <= KILL_MAX_MS)) || die "KILL_MIN_MS must not exceed KILL_MAX_MS"
((KILL_MAX_MS < LOAD_SECONDS * 1000)) || die "the kill (up to KILL_MAX_MS) must come before the load ends (LOAD_SECONDS)"
[[ $VERSION == 1 || $VERSION == 2 ]] || die "VERSION must be 1 or 2"

for port in "$GATEWAY_PORT" "$STUB_PORT"; do
  port_busy "$port" && die "port $port is in use: free it or set GATEWAY_PORT / STUB_PORT"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-crash.XXXXXX")
FAILED_RUNS=0

cleanup() {
  local rc=$?
  bench_leave "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

deliveries() { # state -> items_found, or "n/a" when the API does not answer
  local body
  body=$(curl -fsS -m 5 -H "Ocp-Apim-Subscription-Key: $KEY" \
    "http://$HOST:$GATEWAY_PORT/organizations/$ORG/deliveries?state=$1&page=0&limit=1" 2>/dev/null) ||
    { echo n/a; return; }
  sed -n 's/.*"items_found"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' <<<"$body"
}

# The example configuration with a [broadcast] section whose retries come quickly.
CONFIG=$WORK/crash.toml
awk '/^\[\[?broadcast[].]/ {skip = 1; next} /^\[/ {skip = 0} !skip' config/example.toml >"$CONFIG"
cat >>"$CONFIG" <<EOF

[broadcast]
allowed_networks = ["127.0.0.0/8"]
max_attempts = $MAX_ATTEMPTS
backoff_base_ms = $BACKOFF_BASE_MS
backoff_max_ms = $BACKOFF_MAX_MS
poll_interval_ms = $POLL_INTERVAL_MS
EOF

# ---------------------------------------------------------------------------------------------
bench_build seed_positions receipt_load stub_station

# One run, in a subshell so that its processes are stopped whatever happens.
one_run() (
  set -e # the caller turns it off to survive a failed run; it must hold inside
  run=$1
  dir=$WORK/run-$run
  mkdir -p "$dir"
  GW_PID= STUB_PID= LOAD_PID=
  stop_all() {
    [[ -n $LOAD_PID ]] && kill -TERM "$LOAD_PID" 2>/dev/null || true
    stop_pid "$GW_PID"
    stop_pid "$STUB_PID"
  }
  trap stop_all EXIT
  fail() { log "run $run FAILED: $*"; exit 1; }
  start_gateway() { # log file
    RUST_LOG=${RUST_LOG:-warn} "$BIN/gpd-gateway" serve --listen "$HOST:$GATEWAY_PORT" --data "$dir/data" \
      --config "$CONFIG" >"$1" 2>&1 &
    GW_PID=$!
    wait_http "http://$HOST:$GATEWAY_PORT/health" "$GW_PID" "$1" 30
  }

  log "run $run: seeding $POSITIONS positions"
  timeout 600 "$BIN/examples/seed_positions" --data "$dir/data" --count "$POSITIONS" >"$dir/seed.txt"
  # The API key for the REST calls (station registration, delivery and receipt checks).
  KEY=$("$BIN/gpd-gateway" keys create --data "$dir/data" --org "$ORG" --label crash-test 2>/dev/null)
  fail_every=()
  ((STUB_FAIL_EVERY > 0)) && fail_every=(--fail-every "$STUB_FAIL_EVERY")
  "$BIN/examples/stub_station" --listen "$HOST:$STUB_PORT" --log "$dir/station-received.log" \
    "${fail_every[@]}" >"$dir/stub.log" 2>&1 &
  STUB_PID=$!
  wait_http "http://$HOST:$STUB_PORT/" "$STUB_PID" "$dir/stub.log" 10
  start_gateway "$dir/gateway-1.log"
  status=$(curl -sS -m 5 -o "$dir/put-station.txt" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    -H "Ocp-Apim-Subscription-Key: $KEY" \
    -d "{\"url\": \"http://$HOST:$STUB_PORT/partner\", \"brokerId\": \"$ORG\", \"primitiveVersion\": $VERSION, \"timeoutMs\": 1000, \"enabled\": true}" \
    "http://$HOST:$GATEWAY_PORT/organizations/$ORG/broadcast-stations/$STATION_ID")
  [[ $status == 200 || $status == 201 ]] || { cat "$dir/put-station.txt" >&2; fail "PUT broadcast station answered HTTP $status"; }

  kill_ms=$((KILL_MIN_MS + RANDOM % (KILL_MAX_MS - KILL_MIN_MS + 1)))
  log "run $run: load for ${LOAD_SECONDS}s ($CONCURRENCY connections), SIGKILL after ${kill_ms} ms"
  "$BIN/examples/receipt_load" --target "http://$HOST:$GATEWAY_PORT/partner" --version "$VERSION" \
    --first 1 --count "$POSITIONS" --concurrency "$CONCURRENCY" --duration "$LOAD_SECONDS" \
    --retries 100 --give-up 30 --ok-log "$dir/acked.log" >"$dir/load.txt" 2>&1 &
  LOAD_PID=$!
  sleep "$(awk -v m="$kill_ms" 'BEGIN {print m / 1000}')"
  kill -KILL "$GW_PID"
  wait "$GW_PID" 2>/dev/null || true
  GW_PID=
  acked_at_kill=$(wc -l <"$dir/acked.log")
  log "run $run: killed with $acked_at_kill receipts acknowledged; restarting on the same data"
  ((acked_at_kill > 0)) || fail "no receipt was acknowledged in the ${kill_ms} ms before the kill"
  restart_started=$SECONDS
  start_gateway "$dir/gateway-2.log"
  log "run $run: gateway answering again after $((SECONDS - restart_started)) s, with $(deliveries PENDING) deliveries PENDING"

  deadline=$((SECONDS + LOAD_SECONDS + 120))
  while kill -0 "$LOAD_PID" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "the load did not finish within $((LOAD_SECONDS + 120)) s"
    sleep 0.2
  done
  wait "$LOAD_PID" 2>/dev/null || true
  LOAD_PID=
  result=$(sed -n 's/^RESULT //p' "$dir/load.txt")
  [[ -n $result ]] || { cat "$dir/load.txt" >&2; fail "receipt_load printed no RESULT line"; }
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $result"; }
  acked=$(cut -d' ' -f2 "$dir/acked.log" | sort -u | tee "$dir/acked.ids" | wc -l)
  log "run $run: load done: $acked acknowledged, $(get ko) KO, $(get failed) without answer, $(get transport_errors) transport errors, $(get connect_errors) refused connections"
  ((acked > acked_at_kill)) || fail "no receipt was acknowledged after the restart"
  [[ $(get ko) == 0 ]] || fail "receipts answered KO: $(get ko_codes) (a resent receipt must be answered OK)"

  log "run $run: checking that the $acked acknowledged receipts are in the store"
  if ! "$BIN/examples/receipt_load" --target "http://$HOST:$GATEWAY_PORT" --check "$dir/acked.log" \
    --key "$KEY" --concurrency 16 >"$dir/check.txt" 2>&1; then
    grep '^MISSING' "$dir/check.txt" | head -20 >&2
    fail "acknowledged receipts LOST from the store: $(sed -n 's/^CHECK //p' "$dir/check.txt") (list: $dir/check.txt)"
  fi

  log "run $run: waiting up to ${DELIVERY_DEADLINE}s for each of them to reach the stub station and for no delivery to be PENDING"
  drain_started=$SECONDS
  deadline=$((SECONDS + DELIVERY_DEADLINE))
  while :; do
    sort -u "$dir/station-received.log" >"$dir/station.ids"
    comm -23 "$dir/acked.ids" "$dir/station.ids" >"$dir/undelivered.ids"
    undelivered=$(wc -l <"$dir/undelivered.ids")
    pending=$(deliveries PENDING)
    [[ $undelivered == 0 && $pending == 0 ]] && break
    ((SECONDS < deadline)) || break
    sleep 0.5
  done
  states=
  for state in PENDING DELIVERED REJECTED UNDELIVERABLE FAILED; do states+="$state $(deliveries "$state"), "; done
  states=${states%, }
  if ((undelivered > 0)); then
    head -20 "$dir/undelivered.ids" >&2
    fail "$undelivered acknowledged receipts never reached the station in ${DELIVERY_DEADLINE} s (deliveries: $states; list: $dir/undelivered.ids)"
  fi
  [[ $pending == 0 ]] || fail "deliveries still PENDING after ${DELIVERY_DEADLINE} s although every acknowledged receipt reached the station: $states"
  drained=$((SECONDS - drain_started))
  received=$(wc -l <"$dir/station-received.log")
  addressed=$(curl -fsS -m 5 "http://$HOST:$STUB_PORT/" | sed -n 's/^addressed //p')
  others=$(awk -v want="$ORG/$ORG/$STATION_ID" '$1 != want' <<<"$addressed")
  [[ -z $others ]] || fail "the stub was addressed as someone else: $(paste -sd';' <<<"$others")"
  ! grep -n 'panicked' "$dir"/gateway-*.log >&2 || fail "the gateway panicked (see above)"
  errors=$(cat "$dir"/gateway-*.log | grep -c 'ERROR' || true)
  log "run $run: passed — killed at ${kill_ms} ms with $acked_at_kill acknowledged; $acked acknowledged in all, all stored, all delivered ${drained} s after the load ($received deliveries acknowledged by the stub, $((received - $(wc -l <"$dir/station.ids"))) repeated; deliveries: $states; $errors ERROR lines in the gateway logs)"
)

for run in $(seq "$RUNS"); do
  # Not `if one_run`: bash would ignore `set -e` inside the run.
  set +e
  one_run "$run"
  rc=$?
  set -e
  ((rc == 0)) || FAILED_RUNS=$((FAILED_RUNS + 1))
done
if ((FAILED_RUNS > 0)); then
  die "$FAILED_RUNS of $RUNS runs failed (details above; logs in $WORK)"
fi
log "all $RUNS runs passed"
