"""Settings: start-up is refused, naming the missing variable and printing no value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from resume_service.core.config import Settings
from tests.conftest import APP_DIR, subprocess_env

ENTRYPOINTS = ["resume_service.main", "resume_service.worker", "resume_service.migrate"]


@pytest.mark.parametrize("module", ENTRYPOINTS)
def test_refuses_to_start_without_db_password(module: str, app_env: dict[str, str]) -> None:
    env = subprocess_env(app_env, drop=("DB_PASSWORD",))
    proc = subprocess.run(
        [sys.executable, "-m", module],
        env=env,
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "DB_PASSWORD" in proc.stderr
    assert "missing required environment variable" in proc.stderr
    for name in ("DB_HOST", "DB_USER", "QUEUE_URL"):  # present: not reported
        assert name not in proc.stderr
    for value in (app_env["DB_USER"], app_env["QUEUE_URL"]):  # no value is printed
        assert value not in output
    assert "Traceback" not in output


def test_invalid_value_is_named_not_echoed(app_env: dict[str, str]) -> None:
    env = subprocess_env({**app_env, "DB_PORT": "fifty-four"}, drop=("QUEUE_URL",))
    proc = subprocess.run(
        [sys.executable, "-m", "resume_service.worker"],
        env=env,
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "QUEUE_URL" in proc.stderr and "DB_PORT" in proc.stderr
    assert "fifty-four" not in proc.stderr


def test_defaults_and_secret_handling(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "DB_HOST": "db.internal",
        "DB_NAME": "resumes",
        "DB_USER": "app",
        "DB_PASSWORD": "s3cr3t-value",
        "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("DB_PORT", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert s.DB_PORT == 5432
    assert s.DB_POOL_SIZE == 5 and s.DB_MAX_OVERFLOW == 5
    assert s.AWS_ENDPOINT_URL is None
    assert "s3cr3t-value" not in repr(s) and "s3cr3t-value" not in str(s.model_dump())
    from resume_service.core.db import database_url

    assert "s3cr3t-value" not in str(database_url(s))
