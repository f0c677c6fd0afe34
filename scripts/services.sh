#!/usr/bin/env bash
# Starts (or stops) a real PostgreSQL and Redis for Quorum in .run/, from the
# machine's own binaries; no Docker. Idempotent: a running server is left alone.
#   scripts/services.sh start | stop | stop-app | up | status
# stop also stops the web server and worker that run.sh started (pid files in
# the run folder); stop-app stops only those two; up exits 0 when both servers answer.
# PostgreSQL commits synchronously (an acknowledged answer survives a crash);
# QUORUM_PG_RELAXED=1 turns synchronous_commit off, for experiments only.
# PostgreSQL refuses to run as root, so under root it runs as an unprivileged
# account (postgres if it exists, else a "quorum" system user).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN=${QUORUM_RUN_DIR:-$ROOT/.run}
PG_PORT=${QUORUM_PG_PORT:-55432}
REDIS_PORT=${QUORUM_REDIS_PORT:-56379}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

as_pg() {
  if [ "$(id -u)" = "0" ]; then
    su -s /bin/bash "$PG_USER" -c "$*"
  else
    bash -c "$*"
  fi
}

pick_pg_user() {
  PG_USER=$(id -un)
  if [ "$(id -u)" = "0" ]; then
    if id postgres >/dev/null 2>&1; then
      PG_USER=postgres
    else
      id quorum >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/bash quorum
      PG_USER=quorum
    fi
  fi
}

pg_dir() {
  # The data folder must be reachable by the unprivileged user; a checkout
  # under /root is not, so then it lives under /var/tmp instead.
  PG_DATA=$RUN/pg
  if [ "$(id -u)" = "0" ]; then
    mkdir -p "$RUN"
    chmod 755 "$RUN"
    if ! su -s /bin/bash "$PG_USER" -c "test -x '$RUN'"; then
      PG_DATA=/var/tmp/quorum-pg-$(echo "$ROOT" | md5sum | cut -c1-8)
      echo "$PG_DATA" > "$RUN/pg.location"
    fi
  fi
}

start_pg() {
  pick_pg_user
  pg_dir
  if [ -z "$PG_BIN" ]; then echo "services: no PostgreSQL server binaries found" >&2; exit 1; fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    mkdir -p "$PG_DATA"
    [ "$(id -u)" = "0" ] && chown "$PG_USER" "$PG_DATA"
    chmod 700 "$PG_DATA"
    as_pg "'$PG_BIN/initdb' -D '$PG_DATA' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    cat >> "$PG_DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DATA'
max_connections = 200
shared_buffers = 1GB
CONF
  fi
  # Durability is set on the command line below, never in the configuration:
  # drop any setting an earlier version of this script wrote there.
  sed -i '/^synchronous_commit[[:space:]]*=/d' "$PG_DATA/postgresql.conf"
  local sync=on
  [ "${QUORUM_PG_RELAXED:-0}" = "1" ] && sync=off
  if as_pg "'$PG_BIN/pg_ctl' -D '$PG_DATA' status" >/dev/null 2>&1; then
    :
  else
    # The port is given here too, so QUORUM_PG_PORT holds for a data folder made
    # earlier; so is the cache size, so that folders made with less get it too.
    as_pg "'$PG_BIN/pg_ctl' -D '$PG_DATA' -l '$PG_DATA/server.log' -o '-p $PG_PORT -c shared_buffers=${QUORUM_PG_SHARED_BUFFERS:-1GB} -c synchronous_commit=$sync -c fsync=${QUORUM_PG_FSYNC:-on}' -w -t 60 start" >/dev/null
  fi
  local psql="'$PG_BIN/psql' -h 127.0.0.1 -p $PG_PORT -U postgres -v ON_ERROR_STOP=1 -qtA"
  if [ "$(as_pg "$psql -c \"select 1 from pg_roles where rolname='quorum'\"")" != "1" ]; then
    as_pg "$psql -c \"create role quorum login superuser password 'quorum'\""
  fi
  if [ "$(as_pg "$psql -c \"select 1 from pg_database where datname='quorum'\"")" != "1" ]; then
    as_pg "$psql -c 'create database quorum owner quorum'"
  fi
  echo "services: PostgreSQL on 127.0.0.1:$PG_PORT ($PG_DATA, synchronous_commit=$(as_pg "$psql -c 'show synchronous_commit'"))"
}

stop_pg() {
  pick_pg_user
  pg_dir
  [ -f "$RUN/pg.location" ] && PG_DATA=$(cat "$RUN/pg.location")
  if [ -f "$PG_DATA/PG_VERSION" ]; then
    as_pg "'$PG_BIN/pg_ctl' -D '$PG_DATA' -m fast -w stop" >/dev/null 2>&1 || true
  fi
}

start_redis() {
  mkdir -p "$RUN/redis"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    :
  else
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" \
      --daemonize yes --pidfile "$RUN/redis/redis.pid" --logfile "$RUN/redis/redis.log" \
      --save "" --appendonly no >/dev/null
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "services: Redis on 127.0.0.1:$REDIS_PORT"
}

stop_redis() {
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

stop_pid() {
  # Stops the process named in a pid file if it is still one of ours
  # (a recycled pid that now belongs to something else is left alone).
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -Eq 'gunicorn|celery|manage.py'; then
    # runserver's autoreloader serves from a child process: stop that one too.
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    # A worker finishes its current job first; past 30 s it is killed (the job
    # is acknowledged late, so it runs again).
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_app() {
  stop_pid "$RUN/web.pid"
  stop_pid "$RUN/worker.pid"
}

is_up() {
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 \
    && [ -n "$PG_BIN" ] && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
}

case "${1:-start}" in
  start) start_pg; start_redis ;;
  stop) stop_app; stop_redis; stop_pg; echo "services: stopped" ;;
  stop-app) stop_app ;;
  up) is_up ;;
  status)
    redis-cli -p "$REDIS_PORT" ping || true
    "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" || true
    ;;
  *) echo "usage: $0 start|stop|stop-app|up|status" >&2; exit 2 ;;
esac
