"""Worker semantics: retries, DLQ after maxReceiveCount, failed status, accounting, SIGTERM."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Postgres, Sqs, WorkerProcess, sample_resume, wait_for


def insert_job(pg: Postgres, resume_id: int, fmt: str) -> str:
    """A job row as the API would write it, but with any format (the API refuses bad ones)."""
    job_id = str(uuid.uuid4())
    pg.execute(
        "INSERT INTO export_jobs (id, resume_id, format, status) VALUES ($1, $2, $3, 'queued')",
        uuid.UUID(job_id),
        resume_id,
        fmt,
    )
    return job_id


def send(sqs: Sqs, queue_url: str, job_id: str, resume_id: int, fmt: str) -> None:
    body = json.dumps({"job_id": job_id, "resume_id": resume_id, "format": fmt})
    sqs.client.send_message(QueueUrl=queue_url, MessageBody=body)


def dlq_bodies(sqs: Sqs, dlq_url: str) -> list[dict[str, Any]]:
    resp = sqs.client.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
    )
    out = []
    for m in resp.get("Messages", []):
        try:
            out.append(json.loads(m["Body"]))
        except ValueError:
            out.append({"raw": m["Body"]})
    return out


def job_row(pg: Postgres, job_id: str) -> Any:
    return pg.fetch("SELECT * FROM export_jobs WHERE id = $1", uuid.UUID(job_id))[0]


def test_poison_job_reaches_dlq_and_reads_failed_and_jobs_add_up(
    client: httpx.Client,
    worker: WorkerProcess,
    pg: Postgres,
    sqs: Sqs,
    app_env: dict[str, str],
) -> None:
    queue_url, dlq_url = sqs.queues["resume-exports"]
    rid = client.post("/api/resumes", json=sample_resume(name="Accounting")).json()["id"]

    good = [
        client.post(f"/api/resumes/{rid}/exports", json={"format": fmt}).json()["job_id"]
        for fmt in ("html", "markdown") * 3
    ]
    poison = [insert_job(pg, rid, "pdf"), insert_job(pg, rid, "docx")]
    for job_id in poison:
        send(sqs, queue_url, job_id, rid, "html")  # the DB row's format is authoritative
    # A message that is not even JSON also ends up in the DLQ (and marks nothing).
    sqs.client.send_message(QueueUrl=queue_url, MessageBody="not json")

    all_jobs = good + poison

    def terminal() -> bool:
        rows = pg.fetch(
            "SELECT status FROM export_jobs WHERE id = ANY($1::uuid[])",
            [uuid.UUID(j) for j in all_jobs],
        )
        return all(r["status"] in ("done", "failed") for r in rows)

    wait_for(terminal, timeout=60, interval=0.25)

    # The poison messages (and the malformed one) are moved to the DLQ by SQS's redrive.
    collected: list[dict[str, Any]] = []

    def in_dlq() -> bool:
        collected.extend(dlq_bodies(sqs, dlq_url))
        ids = {b.get("job_id") for b in collected}
        return set(poison) <= ids and any(b.get("raw") == "not json" for b in collected)

    wait_for(in_dlq, timeout=30, interval=0.5)

    for job_id in poison:
        row = job_row(pg, job_id)
        assert row["status"] == "failed"
        assert row["attempts"] == 3
        assert "UnsupportedFormatError" in row["error"]
        api = client.get(f"/api/jobs/{job_id}").json()
        assert api["status"] == "failed" and api["result"] is None

    statuses = {j: job_row(pg, j)["status"] for j in all_jobs}
    done = [j for j, s in statuses.items() if s == "done"]
    failed = [j for j, s in statuses.items() if s == "failed"]
    assert len(all_jobs) == len(done) + len(failed)
    assert sorted(done) == sorted(good)
    assert sorted(failed) == sorted(poison)
    # Nothing of ours is left on the main queue.
    wait_for(lambda: sqs.count(queue_url) == 0, timeout=15)

    # Retries were real: three failed attempts logged per poison job, none deleted.
    for job_id in poison:
        attempts = [
            line
            for line in worker.log_lines()
            if line.get("job_id") == job_id and line.get("msg", "").startswith("job attempt failed")
        ]
        assert [a["receive_count"] for a in attempts] == [1, 2, 3]
        assert [a["final"] for a in attempts] == [False, False, True]


def test_sigterm_finishes_current_message(
    client: httpx.Client,
    pg: Postgres,
    sqs: Sqs,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    # A dedicated queue (visibility 30 s) and a slow worker (2 s per message).
    queue_url, _ = sqs.make_queue_pair("sigterm-exports", visibility=30)
    rid = client.post("/api/resumes", json=sample_resume(name="Graceful")).json()["id"]
    first = insert_job(pg, rid, "html")
    second = insert_job(pg, rid, "markdown")
    send(sqs, queue_url, first, rid, "html")

    wp = start_worker(QUEUE_URL=queue_url, WORKER_PROCESSING_DELAY="2")
    wait_for(lambda: job_row(pg, first)["status"] == "running", timeout=20, interval=0.05)
    send(sqs, queue_url, second, rid, "markdown")  # arrives while the first is in progress
    rc = wp.terminate(timeout=30)

    assert rc == 0, wp.log_path.read_text()
    row = job_row(pg, first)
    assert row["status"] == "done", row
    assert "Graceful" in row["result"]
    # The second message was never started and is still on the queue for another worker.
    assert job_row(pg, second)["status"] == "queued"
    assert sqs.count(queue_url) == 1
    msgs = [line.get("msg") for line in wp.log_lines()]
    assert "stop requested; finishing the current message" in msgs
    assert msgs.index("stop requested; finishing the current message") < msgs.index("job done")
    assert msgs[-1] == "worker stopped"
