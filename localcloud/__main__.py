"""``python -m localcloud {start|stop|status|check|endpoint|image|hosts|push|down}``.

Control: start, stop, status, check, endpoint (the local cloud's server: the moto emulator and the
controller that follows it, ``localcloud.server``). The controller makes instances, databases,
ECS tasks and load balancers real by itself; nothing here needs to be run for that.
Data plane (``localcloud.dataplane``): image (build the test hosts' base image unless cached),
hosts (list the test hosts), push (record a locally built image in the emulator's ECR: there is no
registry here), down (stop the server, then remove this local cloud's test hosts, tasks,
listeners, networks and DB forwarders: whatever a run left).
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
DATA = ["image", "hosts", "push", "down"]


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
    elif action == "push":
        from localcloud.ecs import push

        print(push(plane, args.repository, args.image, args.tag))
    else:
        # While the server runs, its controller would bring back what the emulator still holds.
        print(emulator.stop())
        changes = plane.down()
        print(f"localcloud {action}: {len(changes)} change(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="localcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=CONTROL + DATA)
    parser.add_argument("--endpoint", default="", help="local cloud URL (default: from LOCALCLOUD_PORT)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "eu-west-1"))
    parser.add_argument("--project", default=os.environ.get("LOCALCLOUD_PROJECT", "resume"))
    parser.add_argument("--repository", default="", help="ECR repository name (push)")
    parser.add_argument("--image", default="", help="local image to push (push)")
    parser.add_argument("--tag", default="", help="image tag (push)")
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
