"""Time the provisioning life cycle on a local cloud of its own and print the figures.

    .venv/bin/python bench/provision_bench.py [--port 5160] [--aws-scale 0.25] [--skip-aws-model]

1. On a local cloud with the fidelity as configured (LOCALCLOUD_FIDELITY, LOCALCLOUD_TIME_SCALE):
   site.yml on an empty cloud (first run), again (no-op rerun), --check, then playbooks/teardown.yml,
   with the wall time and the task counts of each.
2. The real-AWS model: site.yml's first run on a fresh local cloud whose clocks run at --aws-scale
   times AWS's (the fidelity on, without the floors that keep races visible). Its wall time
   divided by the scale models the wall time on AWS;
   it is printed next to the longest chain of dependent AWS waits (localcloud.fidelity.CRITICAL_PATH)
   and their ratio. The closer the scale to 1, the truer the model: Ansible's own time is divided by
   the scale too.
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
sys.path.insert(0, str(ROOT))
RECAP = re.compile(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)")
STEPS = [
    ("first run", ["site.yml"]),
    ("no-op rerun", ["site.yml"]),
    ("check run", ["site.yml", "--check"]),
    ("teardown", ["playbooks/teardown.yml"]),
]


def environment(port: int, name: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        LOCALCLOUD_PORT=str(port),
        LOCALCLOUD_STATE_DIR=str(ROOT / ".state" / name),
        ARTIFACTS_DIR=str(ROOT / ".state" / "bench-artifacts"),
        **extra,
    )
    return env


def run_steps(env: dict[str, str], steps: list[tuple[str, list[str]]]) -> list[tuple[str, float, int, int, int]] | None:
    ctl = [sys.executable, "-m", "localcloud"]
    subprocess.run([*ctl, "down"], cwd=ROOT, env=env, check=False, capture_output=True)
    subprocess.run([*ctl, "start"], cwd=ROOT, env=env, check=True)
    rows = []
    try:
        for label, argv in steps:
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
                return None
            ok, changed, _failed, skipped = (int(x) for x in match[-1])
            rows.append((label, elapsed, ok, changed, skipped))
    finally:
        subprocess.run([*ctl, "down"], cwd=ROOT, env=env, check=False, capture_output=True)
    return rows


def main() -> int:
    from localcloud import fidelity, timing

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_LOCALCLOUD_PORT", "5160")))
    parser.add_argument("--aws-scale", type=float, default=float(os.environ.get("BENCH_AWS_SCALE", "0.25")))
    parser.add_argument("--skip-aws-model", action="store_true", default=bool(os.environ.get("BENCH_SKIP_AWS_MODEL")))
    args = parser.parse_args()
    rows = run_steps(environment(args.port, "bench-cloud"), STEPS)
    if rows is None:
        return 1
    print(f"\nfidelity {'on' if fidelity.enabled() else 'off'}, time scale {timing.scale():g}")
    print(f"{'step':<14}{'wall s':>8}{'ok':>6}{'changed':>9}{'skipped':>9}")
    for label, elapsed, ok, changed, skipped in rows:
        print(f"{label:<14}{elapsed:>8.1f}{ok:>6}{changed:>9}{skipped:>9}")
    if not args.skip_aws_model:
        scale = str(args.aws_scale)
        # AWS's durations times the scale, without the floors that keep a race visible at 0.02.
        env = environment(
            args.port,
            "bench-aws-model",
            LOCALCLOUD_FIDELITY="aws",
            LOCALCLOUD_TIME_SCALE=scale,
            LOCALCLOUD_RACE_FLOORS="off",
        )
        steps = [("AWS model: first run", ["site.yml"]), ("AWS model: teardown", ["playbooks/teardown.yml"])]
        model = run_steps(env, steps)
        if model is None:
            return 1
        wall = model[0][1]
        modeled, chain = wall / args.aws_scale, fidelity.critical_path_seconds()
        print(f"\nreal-AWS model at time scale {args.aws_scale:g}: site.yml first run {wall:.1f} s here")
        print(f"  modeled on AWS     {modeled:8.0f} s  (wall / scale)")
        print(f"  longest AWS chain  {chain:8.0f} s  ({' + '.join(f'{s:g}' for _, s in fidelity.CRITICAL_PATH)})")
        print(f"  ratio              {modeled / chain:8.2f}")
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
