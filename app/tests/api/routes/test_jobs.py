"""Export jobs: API -> SQS -> worker -> done, and idempotent redelivery."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from tests.conftest import Sqs, WorkerProcess, sample_resume, wait_for


def wait_job(client: httpx.Client, job_id: str, states: set[str], timeout: float = 30) -> Any:
    def check() -> Any:
        job = client.get(f"/api/jobs/{job_id}").json()
        return job if job["status"] in states else None

    return wait_for(check, timeout=timeout, interval=0.2)


def test_export_done_path(client: httpx.Client, worker: WorkerProcess) -> None:
    rid = client.post("/api/resumes", json=sample_resume(name="Katherine Johnson")).json()["id"]
    jobs = {}
    for fmt in ("html", "markdown"):
        resp = client.post(f"/api/resumes/{rid}/exports", json={"format": fmt})
        assert resp.status_code == 202, resp.text
        body = resp.json()
        assert body["status"] == "queued" and body["format"] == fmt
        assert resp.headers["location"] == f"/api/jobs/{body['job_id']}"
        jobs[fmt] = body["job_id"]
    # Right after submission the job is visible with one of the non-terminal states or done.
    assert client.get(f"/api/jobs/{jobs['html']}").json()["status"] in {
        "queued",
        "running",
        "done",
    }

    html_job = wait_job(client, jobs["html"], {"done", "failed"})
    md_job = wait_job(client, jobs["markdown"], {"done", "failed"})
    assert html_job["status"] == "done", html_job
    assert md_job["status"] == "done", md_job
    assert "Katherine Johnson" in html_job["result"]
    assert html_job["result"].startswith("<!DOCTYPE html>")
    assert "&lt;Note G&gt;" in html_job["result"]  # escaped user content
    assert md_job["result"].startswith("# Katherine Johnson")
    assert html_job["attempts"] == 1 and html_job["error"] is None
    assert html_job["finished_at"] is not None


def test_unknown_job_404(client: httpx.Client) -> None:
    assert client.get(f"/api/jobs/{uuid.uuid4()}").status_code == 404
    assert client.get("/api/jobs/not-a-uuid").status_code == 422


def test_redelivery_of_done_job_is_not_rerendered(
    client: httpx.Client, worker: WorkerProcess, sqs: Sqs, app_env: dict[str, str]
) -> None:
    rid = client.post("/api/resumes", json=sample_resume(name="Redelivered")).json()["id"]
    job_id = client.post(f"/api/resumes/{rid}/exports", json={"format": "html"}).json()["job_id"]
    done = wait_job(client, job_id, {"done", "failed"})
    assert done["status"] == "done"
    # Change the resume: a re-render would change the stored result.
    client.put(f"/api/resumes/{rid}", json=sample_resume(name="Changed Name"))
    # Redeliver: SQS is at-least-once, a duplicate of the message arrives.
    body = json.dumps({"job_id": job_id, "resume_id": rid, "format": "html"})
    sqs.client.send_message(QueueUrl=app_env["QUEUE_URL"], MessageBody=body)
    wait_for(
        lambda: any(
            line.get("msg") == "job not pending; message dropped without rendering"
            and line.get("job_id") == job_id
            for line in worker.log_lines()
        ),
        timeout=20,
    )
    time.sleep(0.2)
    again = client.get(f"/api/jobs/{job_id}").json()
    assert again["status"] == "done"
    assert again["result"] == done["result"]
    assert "Redelivered" in again["result"]
    assert again["updated_at"] == done["updated_at"]
