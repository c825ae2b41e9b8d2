#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on 127.0.0.1 for the store tests (Debian: apt-get install -y postgresql).
#
#   eval "$(test/support/postgres.sh start)"   # prints: export LOBU_TEST_DATABASE_URL=postgres://…
#   npx vitest run test/lib/gateway/store
#   test/support/postgres.sh stop               # stops it and deletes its files
#   test/support/postgres.sh url                # prints the URL of the running cluster
#
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
# Settings: LOBU_PG_DIR (default /tmp/lobu-test-pg), LOBU_PG_PORT (default 54329).
# Progress goes to stderr; stdout is only the export line, so eval works.
set -euo pipefail

PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
DIR="${LOBU_PG_DIR:-/tmp/lobu-test-pg}"
PORT="${LOBU_PG_PORT:-54329}"
URL="postgres://postgres@127.0.0.1:${PORT}/postgres"

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() {
  [ -f "$DIR/data/postmaster.pid" ] && as_owner "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

case "${1:-start}" in
  start)
    if [ ! -x "$PGBIN/initdb" ]; then
      echo "error: $PGBIN/initdb not found — install PostgreSQL 15: apt-get install -y postgresql" >&2
      exit 1
    fi
    if ! running; then
      rm -rf "$DIR"
      mkdir -p "$DIR"
      if [ "$(id -u)" = "0" ]; then chown postgres:postgres "$DIR"; fi
      echo "postgres: initdb in $DIR" >&2
      as_owner "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
      as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200" -w start >&2 \
        || { cat "$DIR/server.log" >&2; exit 1; }
      echo "postgres: listening on 127.0.0.1:$PORT" >&2
    fi
    echo "export LOBU_TEST_DATABASE_URL=$URL"
    ;;
  stop)
    if running; then as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2; fi
    rm -rf "$DIR"
    ;;
  url)
    running || { echo "error: no test cluster runs in $DIR (start it first)" >&2; exit 1; }
    echo "$URL"
    ;;
  *)
    echo "usage: $0 [start|stop|url]" >&2
    exit 2
    ;;
esac
