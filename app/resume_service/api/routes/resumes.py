"""Resume CRUD, view counter and export-job submission."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy import func, select, text

from resume_service.api.deps import SessionDep, SettingsDep, SqsDep
from resume_service.core import queue
from resume_service.models import ExportJob, Resume
from resume_service.schemas import (
    MAX_BODY_BYTES,
    ErrorOut,
    ExportIn,
    JobAccepted,
    ResumeIn,
    ResumeList,
    ResumeOut,
    ViewCount,
)

router = APIRouter(prefix="/api/resumes", tags=["resumes"])
log = logging.getLogger(__name__)

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "resume not found"}}
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": f"the request body is over {MAX_BODY_BYTES} bytes"}
}

INCREMENT_VIEWS = text("UPDATE resumes SET views = views + 1 WHERE id = :id RETURNING views")


def _not_found(resume_id: int) -> HTTPException:
    return HTTPException(status_code=404, detail=f"resume {resume_id} not found")


@router.post("", response_model=ResumeOut, status_code=status.HTTP_201_CREATED, responses=TOO_LARGE)
async def create_resume(body: ResumeIn, session: SessionDep, response: Response) -> Resume:
    data = body.model_dump(mode="json")
    resume = Resume(**data)
    session.add(resume)
    await session.commit()
    await session.refresh(resume)
    response.headers["Location"] = f"/api/resumes/{resume.id}"
    log.info("resume created", extra={"resume_id": resume.id})
    return resume


@router.get("", response_model=ResumeList)
async def list_resumes(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ResumeList:
    total = (await session.execute(select(func.count()).select_from(Resume))).scalar_one()
    rows = (
        (await session.execute(select(Resume).order_by(Resume.id).limit(limit).offset(offset)))
        .scalars()
        .all()
    )
    return ResumeList(
        items=[ResumeOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{resume_id}", response_model=ResumeOut, responses=NOT_FOUND)
async def get_resume(resume_id: int, session: SessionDep) -> Resume:
    resume = await session.get(Resume, resume_id)
    if resume is None:
        raise _not_found(resume_id)
    return resume


@router.put("/{resume_id}", response_model=ResumeOut, responses={**NOT_FOUND, **TOO_LARGE})
async def replace_resume(resume_id: int, body: ResumeIn, session: SessionDep) -> Resume:
    resume = await session.get(Resume, resume_id, with_for_update=True)
    if resume is None:
        raise _not_found(resume_id)
    for key, value in body.model_dump(mode="json").items():
        setattr(resume, key, value)
    await session.commit()
    await session.refresh(resume)
    return resume


@router.delete("/{resume_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_resume(resume_id: int, session: SessionDep) -> Response:
    resume = await session.get(Resume, resume_id)
    if resume is None:
        raise _not_found(resume_id)
    await session.delete(resume)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{resume_id}/views", response_model=ViewCount, responses=NOT_FOUND)
async def increment_views(resume_id: int, session: SessionDep) -> ViewCount:
    """Atomic increment: one `UPDATE … SET views = views + 1 … RETURNING views`."""
    views = (await session.execute(INCREMENT_VIEWS, {"id": resume_id})).scalar_one_or_none()
    if views is None:
        raise _not_found(resume_id)
    await session.commit()
    return ViewCount(resume_id=resume_id, views=views)


@router.get("/{resume_id}/views", response_model=ViewCount, responses=NOT_FOUND)
async def get_views(resume_id: int, session: SessionDep) -> ViewCount:
    views = (
        await session.execute(select(Resume.views).where(Resume.id == resume_id))
    ).scalar_one_or_none()
    if views is None:
        raise _not_found(resume_id)
    return ViewCount(resume_id=resume_id, views=views)


@router.post(
    "/{resume_id}/exports",
    response_model=JobAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, 503: {"description": "the queue is unavailable"}},
)
async def create_export(
    resume_id: int,
    body: ExportIn,
    session: SessionDep,
    sqs: SqsDep,
    settings: SettingsDep,
    response: Response,
) -> JobAccepted:
    """Record an export job (status `queued`) and enqueue it on SQS for the worker."""
    exists = (
        await session.execute(select(Resume.id).where(Resume.id == resume_id))
    ).scalar_one_or_none()
    if exists is None:
        raise _not_found(resume_id)
    job = ExportJob(id=uuid.uuid4(), resume_id=resume_id, format=body.format, status="queued")
    session.add(job)
    await session.commit()  # committed before the message exists: the worker always finds it
    try:
        await asyncio.to_thread(
            queue.send_job, sqs, settings.QUEUE_URL, str(job.id), resume_id, body.format
        )
    except Exception as exc:
        log.exception("enqueue failed", extra={"job_id": str(job.id)})
        job.status = "failed"
        job.error = f"enqueue failed: {type(exc).__name__}"
        await session.commit()
        raise HTTPException(status_code=503, detail="queue unavailable") from exc
    log.info("export queued", extra={"job_id": str(job.id), "format": body.format})
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return JobAccepted(job_id=job.id, status="queued", resume_id=resume_id, format=body.format)
