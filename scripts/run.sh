#!/usr/bin/env bash
# Runs Quorum locally: PostgreSQL, Redis, a Celery worker and the web server,
# with the demo project loaded. Ctrl+C (or SIGTERM) stops the web server and
# the worker; `bash scripts/services.sh stop` stops those and the databases.
# If start-up fails, everything this run started is stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${QUORUM_RUN_DIR:-$(pwd)/.run}
export QUORUM_RUN_DIR=$RUN
mkdir -p "$RUN"

services_were_up=0
bash scripts/services.sh up 2>/dev/null && services_were_up=1
started=0

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  bash scripts/services.sh stop-app || true
  if [ "$status" != "0" ] && [ "$started" = "0" ] && [ "$services_were_up" = "0" ]; then
    echo "run: start-up failed; stopping PostgreSQL and Redis again" >&2
    bash scripts/services.sh stop >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/setup.sh
bash scripts/services.sh start
PORT=${PORT:-8000}
export DATABASE_URL=${DATABASE_URL:-postgres://quorum:quorum@127.0.0.1:${QUORUM_PG_PORT:-55432}/quorum}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:${QUORUM_REDIS_PORT:-56379}/0}
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py load_demo
if [ "${QUORUM_DEV_SERVER:-0}" != "1" ]; then
  .venv/bin/python manage.py collectstatic --noinput -v 0
fi

.venv/bin/celery -A annotator worker --loglevel=INFO --concurrency=2 > "$RUN/worker.log" 2>&1 &
echo $! > "$RUN/worker.pid"
if [ "${QUORUM_DEV_SERVER:-0}" = "1" ]; then
  .venv/bin/python manage.py runserver "127.0.0.1:$PORT" &
else
  .venv/bin/gunicorn annotator.wsgi --bind "127.0.0.1:$PORT" --workers 3 --access-logfile - &
fi
WEB=$!
echo "$WEB" > "$RUN/web.pid"
started=1
echo "Quorum: http://127.0.0.1:$PORT/   (worker log: $RUN/worker.log)"
# The web server runs until it stops or this script is told to stop;
# either way cleanup stops both it and the worker.
wait "$WEB"
