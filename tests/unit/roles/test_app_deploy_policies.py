"""roles/app_deploy: the policies and alarms the role hands to AWS, rendered from its own files: the
access-log bucket policy (every Region), the ECR lifecycle policy, the worker's scaling policy and the
load balancer's alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pytest

ROLE = Path(__file__).resolve().parents[3] / "roles" / "app_deploy"
ACCOUNT = "123456789012"
BUCKET = f"resume-prod-alb-logs-{ACCOUNT}"


def template(name: str, **variables: Any) -> dict[str, Any]:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - JSON
    return dict(json.loads(environment.from_string((ROLE / "templates" / name).read_text()).render(**variables)))


def bucket_policy(region: str) -> dict[str, Any]:
    return template(
        "alb_logs_policy.json.j2",
        aws_region=region,
        aws_partition="aws",
        aws_account_id=ACCOUNT,
        __app_deploy_logs_bucket=BUCKET,
    )


@pytest.mark.parametrize(
    "region",
    [
        "eu-west-1",  # open before August 2022, in the old map
        "ap-northeast-1",  # open before August 2022, missing from the old six-Region map
        "ap-south-2",  # opened after August 2022: never had an ELB account
        "eu-central-2",
        "xx-future-9",  # a Region nobody has listed yet
    ],
)
def test_the_log_bucket_lets_the_elb_log_delivery_service_write_in_every_region(region: str) -> None:
    statement = next(s for s in bucket_policy(region)["Statement"] if s["Sid"] == "AlbAccessLogs")
    assert statement["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    # Only this account's load balancers, under the prefix the role sets (access_logs.s3.prefix: alb).
    assert statement["Resource"] == f"arn:aws:s3:::{BUCKET}/alb/AWSLogs/{ACCOUNT}/*"
