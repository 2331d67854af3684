"""JSON logs carry the request id (X-Request-ID in/out) and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from resume_service.core.config import Settings
from resume_service.core.logging import JsonFormatter
from resume_service.main import create_app
from tests.conftest import WorkerProcess, sample_resume


@pytest.fixture()
def captured(app_env: dict[str, str]) -> Iterator[io.StringIO]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter(secrets=[app_env["DB_PASSWORD"]]))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buf
    root.removeHandler(handler)
    root.setLevel(old_level)


def lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in buf.getvalue().splitlines() if raw.strip()]


def test_request_id_in_and_out(captured: io.StringIO, app_env: dict[str, str]) -> None:
    with TestClient(create_app(Settings(), configure_logs=False)) as tc:
        resp = tc.get("/health", headers={"X-Request-ID": "req-123.abc"})
        assert resp.headers["x-request-id"] == "req-123.abc"
        generated = tc.post("/api/resumes", json=sample_resume()).headers["x-request-id"]
        assert len(generated) == 32
        bad = tc.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
        assert bad.headers["x-request-id"] != "bad id\nwith newline"
    records = lines(captured)
    access = [r for r in records if r["msg"] == "request"]
    assert any(r["request_id"] == "req-123.abc" and r["path"] == "/health" for r in access)
    created = [r for r in records if r["msg"] == "resume created"]
    assert created and created[0]["request_id"] == generated
    assert all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)


def test_secrets_never_logged(captured: io.StringIO, app_env: dict[str, str]) -> None:
    password = app_env["DB_PASSWORD"]
    with TestClient(create_app(Settings(), configure_logs=False)) as tc:
        tc.get("/health/ready")
    # Even a careless log call is scrubbed.
    logging.getLogger("resume_service.test").warning("connecting with %s", password)
    text = captured.getvalue()
    assert password not in text
    assert "***" in text


def test_worker_logs_are_json_without_secrets(
    worker: WorkerProcess, app_env: dict[str, str]
) -> None:
    text = worker.log_path.read_text()
    assert app_env["DB_PASSWORD"] not in text
    assert worker.log_lines(), "worker wrote JSON lines"
    for raw in text.splitlines():
        if raw.strip():
            json.loads(raw)
