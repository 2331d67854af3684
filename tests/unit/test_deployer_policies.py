"""The deployer policies of policies/: one per playbook, valid IAM managed policies, and what they
promise on their own (the integration suite runs site.yml and teardown.yml as users holding only
them, tests/integration/conftest.py).

A managed policy holds at most 6,144 characters, white space not counted (IAM quotas); a user may
have 10 attached. The resources the project creates are tagged at creation: the policy allows the
elastic IPs, NAT gateways, the ECS cluster and the KMS key only when the create call carries the
Project tag, as an account's tag-on-create policy would (aws:RequestTag), so a role that tags after
creating fails the suite."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud import iam
from localcloud.server import ApiCall

ROOT = Path(__file__).resolve().parents[2]
POLICIES = sorted((ROOT / "policies").glob("deployer-*.json"))
ACCOUNT, REGION = "123456789012", "eu-west-1"


def test_there_is_one_policy_per_playbook() -> None:
    assert [p.stem for p in POLICIES] == [f"deployer-{n}" for n in ("configure", "deploy", "provision", "teardown")]
    for path in POLICIES:
        assert (ROOT / "playbooks" / f"{path.stem.removeprefix('deployer-')}.yml").exists()


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_each_policy_is_a_valid_managed_policy(path: Path) -> None:
    text = path.read_text()
    document = json.loads(text)
    assert document["Version"] == "2012-10-17"
    assert len(re.sub(r"\s", "", text)) <= 6144
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z*]+", a) for a in actions), actions
        assert not [a for a in actions if a.endswith(":*")], f"{statement['Sid']}: a whole service"


@pytest.fixture
def deployer(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The access key of a user holding deployer-provision.json only (moto's IAM, in-process)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("iam", region_name=REGION)
        document = (ROOT / "policies" / "deployer-provision.json").read_text()
        arn = client.create_policy(PolicyName="provision", PolicyDocument=document)["Policy"]["Arn"]
        client.create_user(UserName="deployer")
        client.attach_user_policy(UserName="deployer", PolicyArn=arn)
        yield client.create_access_key(UserName="deployer")["AccessKey"]["AccessKeyId"]


def call(service: str, action: str, key: str, **params: Any) -> ApiCall:
    return ApiCall(service=service, region=REGION, action=action, params=params, access_key=key, json=service != "ec2")


EC2_TAGS = {
    "TagSpecification.1.ResourceType": "natgateway",
    "TagSpecification.1.Tag.1.Key": "Project",
    "TagSpecification.1.Tag.1.Value": "resume",
}


@pytest.mark.parametrize(
    ("service", "action", "untagged", "tagged"),
    [
        ("ec2", "AllocateAddress", {"Domain": "vpc"}, {"Domain": "vpc", **EC2_TAGS}),
        (
            "ec2",
            "CreateNatGateway",
            {"SubnetId": "subnet-1"},
            {"SubnetId": "subnet-1", "AllocationId": "eipalloc-1", **EC2_TAGS},
        ),
        (
            "ecs",
            "CreateCluster",
            {"clusterName": "resume-dev"},
            {"clusterName": "resume-dev", "tags": [{"key": "Project", "value": "resume"}]},
        ),
        ("kms", "CreateKey", {}, {"Tags": [{"TagKey": "Project", "TagValue": "resume"}]}),
    ],
)
def test_the_provision_policy_creates_these_only_tagged_at_creation(
    deployer: str, service: str, action: str, untagged: dict[str, Any], tagged: dict[str, Any]
) -> None:
    assert iam.authorize(call(service, action, deployer, **tagged), ACCOUNT) is None
    refusal = iam.authorize(call(service, action, deployer, **untagged), ACCOUNT)
    assert refusal is not None, f"{service}:{action} allowed without the Project tag"


def test_the_provision_policy_keeps_to_the_projects_parameters_and_queues(deployer: str) -> None:
    assert iam.authorize(call("ssm", "PutParameter", deployer, Name="/resume/dev/outputs"), ACCOUNT) is None
    assert iam.authorize(call("ssm", "PutParameter", deployer, Name="/other/dev/outputs"), ACCOUNT) is not None
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/"
    assert iam.authorize(call("sqs", "SetQueueAttributes", deployer, QueueUrl=url + "resume-dev-jobs"), ACCOUNT) is None
    assert iam.authorize(call("sqs", "SetQueueAttributes", deployer, QueueUrl=url + "payroll"), ACCOUNT) is not None
