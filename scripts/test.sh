#!/usr/bin/env bash
# `make test`: install and start what the tests need, then lint and run the whole suite.
# Each stage prints one line when it starts (with its lane and the time); the pytest stages print
# their own summaries.
#
# After lint the suite runs in two lanes side by side: the local clouds' AWS waits leave the CPU
# idle much of the time, and the stages of one lane share nothing with the other's (each has its own
# local cloud on its own port, its own VPC CIDR and PostgreSQL names, its own Docker networks):
#   lane A (background): unit tests, app tests, AWX, molecule;
#   lane B (foreground): the integration suite (the longest, about as long as lane A's four).
# Lane A's output goes to .state/test-logs/lane-a.log and is printed once lane B ends.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
# The local clouds of the suite behave like AWS in time (lifecycle states, eventual consistency),
# fifty times faster; the integration suite's cloud adds 10 % throttling (tests/integration/conftest.py).
export LOCALCLOUD_FIDELITY="${LOCALCLOUD_FIDELITY:-aws}" LOCALCLOUD_TIME_SCALE="${LOCALCLOUD_TIME_SCALE:-0.02}"
PYTEST=(python -m pytest -p no:cacheprovider -q)
LOGS=.state/test-logs
mkdir -p "$LOGS"

stage() { printf '\n=== %s%s (%s)\n' "${LANE:+[$LANE] }" "$1" "$(date -u +%H:%M:%S)"; }
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

# Each on an emulator of its own; the first three start an empty one per module.
OWN_EMULATOR=(tests/integration/test_35_check_older_network.py tests/integration/test_95_interrupted.py
  tests/integration/test_36_new_zone.py tests/integration/test_33_database_keeps.py)

lane_a() {
  LANE=A
  local lane_failed=()
  stage "unit tests: local collection modules, local cloud, pins"
  "${PYTEST[@]}" tests/unit || lane_failed+=("${PYTEST[*]} tests/unit")
  stage "app tests: API and worker on PostgreSQL and SQS"
  "${PYTEST[@]}" app/tests || lane_failed+=("${PYTEST[*]} app/tests")
  stage "awx: execution environment, AWX configuration as code, ansible-runner jobs"
  "${PYTEST[@]}" tests/awx || lane_failed+=("${PYTEST[*]} tests/awx")
  if [ -x tests/molecule/run_all.sh ]; then
    stage "molecule: one scenario per role"
    ./tests/molecule/run_all.sh || lane_failed+=("./tests/molecule/run_all.sh")
  fi
  # Integration tests on emulators of their own (not the shared stack's): they run here, beside
  # lane B, on ports and address ranges lane B does not use.
  stage "integration, own emulator: a dry run on an older network; a zone added; the database's upgrades and key"
  TEST_EMPTY_LOCALCLOUD_PORT=5152 TEST_VPC_OCTET=89 "${PYTEST[@]}" "${OWN_EMULATOR[0]}" "${OWN_EMULATOR[2]}" \
    "${OWN_EMULATOR[3]}" || lane_failed+=("${PYTEST[*]} ${OWN_EMULATOR[0]} ${OWN_EMULATOR[2]} ${OWN_EMULATOR[3]}")
  stage "integration, own emulator: killed runs converge when run again"
  TEST_LOCALCLOUD_PORT=5153 TEST_VPC_OCTET=88 "${PYTEST[@]}" "${OWN_EMULATOR[1]}" ||
    lane_failed+=("${PYTEST[*]} ${OWN_EMULATOR[1]}")
  stage "end of lane A"
  : > "$LOGS/lane-a.failed"
  if [ ${#lane_failed[@]} -gt 0 ]; then printf '%s\n' "${lane_failed[@]}" > "$LOGS/lane-a.failed"; fi
}
rm -f "$LOGS/lane-a.failed"
lane_a > "$LOGS/lane-a.log" 2>&1 &
lane_a_pid=$!
printf '\n(lane A: unit, app, AWX and molecule tests, in the background: %s)\n' "$LOGS/lane-a.log"

LANE=B
stage "integration: site.yml, idempotence, bad input, NAT modes, interrupted runs, teardown on the local cloud"
run "${PYTEST[@]}" --durations=30 tests/integration "${OWN_EMULATOR[@]/#/--ignore=}"
stage "end of lane B"

wait "$lane_a_pid" || true
printf '\n=== lane A (unit, app, AWX, molecule), as it ran:\n'
cat "$LOGS/lane-a.log"
if [ -s "$LOGS/lane-a.failed" ]; then
  mapfile -t lane_a_failed < "$LOGS/lane-a.failed"
  failed+=("${lane_a_failed[@]}")
elif [ ! -f "$LOGS/lane-a.failed" ]; then
  failed+=("lane A ended before its last stage (see $LOGS/lane-a.log)")
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nmake test: %d stage(s) failed:\n' "${#failed[@]}"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
