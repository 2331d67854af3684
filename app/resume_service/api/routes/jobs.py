"""Export job status."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException

from resume_service.api.deps import SessionDep
from resume_service.models import ExportJob
from resume_service.schemas import JobOut

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut, responses={404: {"description": "job not found"}})
async def get_job(job_id: uuid.UUID, session: SessionDep) -> ExportJob:
    """Status is one of queued, running, done, failed; `result` holds the rendered document."""
    job = await session.get(ExportJob, job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"job {job_id} not found")
    return job
