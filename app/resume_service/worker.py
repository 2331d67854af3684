"""Export worker: `python -m resume_service.worker`.

Long-polls the SQS queue, renders the resume, stores the result and marks the job done.

Retry / DLQ semantics (the queue's redrive policy is set by infrastructure, maxReceiveCount 3):
* success: job -> done, message deleted.
* failure: the message is NOT deleted; it becomes visible again after the visibility timeout.
  The job's `attempts` is set to the message's ApproximateReceiveCount and `error` to the
  reason; the job goes back to `queued` while attempts remain.
* final attempt (ApproximateReceiveCount >= maxReceiveCount, read from the queue's
  RedrivePolicy at start-up): the job is marked `failed`; the message is still left alone so
  SQS moves it to the dead-letter queue on its next receive.
* idempotent: a message for a job that is already done/failed (or unknown) is deleted
  without re-rendering; jobs are claimed with a conditional UPDATE.
* SIGTERM/SIGINT: the message being processed is finished (and deleted on success), any
  further messages of the same batch are released (visibility 0) and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resume_service.core import db, queue
from resume_service.core.config import Settings, load_settings_or_exit
from resume_service.core.logging import configure_logging
from resume_service.models import Resume
from resume_service.render import render
from resume_service.schemas import ResumeOut

log = logging.getLogger("resume_service.worker")

CLAIM = text(
    "UPDATE export_jobs SET status = 'running', attempts = :attempts, updated_at = now() "
    "WHERE id = :id AND status IN ('queued', 'running') RETURNING resume_id, format"
)
MARK_DONE = text(
    "UPDATE export_jobs SET status = 'done', result = :result, error = NULL, "
    "updated_at = now(), finished_at = now() WHERE id = :id AND status = 'running'"
)
MARK_FAILED_ATTEMPT = text(
    "UPDATE export_jobs SET status = CAST(:status AS varchar), error = :error, "
    "updated_at = now(), finished_at = CASE WHEN CAST(:final AS boolean) THEN now() END "
    "WHERE id = :id AND status IN ('queued', 'running')"
)
JOB_STATUS = text("SELECT status FROM export_jobs WHERE id = :id")


class Worker:
    def __init__(self, settings: Settings, sqs: Any | None = None) -> None:
        self.settings = settings
        self.sqs = sqs or queue.create_sqs_client(settings)
        self.engine = db.create_engine(settings, pool_size=2)
        self.sessionmaker: async_sessionmaker[AsyncSession] = db.create_sessionmaker(self.engine)
        self.stop_requested = asyncio.Event()
        self.max_receives = settings.WORKER_MAX_RECEIVES
        self.processed = 0

    def request_stop(self, signame: str = "SIGTERM") -> None:
        if not self.stop_requested.is_set():
            log.info("stop requested; finishing the current message", extra={"signal": signame})
        self.stop_requested.set()

    async def _sqs(self, method: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.sqs, method), **kwargs)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        try:
            self.max_receives = await asyncio.to_thread(
                queue.max_receive_count,
                self.sqs,
                self.settings.QUEUE_URL,
                self.settings.WORKER_MAX_RECEIVES,
            )
        except Exception as exc:
            log.warning("could not read redrive policy", extra={"error": type(exc).__name__})
        log.info("worker started", extra={"max_receives": self.max_receives})
        try:
            while not self.stop_requested.is_set():
                try:
                    resp = await self._sqs(
                        "receive_message",
                        QueueUrl=self.settings.QUEUE_URL,
                        MaxNumberOfMessages=1,
                        WaitTimeSeconds=self.settings.WORKER_WAIT_SECONDS,
                        MessageSystemAttributeNames=["ApproximateReceiveCount"],
                    )
                except Exception as exc:
                    log.error("receive failed", extra={"error": repr(exc)})
                    await self._sleep_unless_stopped(2.0)
                    continue
                for message in resp.get("Messages", []):
                    if self.stop_requested.is_set():
                        await self._release(message)
                        continue
                    await self.handle(message)
        finally:
            await self.engine.dispose()
            log.info("worker stopped", extra={"processed": self.processed})

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_requested.wait(), seconds)

    async def _release(self, message: dict[str, Any]) -> None:
        try:
            await self._sqs(
                "change_message_visibility",
                QueueUrl=self.settings.QUEUE_URL,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        except Exception as exc:
            log.warning("release failed", extra={"error": type(exc).__name__})

    async def _delete(self, message: dict[str, Any]) -> None:
        await self._sqs(
            "delete_message",
            QueueUrl=self.settings.QUEUE_URL,
            ReceiptHandle=message["ReceiptHandle"],
        )

    async def handle(self, message: dict[str, Any]) -> None:
        receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            body = json.loads(message["Body"])
            job_id = uuid.UUID(str(body["job_id"]))
        except (ValueError, KeyError, TypeError):
            # Nothing to mark; leave it: after maxReceiveCount receives SQS moves it to the DLQ.
            log.error(
                "malformed message left for the DLQ",
                extra={"message_id": message.get("MessageId"), "receive_count": receive_count},
            )
            return
        ctx = {"job_id": str(job_id), "receive_count": receive_count}

        async with self.sessionmaker() as session:
            claimed = (
                await session.execute(CLAIM, {"id": job_id, "attempts": receive_count})
            ).one_or_none()
            if claimed is None:
                status = (await session.execute(JOB_STATUS, {"id": job_id})).scalar_one_or_none()
                await session.commit()
                log.info(
                    "job not pending; message dropped without rendering",
                    extra={**ctx, "status": status or "unknown"},
                )
                await self._delete(message)
                return
            await session.commit()
        resume_id, fmt = claimed
        log.info("job running", extra={**ctx, "format": fmt})

        try:
            if self.settings.WORKER_PROCESSING_DELAY:
                await asyncio.sleep(self.settings.WORKER_PROCESSING_DELAY)
            async with self.sessionmaker() as session:
                resume = await session.get(Resume, resume_id)
                if resume is None:
                    raise LookupError(f"resume {resume_id} no longer exists")
                data = ResumeOut.model_validate(resume).model_dump(mode="json")
                document = render(data, fmt)
                await session.execute(MARK_DONE, {"id": job_id, "result": document})
                await session.commit()
        except Exception as exc:
            await self._record_failure(job_id, receive_count, exc, ctx)
            return
        self.processed += 1
        try:
            await self._delete(message)
        except Exception as exc:  # redelivery is harmless: the job is done (idempotent)
            log.warning("delete failed", extra={**ctx, "error": type(exc).__name__})
        log.info("job done", extra=ctx)

    async def _record_failure(
        self, job_id: uuid.UUID, receive_count: int, exc: Exception, ctx: dict[str, Any]
    ) -> None:
        final = receive_count >= self.max_receives
        status = "failed" if final else "queued"
        error = f"{type(exc).__name__}: {exc}"[:2000]
        try:
            async with self.sessionmaker() as session:
                await session.execute(
                    MARK_FAILED_ATTEMPT,
                    {"id": job_id, "status": status, "error": error, "final": final},
                )
                await session.commit()
        except Exception as db_exc:
            log.error(
                "could not record failure",
                extra={**ctx, "error": f"{type(db_exc).__name__}: {db_exc}"[:500]},
            )
        log.warning(
            "job attempt failed; message left for retry/DLQ",
            extra={**ctx, "final": final, "job_status": status, "error": error},
        )


async def _amain(settings: Settings) -> None:
    await Worker(settings).run()


def main() -> None:
    settings = load_settings_or_exit()
    configure_logging(settings.LOG_LEVEL, secrets=settings.secret_values())
    asyncio.run(_amain(settings))


if __name__ == "__main__":
    main()
