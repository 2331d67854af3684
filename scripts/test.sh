#!/usr/bin/env bash
# `make test`: install and start what the tests need, then lint and run the whole suite.
# Each stage prints one line when it starts; the pytest stages print their own summaries,
# and the integration suite runs last.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
PYTEST=(python -m pytest -p no:cacheprovider -q)

stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
# Test stages run to the end even when one fails, so one run shows every failure.
failed=()
run() { "$@" || failed+=("$*"); }

stage "set-up: virtual environment"
./scripts/bootstrap.sh

stage "set-up: PostgreSQL server"
./scripts/pg-local.sh start

if [ -x scripts/dataplane-setup.sh ]; then
  stage "set-up: Docker engine and the test hosts' base image"
  ./scripts/dataplane-setup.sh
fi

stage "lint: yamllint, ansible-lint (production), ruff"
run ./scripts/lint.sh

stage "unit tests: local collection modules, local cloud, pins"
run "${PYTEST[@]}" tests/unit

stage "app tests: API and worker on PostgreSQL and SQS"
run "${PYTEST[@]}" app/tests

if [ -x tests/molecule/run_all.sh ]; then
  stage "molecule: one scenario per role"
  run ./tests/molecule/run_all.sh
fi

stage "awx: execution environment, AWX configuration as code, ansible-runner jobs"
run "${PYTEST[@]}" tests/awx

stage "integration: site.yml, idempotence, bad input, NAT modes, teardown on the local cloud"
run "${PYTEST[@]}" tests/integration

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nmake test: %d stage(s) failed:\n' "${#failed[@]}"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
