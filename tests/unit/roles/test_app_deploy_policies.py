"""roles/app_deploy: the policies and alarms the role hands to AWS, rendered from its own files: the
access-log bucket policy (every Region), the ECR lifecycle policy, the worker's scaling policy and the
load balancer's alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from localcloud import validation

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


# --------------------------------------------------------------------------- ECR lifecycle


def lifecycle(keep: int | None = None, untagged_days: int | None = None) -> dict[str, Any]:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return template(
        "ecr_lifecycle.json.j2",
        app_deploy_image_keep=defaults["app_deploy_image_keep"] if keep is None else keep,
        app_deploy_image_untagged_days=defaults["app_deploy_image_untagged_days"]
        if untagged_days is None
        else untagged_days,
    )


def expired(policy: dict[str, Any], images: list[dict[str, Any]], now: float) -> set[str]:
    """The images ECR's lifecycle expires, by its documented evaluation rules: rules lowest priority
    first; an image whose tags a rule matched is never expired by a later rule, which still counts it;
    counts keep the newest pushes."""
    matched: set[str] = set()
    gone: set[str] = set()
    for rule in sorted(policy["rules"], key=lambda r: r["rulePriority"]):
        selection = rule["selection"]
        status = selection["tagStatus"]
        selected = [i for i in images if status == "any" or (status == "untagged") == (not i["tags"])]
        if selection["countType"] == "imageCountMoreThan":
            newest_first = sorted(selected, key=lambda i: i["pushed"], reverse=True)
            candidates = newest_first[selection["countNumber"] :]
        else:
            candidates = [i for i in selected if now - i["pushed"] > selection["countNumber"] * 86400]
        gone |= {i["digest"] for i in candidates if i["digest"] not in matched}
        matched |= {i["digest"] for i in selected}
    return gone


def test_the_lifecycle_policy_is_one_ecr_accepts() -> None:
    assert validation.ecr_lifecycle_refusal(lifecycle()) is None
    assert lifecycle()["rules"][-1]["selection"]["tagStatus"] == "any"


def test_the_running_image_and_its_rollback_target_outlive_a_busy_month_of_builds() -> None:
    """The running revision's image was pushed, then 30 more builds were pushed without a deploy
    (each an immutable commit tag); the rollback target is one push older. Both must stay pullable:
    ECS pulls them again whenever it replaces or adds a task."""
    day = 86400.0
    now = 100 * day
    rollback = {"digest": "sha256:rollback", "tags": ["0123456789ab"], "pushed": now - 40 * day}
    running = {"digest": "sha256:running", "tags": ["123456789abc"], "pushed": now - 39 * day}
    builds = [{"digest": f"sha256:b{n}", "tags": [f"{n:012x}"], "pushed": now - 38 * day + n * 3600} for n in range(30)]
    leftover = {"digest": "sha256:untagged-old", "tags": [], "pushed": now - 10 * day}
    fresh = {"digest": "sha256:untagged-new", "tags": [], "pushed": now - 3600}
    gone = expired(lifecycle(), [rollback, running, *builds, leftover, fresh], now)
    assert "sha256:running" not in gone
    assert "sha256:rollback" not in gone
    assert gone == {"sha256:untagged-old"}


def test_only_more_pushes_than_the_kept_count_age_a_tagged_image_out() -> None:
    now = 1000.0
    images = [{"digest": f"sha256:{n}", "tags": [f"t{n}"], "pushed": float(n)} for n in range(5)]
    assert expired(lifecycle(keep=3), images, now) == {"sha256:0", "sha256:1"}
