"""roles/ecs_cluster: the task role's policy as the role renders it (templates/task.json.j2) and as
playbooks/ecs_cluster.yml wires it, evaluated by the local cloud's IAM (localcloud/iam.py): a job
queue under a customer managed key needs kms:GenerateDataKey and kms:Decrypt through SQS (SQS's key
management docs), the AWS managed key nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from localcloud import iam
from localcloud.iam import Decision

ROOT = Path(__file__).resolve().parents[3]
REGION = "eu-west-1"
QUEUE = f"arn:aws:sqs:{REGION}:123456789012:resume-dev-jobs"
KEY = f"arn:aws:kms:{REGION}:123456789012:key/0b7d2f6e-1c1e-4d5e-9a51-6f1f0a0c4e11"
VIA_SQS = {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}


def task_policy(key_arn: str) -> dict[str, Any]:
    source = (ROOT / "roles/ecs_cluster/templates/task.json.j2").read_text()
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - JSON
    rendered = environment.from_string(source).render(
        ecs_cluster_job_queue_arn=QUEUE, ecs_cluster_job_queue_kms_key_arn=key_arn, aws_region=REGION
    )
    return dict(json.loads(rendered))


def test_with_a_customer_managed_key_the_task_role_may_use_it_through_sqs_only() -> None:
    policy = task_policy(KEY)
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert iam.evaluate([policy], action, KEY, VIA_SQS) is Decision.ALLOW
        assert iam.evaluate([policy], action, KEY, {}) is Decision.IMPLICIT_DENY  # not directly
    assert iam.evaluate([policy], "sqs:SendMessage", QUEUE) is Decision.ALLOW


def test_with_the_aws_managed_key_the_task_role_has_no_kms_grant() -> None:
    policy = task_policy("")
    assert not [s for s in policy["Statement"] if any(a.startswith("kms:") for a in s["Action"])]
    assert iam.evaluate([policy], "kms:Decrypt", KEY, VIA_SQS) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("job_queue_kms_key", "granted"),
    [("alias/aws/sqs", ""), (KEY, KEY), (f"arn:aws:kms:{REGION}:123456789012:alias/aws/sqs", "")],
)
def test_the_ecs_cluster_play_grants_the_queues_key_only_when_it_is_customer_managed(
    job_queue_kms_key: str, granted: str
) -> None:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    play = yaml.safe_load((ROOT / "playbooks/ecs_cluster.yml").read_text())[0]
    expression = play["roles"][0]["vars"]["ecs_cluster_job_queue_kms_key_arn"]
    templar = Templar(loader=DataLoader(), variables={"job_queue_kms_key": job_queue_kms_key})
    assert templar.template(trust_as_template(expression)) == granted
    queues = yaml.safe_load((ROOT / "playbooks/queues.yml").read_text())[0]
    assert queues["roles"][0]["vars"]["queues_kms_master_key_id"] == "{{ job_queue_kms_key }}"
