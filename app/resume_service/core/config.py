"""Settings read from the environment, exactly as an ECS task definition passes them."""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import NoReturn

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Secrets have no default; a missing one refuses start-up."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", env_file=None)

    # Database (RDS PostgreSQL in AWS). DB_PASSWORD is injected from Secrets Manager.
    DB_HOST: str
    DB_PORT: int = Field(default=5432, ge=1, le=65535)
    DB_NAME: str
    DB_USER: str
    DB_PASSWORD: SecretStr
    DB_POOL_SIZE: int = Field(default=5, ge=1, le=200)
    DB_MAX_OVERFLOW: int = Field(default=5, ge=0, le=200)
    DB_POOL_TIMEOUT: float = Field(default=10.0, gt=0)
    DB_POOL_RECYCLE: int = Field(default=1800, ge=-1)
    DB_CONNECT_TIMEOUT: float = Field(default=5.0, gt=0)

    # Queue (SQS). AWS credentials come from the task role / the usual boto3 chain.
    QUEUE_URL: str
    AWS_REGION: str
    AWS_ENDPOINT_URL: str | None = None

    # API process
    API_HOST: str = "0.0.0.0"
    API_PORT: int = Field(default=8000, ge=1, le=65535)
    API_WORKERS: int = Field(default=1, ge=1, le=64)
    READINESS_TIMEOUT: float = Field(default=3.0, gt=0)

    # Worker process
    WORKER_WAIT_SECONDS: int = Field(default=10, ge=0, le=20)  # SQS long-poll wait
    # Fallback when the queue's redrive policy is unreadable.
    WORKER_MAX_RECEIVES: int = Field(default=3, ge=1)
    # Artificial per-message delay, for tests and chaos drills only.
    WORKER_PROCESSING_DELAY: float = Field(default=0.0, ge=0)

    LOG_LEVEL: str = "INFO"

    def secret_values(self) -> list[str]:
        return [self.DB_PASSWORD.get_secret_value()]


def settings_error_message(exc: ValidationError) -> str:
    """Describe what is wrong naming variables only — never their values."""
    missing: list[str] = []
    invalid: list[str] = []
    for err in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(p) for p in err.get("loc", ())) or "?"
        if err.get("type") == "missing":
            missing.append(name)
        else:
            invalid.append(f"{name} ({err.get('msg', 'invalid')})")
    parts = []
    if missing:
        parts.append("missing required environment variable(s): " + ", ".join(missing))
    if invalid:
        parts.append("invalid environment variable(s): " + ", ".join(invalid))
    return "configuration error: " + "; ".join(parts)


def load_settings_or_exit() -> Settings:
    """Load settings; on error print a clear message to stderr and exit with status 2."""
    try:
        return Settings()
    except ValidationError as exc:
        fail(settings_error_message(exc))


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings_or_exit()
