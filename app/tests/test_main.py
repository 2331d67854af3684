"""The API's server settings that the load balancer in front of it depends on."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from resume_service import main

ALB_IDLE_TIMEOUT = 60  # idle_timeout.timeout_seconds: the role leaves AWS's default


def test_idle_connections_outlive_the_load_balancers(
    monkeypatch: pytest.MonkeyPatch, app_env: dict[str, str]
) -> None:
    """The ALB reuses its connections to a target for up to its idle timeout: closing one earlier
    makes the ALB answer 502 to the request it was about to send on it."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *_args, **kwargs: seen.update(kwargs))
    main.main()
    assert seen["timeout_keep_alive"] > ALB_IDLE_TIMEOUT
    assert seen["proxy_headers"] is True  # the client's address comes from X-Forwarded-For
