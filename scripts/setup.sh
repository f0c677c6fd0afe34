#!/usr/bin/env bash
# Installs what Quorum needs on a fresh Debian machine: system packages that are
# missing, then a virtualenv in .venv with the project and its dev tools.
# Safe to run again: it only installs what is absent or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ "${QUORUM_SKIP_BROWSER:-0}" != "1" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  echo "setup: installing ${need[*]}"
  # Another install (unattended-upgrades, a second shell) may hold the dpkg
  # lock: wait for it, up to 10 minutes, instead of failing at once.
  lock=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${lock[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${lock[@]}" install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.quorum-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -U pip
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  # irrCAC pins scipy/numpy 1.x in its metadata but runs on current ones;
  # it is only a test-time reference for Gwet's AC1/AC2.
  .venv/bin/pip install -q --disable-pip-version-check --no-deps 'irrCAC==0.4.4'
  touch "$stamp"
fi
