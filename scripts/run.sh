#!/usr/bin/env bash
# Runs Quorum locally: PostgreSQL, Redis, a Celery worker and the web server,
# with the demo project loaded. Ctrl+C stops the web server and the worker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh start
PORT=${PORT:-8000}
export DATABASE_URL=${DATABASE_URL:-postgres://quorum:quorum@127.0.0.1:${QUORUM_PG_PORT:-55432}/quorum}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:${QUORUM_REDIS_PORT:-56379}/0}
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py load_demo
mkdir -p .run
.venv/bin/celery -A annotator worker --loglevel=INFO --concurrency=2 > .run/worker.log 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM
echo "Quorum: http://127.0.0.1:$PORT/   (worker log: .run/worker.log)"
if [ "${QUORUM_DEV_SERVER:-0}" = "1" ]; then
  .venv/bin/python manage.py runserver "127.0.0.1:$PORT"
else
  .venv/bin/python manage.py collectstatic --noinput -v 0
  .venv/bin/gunicorn annotator.wsgi --bind "127.0.0.1:$PORT" --workers 3 --access-logfile -
fi
