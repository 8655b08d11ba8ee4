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
