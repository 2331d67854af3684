"""SQS access with boto3; blocking calls are run in a worker thread by callers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from resume_service.core.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any


def create_sqs_client(settings: Settings, *, read_timeout: float = 30.0) -> SQSClient:
    config = Config(
        region_name=settings.AWS_REGION,
        connect_timeout=3,
        # Must exceed the long-poll wait.
        read_timeout=max(read_timeout, settings.WORKER_WAIT_SECONDS + 10),
        retries={"max_attempts": 3, "mode": "standard"},
    )
    client: SQSClient = boto3.session.Session().client(
        "sqs",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=config,
    )
    return client


def send_job(client: SQSClient, queue_url: str, job_id: str, resume_id: int, fmt: str) -> str:
    body = json.dumps({"job_id": job_id, "resume_id": resume_id, "format": fmt})
    resp = client.send_message(QueueUrl=queue_url, MessageBody=body)
    return resp["MessageId"]


def check_queue(client: SQSClient, queue_url: str) -> None:
    client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])


def max_receive_count(client: SQSClient, queue_url: str, fallback: int) -> int:
    """maxReceiveCount of the queue's redrive policy (set by infrastructure)."""
    attrs = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    raw = attrs.get("Attributes", {}).get("RedrivePolicy")
    if not raw:
        return fallback
    try:
        return int(json.loads(raw)["maxReceiveCount"])
    except (ValueError, KeyError, TypeError):
        return fallback
