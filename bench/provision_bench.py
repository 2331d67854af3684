"""Time the provisioning life cycle on a local cloud of its own and print the figures.

    .venv/bin/python bench/provision_bench.py [--port 5160]

Runs, in order: site.yml on an empty emulator (first run), site.yml again (no-op rerun),
site.yml --check, playbooks/teardown.yml. Prints the wall time and the task counts of each.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RECAP = re.compile(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)")
STEPS = [
    ("first run", ["site.yml"]),
    ("no-op rerun", ["site.yml"]),
    ("check run", ["site.yml", "--check"]),
    ("teardown", ["playbooks/teardown.yml"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_LOCALCLOUD_PORT", "5160")))
    args = parser.parse_args()
    state = ROOT / ".state" / "bench-cloud"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        LOCALCLOUD_PORT=str(args.port),
        LOCALCLOUD_STATE_DIR=str(state),
        ARTIFACTS_DIR=str(ROOT / ".state" / "bench-artifacts"),
    )
    ctl = [sys.executable, "-m", "localcloud"]
    subprocess.run([*ctl, "start"], cwd=ROOT, env=env, check=True)
    rows = []
    try:
        for label, argv in STEPS:
            print(f"bench: {label} ...", flush=True)
            started = time.monotonic()
            proc = subprocess.run(
                [str(BIN / "ansible-playbook"), *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
            )
            elapsed = time.monotonic() - started
            match = RECAP.findall(proc.stdout)
            if proc.returncode != 0 or not match:
                print(proc.stdout[-3000:], proc.stderr[-2000:], file=sys.stderr)
                print(f"bench: {label} failed (exit {proc.returncode})", file=sys.stderr)
                return 1
            ok, changed, _failed, skipped = (int(x) for x in match[-1])
            rows.append((label, elapsed, ok, changed, skipped))
    finally:
        subprocess.run([*ctl, "down"], cwd=ROOT, env=env, check=False, capture_output=True)
    print(f"\n{'step':<14}{'wall s':>8}{'ok':>6}{'changed':>9}{'skipped':>9}")
    for label, elapsed, ok, changed, skipped in rows:
        print(f"{label:<14}{elapsed:>8.1f}{ok:>6}{changed:>9}{skipped:>9}")
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
