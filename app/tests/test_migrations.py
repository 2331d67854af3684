"""Alembic: the schema is at head and re-running the migration command is a no-op."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import APP_DIR, Postgres, subprocess_env


def run(app_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resume_service.migrate", *args],
        env=subprocess_env(app_env),
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_schema_at_head_and_rerun_is_noop(app_env: dict[str, str], pg: Postgres) -> None:
    assert pg.fetch("SELECT version_num FROM alembic_version")[0]["version_num"] == "0001"
    proc = run(app_env)  # upgrade head again
    assert proc.returncode == 0, proc.stderr
    assert app_env["DB_PASSWORD"] not in proc.stdout + proc.stderr
    tables = {r["tablename"] for r in pg.fetch("SELECT tablename FROM pg_tables")}
    assert {"resumes", "export_jobs", "alembic_version"} <= tables
