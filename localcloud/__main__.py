"""``python -m localcloud {start|stop|status|check|endpoint}``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localcloud.emulator import Emulator, LocalCloudError

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcloud", description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "status", "check", "endpoint"])
    args = parser.parse_args(argv)
    try:
        emulator = Emulator.from_env(ROOT)
        if args.action == "start":
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
