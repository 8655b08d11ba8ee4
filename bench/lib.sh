# What the bench scripts share; each sets BENCH_NAME (its log prefix) and sources this file
# right after `set -euo pipefail`. It moves to the repository's root and defines the helpers
# below; the scripts keep what is their own.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HOST=127.0.0.1

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_tools() { # tool… : dies naming the first one missing
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install -y $tool)"
  done
}

positive() { # knob-name… : dies unless each is a positive integer
  local knob
  for knob in "$@"; do
    [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer"
  done
}

# The commit measured, and the files changed since when the tree is not clean.
bench_commit() {
  COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if ! git diff --quiet HEAD -- src Cargo.toml Cargo.lock examples 2>/dev/null; then
    COMMIT+=" + uncommitted changes to $(git diff --name-only HEAD -- src Cargo.toml Cargo.lock examples | paste -sd, -)"
  fi
}

# A scratch directory for the run, in WORK (gpd-NAME.XXXXXX under TMPDIR), and the exit trap
# that stops the gateway whose pid the script keeps in GW_PID, then removes the directory, kept
# when KEEP=1 or the run failed (its logs and data tell why).
bench_workdir() { # name
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpd-$1.XXXXXX")
  GW_PID=
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local rc=$?
  stop_pid "$GW_PID"
  bench_leave "$rc"
}
bench_leave() { # rc: keeps WORK when KEEP=1 or rc is a failure, else removes it; exits with rc
  if [[ ${KEEP:-0} == 1 || $1 -ne 0 ]]; then log "kept $WORK (logs, data)"; else rm -rf "$WORK"; fi
  exit "$1"
}

# Builds gpd-gateway and the examples named (release) unless SKIP_BUILD=1, then dies unless each
# is in $BIN (the release directory of $TARGET_DIR).
bench_build() { # example…
  if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building (release): gpd-gateway, examples $*"
    # shellcheck disable=SC2046 # one --example per word
    cargo build --release --bin gpd-gateway $(printf -- '--example %s ' "$@") >&2
  fi
  local b
  for b in gpd-gateway $(printf 'examples/%s ' "$@"); do
    [[ -x $BIN/$b ]] || die "$BIN/$b is missing (CARGO_TARGET_DIR=$TARGET_DIR)"
  done
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

stop_pid() { # pid: SIGTERM, wait up to 10 s, then SIGKILL
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "process $pid did not stop in 10 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

wait_http() { # url pid logfile seconds: until the URL answers anything over HTTP
  local url=$1 pid=$2 logfile=$3 deadline=$((SECONDS + $4))
  until curl -sS -m 1 -o /dev/null "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { tail -50 "$logfile" >&2; die "process $pid exited before $url answered"; }
    ((SECONDS < deadline)) || { tail -50 "$logfile" >&2; die "$url did not answer within $4 s"; }
    sleep 0.05
  done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime of the process

median() { # values (as arguments or in one string)
  tr ' ' '\n' <<<"$*" | grep . | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
verdict() { awk -v v="$1" -v lim="$2" -v op="$3" 'BEGIN {m = (op == "ge") ? v >= lim : (op == "le") ? v <= lim : v < lim; print m ? "met" : "**missed**"}'; }

# STORE (sqlite, the default, or postgres) and INSTANCES (1 or 2), for the scripts that take
# them. With postgres, store_start starts a throwaway cluster (.ci/postgres.sh) in the script's
# temporary directory; STORE_ARGS are the options that name the store to gpd-gateway and to
# examples/seed_positions, SEED_ARGS what else seed_positions takes (on PostgreSQL, one batch
# per CPU at once, since a single connection mostly waits for round trips, and batches of 1,000,
# committed often enough for the statistics to follow).
store_knobs() {
  STORE=${STORE:-sqlite} INSTANCES=${INSTANCES:-1}
  [[ $STORE == sqlite || $STORE == postgres ]] || die "STORE must be sqlite or postgres"
  [[ $INSTANCES == 1 || $INSTANCES == 2 ]] || die "INSTANCES must be 1 or 2"
  [[ $INSTANCES == 1 || $STORE == postgres ]] || die "INSTANCES=2 needs STORE=postgres: two gateways share one database"
  [[ $STORE == sqlite ]] || need_tools psql
}
store_start() { # workdir: the SQLite data directory in it, or a PostgreSQL cluster
  if [[ $STORE == postgres ]]; then
    chmod 711 "$1" # the cluster belongs to the postgres user when run as root: it must get in
    PG_DIR=$1/pg
    PG_URL=$(.ci/postgres.sh start "$PG_DIR") || die "PostgreSQL did not start (see $PG_DIR/server.log)"
    PG_VERSION=$(psql "$PG_URL" -Atc 'SHOW server_version' | cut -d' ' -f1)
    # Statistics kept up with the seeding: a statement's cached generic plan, made while its
    # table was nearly empty, looks a notice up through an index on the creditor alone and
    # reads every option of the creditor, until an ANALYZE of the table replaces it.
    psql "$PG_URL" -qc "ALTER SYSTEM SET autovacuum_naptime = '1s'" -c 'SELECT pg_reload_conf()' >/dev/null
    STORE_ARGS=(--store "$PG_URL") SEED_ARGS=(--jobs "$(nproc)" --batch 1000)
  else
    STORE_ARGS=(--data "$1/data") SEED_ARGS=()
  fi
}
store_seeded() { # the statistics of the seeded tables, before any gateway plans a statement
  [[ $STORE == sqlite ]] || psql "$PG_URL" -qc 'ANALYZE'
}
store_stop() {
  [[ -n ${PG_DIR:-} ]] || return 0
  .ci/postgres.sh stop "$PG_DIR" || log "PostgreSQL in $PG_DIR did not stop"
  PG_DIR=
}
store_wal() { # PostgreSQL: the bytes of WAL written so far (nothing for SQLite)
  [[ $STORE == postgres ]] || return 0
  psql "$PG_URL" -Atc "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint"
}
store_hot_updates() { # PostgreSQL, once no gateway is connected: "table: HOT of updates, …"
  [[ $STORE == postgres ]] || return 0
  local deadline=$((SECONDS + 30))
  # Each backend adds its counts to the statistics as it exits: wait for the gateways' to end.
  while (($(psql "$PG_URL" -Atc "SELECT count(*) FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()") > 0)); do
    ((SECONDS < deadline)) || break
    sleep 0.1
  done
  psql "$PG_URL" -Atc "SELECT string_agg(format('%s %s of %s', relname, n_tup_hot_upd, n_tup_upd),
      ', ' ORDER BY relname) FROM pg_stat_user_tables WHERE relname IN ('debt_position', 'payment_option')"
}
store_bytes() { # the store's size on disk
  if [[ $STORE == postgres ]]; then
    psql "$PG_URL" -Atc 'SELECT pg_database_size(current_database())'
  else
    du -cb "${STORE_ARGS[1]}" | awk 'END {print $1}'
  fi
}
# How the store is described in the reports, on a line of its own (nothing for SQLite, whose
# reports say it already).
store_line() {
  [[ $STORE == postgres ]] || return 0
  printf '\nStore: PostgreSQL %s (a throwaway cluster on this machine, fsync and synchronous_commit on), %s gateway instance%s on it' \
    "$PG_VERSION" "$INSTANCES" "$([[ $INSTANCES == 2 ]] && echo 's' || true)"
  if [[ $INSTANCES == 2 ]]; then
    printf ', the load split evenly between them and run at once; figures summed, each latency percentile the worse of the two. Both instances, PostgreSQL and the load share the same CPUs'
  fi
  printf '.\n'
}
