"""Liveness and readiness (503 naming the failing dependency)."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from resume_service.core.config import Settings
from resume_service.main import create_app
from tests.conftest import Sqs, free_port


def test_health_and_ready_ok(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok", "failing": []}
    resp = client.get("/health/ready")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "ok"


def test_ready_503_names_database_when_unreachable(app_env: dict[str, str]) -> None:
    settings = Settings(DB_PORT=free_port(), READINESS_TIMEOUT=3)
    with TestClient(create_app(settings, configure_logs=False)) as tc:
        assert tc.get("/health").status_code == 200  # liveness has no dependency
        resp = tc.get("/health/ready")
    assert resp.status_code == 503
    assert resp.json() == {"status": "unavailable", "failing": ["database"]}


def test_ready_503_names_queue_when_missing(app_env: dict[str, str], sqs: Sqs) -> None:
    settings = Settings(QUEUE_URL=f"{sqs.endpoint}/123456789012/no-such-queue")
    with TestClient(create_app(settings, configure_logs=False)) as tc:
        resp = tc.get("/health/ready")
    assert resp.status_code == 503
    assert resp.json() == {"status": "unavailable", "failing": ["queue"]}


def test_ready_503_names_both(app_env: dict[str, str], sqs: Sqs) -> None:
    settings = Settings(DB_PORT=free_port(), QUEUE_URL=f"{sqs.endpoint}/123456789012/no-such-queue")
    with TestClient(create_app(settings, configure_logs=False)) as tc:
        resp = tc.get("/health/ready")
    assert resp.status_code == 503
    assert resp.json()["failing"] == ["database", "queue"]
