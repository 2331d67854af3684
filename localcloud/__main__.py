"""``python -m localcloud {start|stop|status|check|endpoint|image|sync|hosts|down}``.

Control plane: start, stop, status, check, endpoint (the moto server).
Data plane (``localcloud.dataplane``): image (build the base image unless cached),
sync (reconcile test hosts and databases with the emulator), hosts (list the test hosts),
down (remove this emulator's test hosts, networks and DB forwarders).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from localcloud.emulator import Emulator, LocalCloudError

ROOT = Path(__file__).resolve().parent.parent
CONTROL = ["start", "stop", "status", "check", "endpoint"]
DATA = ["image", "sync", "hosts", "down"]


def _dataplane_verb(action: str, emulator: Emulator, args: argparse.Namespace) -> None:
    from localcloud import dataplane

    if action == "image":
        tag, built = dataplane.ensure_image()
        print(f"{'changed: built' if built else 'ok: cached'} base image {tag}")
        return
    plane = dataplane.DataPlane(
        endpoint=(args.endpoint or emulator.endpoint).rstrip("/"),
        region=args.region,
        project=args.project,
        state_dir=Path(os.environ.get("LOCALCLOUD_DATAPLANE_DIR", ROOT / ".state" / "dataplane")),
    )
    if action == "hosts":
        print(json.dumps(plane.hosts(), indent=2))
        return
    if action == "sync":
        Emulator(state_dir=emulator.state_dir, port=plane.emulator_port).check()
        changes = plane.sync()
    else:
        changes = plane.down()
    print(f"localcloud {action}: {len(changes)} change(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="localcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=CONTROL + DATA)
    parser.add_argument("--endpoint", default="", help="emulator URL (default: from LOCALCLOUD_PORT)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "eu-west-1"))
    parser.add_argument("--project", default=os.environ.get("LOCALCLOUD_PROJECT", "resume"))
    args = parser.parse_args(argv)
    try:
        emulator = Emulator.from_env(ROOT)
        if args.action in DATA:
            _dataplane_verb(args.action, emulator, args)
        elif args.action == "start":
            print(emulator.start())
        elif args.action == "stop":
            print(emulator.stop())
        elif args.action == "check":
            print(emulator.check())
        elif args.action == "endpoint":
            print(emulator.endpoint)
        else:
            pid = emulator.pid()
            state = f"running (pid {pid})" if pid else "not running"
            print(f"local cloud {state}; endpoint {emulator.endpoint}; healthy={emulator.healthy()}")
    except LocalCloudError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
