#!/usr/bin/env bash
# Run every molecule role scenario (molecule/<role>/) against a local cloud of its own,
# one after the other, and print one line per scenario with its wall time.
#   MOLECULE_LOCALCLOUD_PORT  port of that local cloud (default 5301; never the lead's 5100)
#   MOLECULE_SCENARIOS        scenarios to run, in order (default: all seven)
#   MOLECULE_JOBS             scenarios run at the same time (default 2, which keeps the whole run
#                             under 5 minutes on 2 cores; 1 runs them strictly in order). They never
#                             collide: each has its own env_name, VPC CIDR and database names.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export LOCALCLOUD_PORT="${MOLECULE_LOCALCLOUD_PORT:-5301}"
export LOCALCLOUD_STATE_DIR="$ROOT/.state/molecule-cloud"
read -r -a SCENARIOS <<<"${MOLECULE_SCENARIOS:-network database database_instance ecs_cluster queues bastion bastion_config}"
LOG_DIR="$LOCALCLOUD_STATE_DIR/logs"
mkdir -p "$LOG_DIR"

# The data plane too: its test hosts, networks, DB forwarders and the PostgreSQL cluster it started.
stop_cloud() {
  python -m localcloud down >/dev/null || true
}
# A fresh, empty cloud: stop what an interrupted run of this script left (only the server
# whose PID its state folder records, and this emulator's data plane); start fails clearly if
# another process holds the port.
stop_cloud
trap stop_cloud EXIT
trap 'exit 130' INT TERM
python -m localcloud start

JOBS="${MOLECULE_JOBS:-2}"
total_start=$SECONDS

RESULTS="$LOG_DIR/results"
: >"$RESULTS"
run_scenario() {
  local scenario=$1 start=$SECONDS result=passed
  # The test sequence starts at create: forget any state an earlier run left for the scenario.
  { molecule reset -s "$scenario" && molecule test -s "$scenario"; } >"$LOG_DIR/$scenario.log" 2>&1 || result=FAILED
  printf 'molecule %-12s %-6s %4ds  (log: %s)\n' "$scenario" "$result" $((SECONDS - start)) "$LOG_DIR/$scenario.log" |
    tee -a "$RESULTS"
}

for scenario in "${SCENARIOS[@]}"; do
  if ((JOBS <= 1)); then
    run_scenario "$scenario"
  else
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
    run_scenario "$scenario" &
  fi
done
wait

failed=0
if grep -q ' FAILED ' "$RESULTS" || (($(wc -l <"$RESULTS") != ${#SCENARIOS[@]})); then failed=1; fi
printf 'molecule %-12s %-6s %4ds\n' total "$( ((failed == 0)) && echo passed || echo FAILED)" $((SECONDS - total_start))
exit "$failed"
