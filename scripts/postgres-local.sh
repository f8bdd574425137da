#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for tests and benchmarks, installing it with apt when
# it is missing. Runs the server as the unprivileged `postgres` user with its own data directory.
# Usage: scripts/postgres-local.sh start|stop|url   (env: YIKA_PG_DIR, YIKA_PG_PORT)
set -euo pipefail
dir=${YIKA_PG_DIR:-/tmp/yika-postgres}
port=${YIKA_PG_PORT:-54329}
url="postgres://yika@127.0.0.1:${port}/yika"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_if_missing() {
  if [ -z "$(pg_bin)" ]; then
    echo "postgres-local: installing PostgreSQL with apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then useradd --system --home-dir /var/lib/postgresql postgres; fi
}

start() {
  install_if_missing
  local bin; bin=$(pg_bin)
  if as_postgres "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then echo "$url"; return; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir" -U yika --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=512MB" start >/dev/null
  as_postgres "$bin/psql" -h 127.0.0.1 -p "$port" -U yika -d postgres -qtAc \
    "select 1 from pg_database where datname = 'yika'" | grep -q 1 ||
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U yika yika
  echo "$url"
}

stop() {
  local bin; bin=$(pg_bin)
  [ -n "$bin" ] && as_postgres "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  url) echo "$url" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
