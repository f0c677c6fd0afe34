#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing,
# starts PostgreSQL and Redis, then pytest (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh start
# Tests get their own Redis database so a running dev worker never takes their jobs.
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:${QUORUM_REDIS_PORT:-56379}/9}
export DATABASE_URL=${DATABASE_URL:-postgres://quorum:quorum@127.0.0.1:${QUORUM_PG_PORT:-55432}/quorum}
export DJANGO_SETTINGS_MODULE=annotator.settings
if [ "${QUORUM_LINT:-1}" = "1" ]; then .venv/bin/ruff check .; fi
exec .venv/bin/python -m pytest "$@"
