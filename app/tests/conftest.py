"""Session fixtures: a real PostgreSQL (scripts/pg-local.sh), a fresh database with the
migrations applied, an in-process moto SQS server with a queue + DLQ (redrive
maxReceiveCount 3, visibility 1 s), the API served by uvicorn on 127.0.0.1 and a worker
subprocess."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

APP_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = APP_DIR.parent
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

import asyncpg  # noqa: E402
import boto3  # noqa: E402
import httpx  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log

PG_SCRIPT = REPO_ROOT / "scripts" / "pg-local.sh"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@dataclass
class Postgres:
    host: str
    port: int
    superuser: str
    superuser_password: str
    database: str
    user: str
    password: str

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database,
        )

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await self._connect()
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return asyncio.run(run())

    def execute(self, sql: str, *args: Any) -> str:
        async def run() -> str:
            conn = await self._connect()
            try:
                return str(await conn.execute(sql, *args))
            finally:
                await conn.close()

        return asyncio.run(run())


@pytest.fixture(scope="session")
def pg() -> Iterator[Postgres]:
    # Leave the cluster as found: stop it at the end only if this session started it.
    was_running = (
        subprocess.run(["bash", str(PG_SCRIPT), "status"], capture_output=True).returncode == 0
    )
    subprocess.run(["bash", str(PG_SCRIPT), "start"], check=True, timeout=600)
    out = subprocess.run(
        ["bash", str(PG_SCRIPT), "env"], check=True, capture_output=True, text=True
    ).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    su_password = Path(env["PG_LOCAL_PASSWORD_FILE"]).read_text().strip()
    suffix = secrets.token_hex(4)
    db_name, user = f"resume_test_{suffix}", f"resume_app_{suffix}"
    password = "pw-" + secrets.token_urlsafe(18)

    async def admin(*statements: str) -> None:
        conn = await asyncpg.connect(
            host=env["PGHOST"],
            port=int(env["PGPORT"]),
            user=env["PGUSER"],
            password=su_password,
            database="postgres",
        )
        try:
            for stmt in statements:
                await conn.execute(stmt)
        finally:
            await conn.close()

    asyncio.run(
        admin(
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE {db_name} OWNER {user}",
        )
    )
    yield Postgres(
        env["PGHOST"], int(env["PGPORT"]), env["PGUSER"], su_password, db_name, user, password
    )
    asyncio.run(admin(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)", f"DROP ROLE {user}"))
    if not was_running:
        subprocess.run(["bash", str(PG_SCRIPT), "stop"], check=False, timeout=120)


@dataclass
class Sqs:
    endpoint: str
    client: Any
    queues: dict[str, tuple[str, str]] = field(default_factory=dict)

    def make_queue_pair(
        self, name: str, visibility: int = 1, max_receive: int = 3
    ) -> tuple[str, str]:
        dlq_url = self.client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = self.client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        url = self.client.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(visibility),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
                ),
            },
        )["QueueUrl"]
        self.queues[name] = (url, dlq_url)
        return url, dlq_url

    def count(self, url: str) -> int:
        attrs = self.client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture(scope="session")
def sqs() -> Iterator[Sqs]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield Sqs(endpoint, client)
    server.stop()


@pytest.fixture(scope="session")
def app_env(pg: Postgres, sqs: Sqs) -> Iterator[dict[str, str]]:
    """The environment an ECS task definition would pass; also exported to os.environ."""
    queue_url, _ = sqs.make_queue_pair("resume-exports")
    env = {
        "DB_HOST": pg.host,
        "DB_PORT": str(pg.port),
        "DB_NAME": pg.database,
        "DB_USER": pg.user,
        "DB_PASSWORD": pg.password,
        "DB_POOL_SIZE": "20",
        "DB_MAX_OVERFLOW": "10",
        "QUEUE_URL": queue_url,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": sqs.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "WORKER_WAIT_SECONDS": "1",
        "LOG_LEVEL": "INFO",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "resume_service.migrate"],
        env=subprocess_env(env),
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def subprocess_env(env: dict[str, str], drop: tuple[str, ...] = ()) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in env}
    merged = {**base, **env, "PYTHONPATH": str(APP_DIR), "PYTHONUNBUFFERED": "1"}
    for name in drop:
        merged.pop(name, None)
    return merged


@dataclass
class LiveServer:
    url: str
    app: Any


@pytest.fixture(scope="session")
def server(app_env: dict[str, str]) -> Iterator[LiveServer]:
    """The API served by a real uvicorn on 127.0.0.1 (own thread and event loop)."""
    import uvicorn

    from resume_service.core.config import Settings
    from resume_service.main import create_app

    app = create_app(Settings(), configure_logs=False)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for(lambda: srv.started, timeout=20)
    yield LiveServer(f"http://127.0.0.1:{port}", app)
    srv.should_exit = True
    thread.join(timeout=15)


@pytest.fixture()
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=15) as c:
        yield c


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[str]
    log_path: Path

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text().splitlines():
            raw = raw.strip()
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return lines

    def terminate(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@pytest.fixture(scope="session")
def start_worker(
    app_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(**overrides: str) -> WorkerProcess:
        log_path = tmp_path_factory.mktemp("worker") / "worker.log"
        fh = log_path.open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "resume_service.worker"],
            env=subprocess_env({**app_env, **overrides}),
            cwd=APP_DIR,
            stdout=fh,
            stderr=subprocess.STDOUT,
            text=True,
        )
        fh.close()
        wp = WorkerProcess(proc, log_path)
        started.append(wp)
        wait_for(
            lambda: (
                any(line.get("msg") == "worker started" for line in wp.log_lines())
                or proc.poll() is not None
            ),
            timeout=30,
        )
        assert proc.poll() is None, log_path.read_text()
        return wp

    yield start
    for wp in started:
        if wp.proc.poll() is None:
            wp.proc.send_signal(signal.SIGTERM)
            try:
                wp.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                wp.proc.kill()
                wp.proc.wait()


@pytest.fixture(scope="session")
def worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    """One worker on the main queue for the whole session."""
    return start_worker()


def sample_resume(name: str = "Ada Lovelace", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "headline": "Analyst & first programmer",
        "contact": {
            "email": "ada@example.com",
            "phone": "+44 20 7946 0000",
            "location": "London",
            "website": "https://example.com/ada",
        },
        "summary": "Wrote the first published algorithm for a machine.",
        "sections": {
            "experience": [
                {
                    "company": "Analytical Engine Ltd",
                    "title": "Programmer",
                    "start_date": "1842-01-01",
                    "end_date": "1843-12-31",
                    "description": "Notes on the Analytical Engine, incl. <Note G>.",
                }
            ],
            "education": [{"institution": "Home tutoring", "degree": "Mathematics"}],
            "skills": ["mathematics", "algorithms"],
        },
    }
    body.update(overrides)
    return body
