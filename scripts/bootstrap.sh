#!/usr/bin/env bash
# Create or refresh the project's virtual environment from the exact locks.
# Re-installs only when a lock file changed (a hash stamp lives in the venv).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
locks=(requirements.txt)
[ -f app/requirements.txt ] && locks+=(app/requirements.txt)
# app/requirements.txt includes requirements-runtime.txt: hash it too, install it through its includer.
hashed=("${locks[@]}")
[ -f app/requirements-runtime.txt ] && hashed+=(app/requirements-runtime.txt)

want=$(cat "${hashed[@]}" | sha256sum | cut -d' ' -f1)
have=$(cat "$VENV/.lock-sha256" 2>/dev/null || true)
if [ -x "$VENV/bin/python" ] && [ "$want" = "$have" ]; then
  exit 0
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "bootstrap: Python 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=" >&2
  exit 1
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1; then
  echo "bootstrap: installing python3-venv" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi

echo "bootstrap: installing pinned packages into $VENV (${locks[*]})"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip==26.3"
req_args=()
for lock in "${locks[@]}"; do req_args+=(-r "$lock"); done
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${req_args[@]}"
echo "$want" > "$VENV/.lock-sha256"
