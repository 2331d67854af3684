"""roles/bastion: the instance role's inline policy as the role renders it
(templates/bastion_policy.json.j2). amazon.aws.aws_ssm moves files with presigned URLs the
controller makes ("The remote instance does not require IAM credentials for S3", the connection
plugin's documentation): the bastion itself is granted no S3 action, only the database secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

ROOT = Path(__file__).resolve().parents[3]
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"  # noqa: S105 - an ARN, not a password
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"


def bastion_policy(**variables: Any) -> dict[str, Any]:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - JSON
    environment.filters["to_json"] = json.dumps
    source = (ROOT / "roles/bastion/templates/bastion_policy.json.j2").read_text()
    defaults = {"aws_region": "eu-west-1", "aws_partition": "aws", "bastion_ssm_bucket_enabled": True}
    defaults["bastion_ssm_bucket_name"] = "resume-dev-bastion-ssm"
    return dict(json.loads(environment.from_string(source).render(**{**defaults, **variables})))


def test_the_bastion_reads_the_database_secret_and_is_granted_nothing_in_s3() -> None:
    policy = bastion_policy(bastion_db_secret_arn=SECRET_ARN, bastion_db_kms_key_arn=KEY)
    assert {s["Sid"]: s["Resource"] for s in policy["Statement"]} == {
        "ReadDbSecret": SECRET_ARN,
        "DecryptDbSecret": KEY,
    }
    actions = [a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not [a for a in actions if a.startswith("s3:")]
