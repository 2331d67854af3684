#!/usr/bin/env python3
"""Benchmark the resume API against the local PostgreSQL (not a test).

Runs the API with uvicorn (N workers) on 127.0.0.1 against the cluster of
scripts/pg-local.sh, drives `GET /health` and `POST /api/resumes/{id}/views` with wrk
(Debian's `wrk`; an asyncio httpx generator when wrk is missing) for a bounded time, then
runs pgbench with the same UPDATE statement at the same concurrency on the same database
and prints req/s, p50, p99 and the ratio API increments/s : pgbench tps.

Everything runs on 127.0.0.1; every process started is stopped at the end.

    python bench/app_bench.py [--workers 2] [--concurrency 32] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
APP_DIR = REPO / "app"
PG_SCRIPT = REPO / "scripts" / "pg-local.sh"
BENCH_DB = "resume_bench"
INCREMENT_SQL = "UPDATE resumes SET views = views + 1 WHERE id = :id RETURNING views;"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_env() -> dict[str, str]:
    subprocess.run(["bash", str(PG_SCRIPT), "start"], check=True)
    out = subprocess.run(["bash", str(PG_SCRIPT), "env"], check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = shlex.split(value)[0]
    return env


def psql(env: dict[str, str], sql: str, db: str = "postgres") -> str:
    bindir = env.get("PG_LOCAL_BINDIR", "")
    exe = str(Path(bindir) / "psql") if bindir and (Path(bindir) / "psql").exists() else "psql"
    return subprocess.run(
        [exe, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def parse_wrk(out: str) -> dict[str, Any]:
    def to_ms(value: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s|m)", value)
        if not m:
            return float("nan")
        num, unit = float(m.group(1)), m.group(2)
        return num * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": to_ms(p50.group(1)) if p50 else float("nan"),
        "p99_ms": to_ms(p99.group(1)) if p99 else float("nan"),
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def run_wrk(url: str, method: str, concurrency: int, duration: int, threads: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(f'wrk.method = "{method}"\n')
        script = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=duration + 60,
        ).stdout
    finally:
        Path(script).unlink()
    return parse_wrk(out)


async def _httpx_load(url: str, method: str, concurrency: int, duration: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def loop() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                resp = await client.request(method, url)
                latencies.append((time.perf_counter() - t0) * 1000)
                if resp.status_code >= 400:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": q[49],
        "p99_ms": q[98],
        "requests": len(latencies),
        "non_2xx": failures,
        "socket_errors": "",
    }


def load(url: str, method: str, args: argparse.Namespace) -> dict[str, Any]:
    if args.tool == "wrk":
        return run_wrk(url, method, args.concurrency, args.duration, args.wrk_threads)
    return asyncio.run(_httpx_load(url, method, args.concurrency, args.duration))


def run_pgbench(env: dict[str, str], resume_id: int, args: argparse.Namespace) -> dict[str, Any]:
    bindir = env.get("PG_LOCAL_BINDIR", "")
    exe = str(Path(bindir) / "pgbench") if bindir else "pgbench"
    if not Path(exe).exists():
        exe = shutil.which("pgbench") or "pgbench"
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as fh:
        fh.write(f"\\set id {resume_id}\n{INCREMENT_SQL}\n")
        script = fh.name
    try:
        out = subprocess.run(
            [
                exe,
                "-n",
                "-c",
                str(args.concurrency),
                "-j",
                str(min(args.concurrency, os.cpu_count() or 2)),
                "-T",
                str(args.duration),
                "-f",
                script,
                "-d",
                BENCH_DB,
            ],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            text=True,
            timeout=args.duration + 60,
        ).stdout
    finally:
        Path(script).unlink()
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    txns = re.search(r"number of transactions actually processed: (\d+)", out)
    return {
        "tps": tps,
        "latency_avg_ms": float(lat.group(1)) if lat else float("nan"),
        "transactions": int(txns.group(1)) if txns else 0,
    }


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=1) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not up within {timeout}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--keep-db", action="store_true", help=f"keep database {BENCH_DB}")
    args = parser.parse_args()
    if args.tool == "auto":
        args.tool = "wrk" if shutil.which("wrk") else "httpx"
    args.duration = max(1, min(args.duration, 120))

    env = pg_env()
    password = Path(env["PG_LOCAL_PASSWORD_FILE"]).read_text().strip()
    psql(env, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    psql(env, f"CREATE DATABASE {BENCH_DB}")

    pool = max(2, -(-args.concurrency // args.workers))  # per-worker pool covers the load
    app_env = {
        **os.environ,
        "DB_HOST": env["PGHOST"],
        "DB_PORT": env["PGPORT"],
        "DB_NAME": BENCH_DB,
        "DB_USER": env["PGUSER"],
        "DB_PASSWORD": password,
        "DB_POOL_SIZE": str(pool),
        "DB_MAX_OVERFLOW": "0",
        # SQS is not touched by these endpoints; point it at a closed loopback port anyway.
        "QUEUE_URL": "http://127.0.0.1:9/000000000000/unused",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(APP_DIR),
    }
    subprocess.run(
        [sys.executable, "-m", "resume_service.migrate"],
        env=app_env,
        cwd=APP_DIR,
        check=True,
    )
    contact = json.dumps({"email": "bench@example.com"})
    sections = json.dumps({"experience": [], "education": [], "skills": []})
    resume_id = int(
        psql(
            env,
            f"INSERT INTO resumes (name, contact, sections) VALUES ('Bench', '{contact}', '{sections}') RETURNING id",
            BENCH_DB,
        ).splitlines()[0]
    )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "resume_service.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=app_env,
        cwd=APP_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results: dict[str, Any] = {
        "cores": os.cpu_count(),
        "workers": args.workers,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "tool": args.tool,
        "db_pool_per_worker": pool,
    }
    try:
        wait_http(f"{base}/health", 60, server)
        # Warm-up (connections, pools), not measured.
        load(
            f"{base}/api/resumes/{resume_id}/views",
            "POST",
            argparse.Namespace(**{**vars(args), "duration": 1}),
        )
        before = int(psql(env, f"SELECT views FROM resumes WHERE id = {resume_id}", BENCH_DB))
        results["health"] = load(f"{base}/health", "GET", args)
        results["increment"] = load(f"{base}/api/resumes/{resume_id}/views", "POST", args)
        after = int(psql(env, f"SELECT views FROM resumes WHERE id = {resume_id}", BENCH_DB))
        results["increment"]["views_added"] = after - before
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    results["pgbench"] = run_pgbench(env, resume_id, args)
    if not args.keep_db:
        psql(env, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

    inc, hl, pgb = results["increment"], results["health"], results["pgbench"]
    results["ratio_api_increment_to_pgbench"] = inc["rps"] / pgb["tps"] if pgb["tps"] else None
    print(
        f"\nmachine: {results['cores']} cores | uvicorn workers: {args.workers} | "
        f"concurrency: {args.concurrency} | {args.duration}s per measurement | load: {args.tool}"
    )
    print(f"{'measurement':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}")
    print(f"{'GET /health':<34}{hl['rps']:>10.0f}{hl['p50_ms']:>10.2f}{hl['p99_ms']:>10.2f}{hl['requests']:>10}")
    print(
        f"{'POST /api/resumes/{id}/views':<34}{inc['rps']:>10.0f}{inc['p50_ms']:>10.2f}"
        f"{inc['p99_ms']:>10.2f}{inc['requests']:>10}"
    )
    print(
        f"{'pgbench (same UPDATE)':<34}{pgb['tps']:>10.0f}{pgb['latency_avg_ms']:>10.2f}"
        f"{'(avg)':>10}{pgb['transactions']:>10}"
    )
    print(f"\nratio API increments/s : pgbench tps = {results['ratio_api_increment_to_pgbench']:.3f}")
    print(
        f"views added during the increment run: {inc['views_added']} "
        f"(requests {inc['requests']}, non-2xx {inc['non_2xx']})"
    )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
