"""FastAPI application and the API process entry point (`python -m resume_service.main`)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resume_service import __version__
from resume_service.api.main import api_router
from resume_service.core import db, queue
from resume_service.core.config import Settings, get_settings, load_settings_or_exit
from resume_service.core.logging import configure_logging, request_id_var
from resume_service.schemas import MAX_BODY_BYTES

log = logging.getLogger("resume_service.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


DISCARD_BYTES = 64 * 1024 * 1024


class BodyLimitMiddleware:
    """413 with a JSON error for a request body over ``max_bytes`` (``MAX_BODY_BYTES``), before the
    route reads it: the load balancer's web ACL lets large bodies through only to the resume write
    paths, and the API bounds them here (chunked bodies are counted as they arrive)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None:
            if length.isdigit() and int(length) > self.max_bytes:
                await self.refuse(receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read the body up to the limit, then replay it.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self.refuse(receive, send, more=message.get("more_body", False))
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def refuse(self, receive: Receive, send: Send, *, more: bool = True) -> None:
        """Answer 413 once the body is read (up to ``DISCARD_BYTES``): a server that closes a
        connection with unread data resets it, and the load balancer would lose the answer."""
        discarded = 0
        while more and discarded < DISCARD_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            discarded += len(message.get("body", b""))
            more = message.get("more_body", False)
        body = json.dumps(
            {"detail": f"request body too large: at most {self.max_bytes} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """X-Request-ID in/out (generated when absent or malformed) and one JSON access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            raise
        finally:
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = settings or get_settings()
        if configure_logs:
            configure_logging(cfg.LOG_LEVEL, secrets=cfg.secret_values())
        app.state.settings = cfg
        app.state.engine = db.create_engine(cfg)
        app.state.sessionmaker = db.create_sessionmaker(app.state.engine)
        app.state.sqs = queue.create_sqs_client(cfg)
        logging.getLogger(__name__).info(
            "api started",
            extra={"db_host": cfg.DB_HOST, "db_name": cfg.DB_NAME, "pool": cfg.DB_POOL_SIZE},
        )
        try:
            yield
        finally:
            await app.state.engine.dispose()
            app.state.sqs.close()

    app = FastAPI(
        title="Resume service",
        version=__version__,
        description="Resumes, view counters and asynchronous exports (HTML/Markdown).",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(api_router)
    return app


# For `uvicorn resume_service.main:app`; settings are read at start-up (lifespan).
app = create_app()


# Above the load balancer's idle timeout (60 s unless idle_timeout.timeout_seconds says otherwise).
KEEP_ALIVE_SECONDS = 65


def main() -> None:
    """Validate settings first (clear error, non-zero exit), then serve with uvicorn."""
    import uvicorn

    settings = load_settings_or_exit()
    configure_logging(settings.LOG_LEVEL, secrets=settings.secret_values())
    uvicorn.run(
        "resume_service.main:app",
        host=settings.API_HOST,
        port=settings.API_PORT,
        workers=settings.API_WORKERS,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="*",
        timeout_graceful_shutdown=20,
        # The load balancer keeps its connections to a target open for its idle timeout (60 s by
        # default) and reuses them: a target that closes an idle one first makes it answer 502
        # (ELB User Guide, "Connection idle timeout"). uvicorn's default is 5 s.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


if __name__ == "__main__":
    main()
