"""Liveness (no dependency) and readiness (database + queue)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from resume_service.core import db, queue
from resume_service.schemas import HealthOut

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health", response_model=HealthOut)
async def health() -> HealthOut:
    """Liveness: the process answers. Checks no dependency (used by the ALB)."""
    return HealthOut(status="ok")


@router.get(
    "/health/ready",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "a dependency is failing"}},
)
async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers `SELECT 1` and the queue's attributes are readable."""
    state = request.app.state
    timeout = state.settings.READINESS_TIMEOUT

    async def check_db() -> None:
        await asyncio.wait_for(db.ping(state.engine), timeout)

    async def check_queue() -> None:
        await asyncio.wait_for(
            asyncio.to_thread(queue.check_queue, state.sqs, state.settings.QUEUE_URL), timeout
        )

    names = ("database", "queue")
    results = await asyncio.gather(check_db(), check_queue(), return_exceptions=True)
    failing = []
    for name, res in zip(names, results, strict=True):
        if isinstance(res, BaseException):
            failing.append(name)
            log.warning(
                "readiness check failed", extra={"check": name, "error": type(res).__name__}
            )
    if failing:
        body = HealthOut(status="unavailable", failing=failing)
        return JSONResponse(status_code=503, content=body.model_dump())
    return JSONResponse(status_code=200, content=HealthOut(status="ok").model_dump())
