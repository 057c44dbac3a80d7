#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: `.ci/postgres.sh start [DIR]` initialises a cluster in
# DIR (default: a new temp dir), starts it on 127.0.0.1 at a free port with trust auth, creates
# the database `optuna` and prints its SQLAlchemy URL on stdout (the last line). `.ci/postgres.sh
# stop DIR` stops it and removes DIR. Uses the Debian package (postgresql-NN); initdb refuses to
# run as root, so the server runs as the `postgres` user when started by root.
set -euo pipefail

bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || { echo "postgres.sh: no PostgreSQL server (apt-get install postgresql)" >&2; exit 3; }
  echo "$d"
}

as_owner() {  # run a command as the owner of the data directory
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "${1:-}" in
  start)
    B=$(bin_dir)
    D=${2:-$(mktemp -d -t cnnspace-pg.XXXXXX)}
    mkdir -p "$D"
    [ "$(id -u)" = 0 ] && chown postgres: "$D"
    PORT=$(free_port)
    as_owner "'$B/initdb' -D '$D/data' -U postgres --auth=trust -E UTF8 >'$D/initdb.log' 2>&1"
    as_owner "'$B/pg_ctl' -D '$D/data' -l '$D/log' -o \"-p $PORT -k '$D' -c listen_addresses=127.0.0.1\" -w start >/dev/null"
    as_owner "'$B/psql' -h 127.0.0.1 -p $PORT -U postgres -q -c 'create database optuna;'"
    echo "$D"
    echo "postgresql+psycopg2://postgres@127.0.0.1:$PORT/optuna"
    ;;
  stop)
    B=$(bin_dir)
    D=${2:?usage: postgres.sh stop DIR}
    as_owner "'$B/pg_ctl' -D '$D/data' -m fast -w stop >/dev/null" || true
    rm -rf "$D"
    ;;
  *)
    echo "usage: $0 start [DIR] | stop DIR" >&2
    exit 2
    ;;
esac
