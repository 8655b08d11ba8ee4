#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from Debian's package.
#   .ci/postgres.sh start DIR   initialises a cluster in DIR (unless it has one) and starts
#                               it; prints the connection string the tests take in
#                               GPD_TEST_POSTGRES
#   .ci/postgres.sh stop DIR    stops it
# initdb refuses to run as root, so the cluster belongs to the postgres user. It listens on a
# Unix socket in DIR only: nothing outside this machine, nor another test run, can reach it.
set -euo pipefail

action=${1:?start or stop}
dir=${2:?the cluster directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n $bin ]] || { echo "postgresql is not installed" >&2; exit 1; }

as_postgres() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $action in
start)
    mkdir -p "$dir"
    [[ $(id -u) == 0 ]] && chown postgres: "$dir"
    [[ -d $dir/data ]] ||
        as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log"
    # Durability as in production (fsync, synchronous_commit on): the tests check it.
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-k $dir -c listen_addresses='' -c max_connections=300" start >/dev/null
    echo "host=$dir user=postgres"
    ;;
stop)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
*)
    echo "start or stop" >&2
    exit 2
    ;;
esac
