"""Run Alembic migrations.

    python -m resume_service.migrate [upgrade [REV] | downgrade REV | current]

Run it (e.g. as a one-off ECS task or a container command override) before the API starts.
It waits for the database to accept connections (MIGRATE_WAIT_SECONDS, default 60).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from pathlib import Path

from alembic import command
from alembic.config import Config

from resume_service.core import db
from resume_service.core.config import Settings, load_settings_or_exit
from resume_service.core.logging import configure_logging

APP_DIR = Path(__file__).resolve().parent.parent
log = logging.getLogger("resume_service.migrate")


def alembic_config() -> Config:
    cfg = Config(str(APP_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(APP_DIR / "alembic"))
    return cfg


def wait_for_database(settings: Settings, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    attempt = 0
    while True:
        attempt += 1
        try:

            async def _ping() -> None:
                engine = db.create_engine(settings, pool_size=1)
                try:
                    await db.ping(engine)
                finally:
                    await engine.dispose()

            asyncio.run(_ping())
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                log.error("database not reachable", extra={"error": type(exc).__name__})
                raise SystemExit(1) from None
            log.info(
                "waiting for database", extra={"attempt": attempt, "error": type(exc).__name__}
            )
            time.sleep(min(2.0, 0.25 * attempt))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m resume_service.migrate")
    parser.add_argument(
        "action", nargs="?", default="upgrade", choices=["upgrade", "downgrade", "current"]
    )
    parser.add_argument("revision", nargs="?", default=None)
    args = parser.parse_args(argv)

    settings = load_settings_or_exit()
    configure_logging(settings.LOG_LEVEL, secrets=settings.secret_values())
    wait_for_database(settings, float(os.environ.get("MIGRATE_WAIT_SECONDS", "60")))
    cfg = alembic_config()
    if args.action == "upgrade":
        command.upgrade(cfg, args.revision or "head")
    elif args.action == "downgrade":
        if not args.revision:
            parser.error("downgrade needs a revision (e.g. base or -1)")
        command.downgrade(cfg, args.revision)
    else:
        command.current(cfg)
    log.info(
        "migrations complete", extra={"action": args.action, "revision": args.revision or "head"}
    )


if __name__ == "__main__":
    main()
