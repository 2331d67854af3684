"""Resume service: FastAPI API + SQS export worker on PostgreSQL."""

__version__ = "0.1.0"
