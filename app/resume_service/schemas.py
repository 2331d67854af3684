"""Pydantic request/response schemas."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Skill = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-.]{5,30}$")]

# The largest request body the API reads (413 above it): the largest valid ResumeIn, every string at
# its maximum length in 4-byte UTF-8 characters, is about 2.35 MB (590 KB in ASCII); JSON's own
# \uXXXX escapes of non-ASCII text can exceed it. At the load balancer the web ACL's
# SizeRestrictions_BODY (8 KB) counts instead of blocking on the resume write paths only.
MAX_BODY_BYTES = 2_621_440  # 2.5 MiB

ExportFormat = Literal["html", "markdown"]
JobStatus = Literal["queued", "running", "done", "failed"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contact(StrictModel):
    email: EmailStr
    phone: Phone | None = None
    location: Annotated[str, StringConstraints(max_length=200)] | None = None
    website: AnyHttpUrl | None = None


class Experience(StrictModel):
    company: ShortText
    title: ShortText
    start_date: dt.date
    end_date: dt.date | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] = ""

    @model_validator(mode="after")
    def _dates_ordered(self) -> Experience:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class Education(StrictModel):
    institution: ShortText
    degree: ShortText
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    @model_validator(mode="after")
    def _dates_ordered(self) -> Education:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class Sections(StrictModel):
    experience: list[Experience] = Field(default_factory=list, max_length=100)
    education: list[Education] = Field(default_factory=list, max_length=50)
    skills: list[Skill] = Field(default_factory=list, max_length=200)


class ResumeIn(StrictModel):
    """Body of POST and PUT (PUT replaces the whole resume)."""

    name: ShortText
    headline: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    contact: Contact
    summary: Annotated[str, StringConstraints(max_length=10000)] = ""
    sections: Sections = Field(default_factory=Sections)


class ResumeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    headline: str
    contact: Contact
    summary: str
    sections: Sections
    views: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ResumeList(BaseModel):
    items: list[ResumeOut]
    total: int
    limit: int
    offset: int


class ViewCount(BaseModel):
    resume_id: int
    views: int


class ExportIn(StrictModel):
    format: ExportFormat


class JobAccepted(BaseModel):
    job_id: uuid.UUID
    status: JobStatus
    resume_id: int
    format: str


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    resume_id: int
    format: str
    status: JobStatus
    attempts: int
    result: str | None
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None


class ErrorOut(BaseModel):
    detail: str


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    failing: list[str] = Field(default_factory=list)
