"""Alembic environment: async engine (asyncpg), URL from the app's settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from resume_service.core.config import load_settings_or_exit
from resume_service.core.db import database_url
from resume_service.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    settings = load_settings_or_exit()
    context.configure(
        url=database_url(settings).render_as_string(hide_password=True),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _do_run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    settings = load_settings_or_exit()
    engine = create_async_engine(
        database_url(settings),
        poolclass=NullPool,
        connect_args={"timeout": settings.DB_CONNECT_TIMEOUT},
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_do_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
