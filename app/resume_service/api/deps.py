"""FastAPI dependencies: DB session, SQS client, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from resume_service.core.config import Settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


def get_sqs(request: Request) -> Any:
    return request.app.state.sqs


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SqsDep = Annotated[Any, Depends(get_sqs)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
