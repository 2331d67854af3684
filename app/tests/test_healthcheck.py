"""The container HEALTHCHECK helper."""

from __future__ import annotations

from resume_service.healthcheck import check_http
from tests.conftest import LiveServer, free_port


def test_check_http(server: LiveServer) -> None:
    assert check_http(f"{server.url}/health")
    assert not check_http(f"http://127.0.0.1:{free_port()}/health", timeout=0.5)
