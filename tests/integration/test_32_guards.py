"""The guards every run passes before its first change, on an emulator of their own (the empty one),
with a minimal stack made directly through the API (no site.yml run: seconds, not minutes):

* a teardown stops before its first deletion while the environment is protected from deletion;
* credentials of another AWS account (a real second set of keys, which STS reports as that
  account) stop site.yml, its dry run and the teardown before any change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Cloud
from tests.integration.helpers import PROJECT, REGION, VPC_PREFIX, client, leftovers, run_playbook

PREFIX = f"{PROJECT}-local"
TAGS = [{"Key": "Project", "Value": PROJECT}, {"Key": "Environment", "Value": "local"}]
OTHER_ACCOUNT = "210987654321"


def as_environment(access_key: str, secret_key: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}


def _failure(output: str) -> str:
    """The failed task's message, with the YAML callback's line wrapping undone."""
    return " ".join(output[output.index("fatal:") :].split()) if "fatal:" in output else output


@pytest.fixture(scope="module")
def protected(empty_cloud: Cloud) -> dict[str, list[str]]:
    """What a protected environment holds that teardown deletes first or last: its published outputs,
    its queue, a database alarm, the Aurora cluster (deletion protection on) with its writer, and the
    load balancer (deletion_protection.enabled)."""
    ec2, elb, rds = (empty_cloud.client(s) for s in ("ec2", "elbv2", "rds"))
    vpc = ec2.create_vpc(CidrBlock=f"{VPC_PREFIX}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{VPC_PREFIX}.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    balancer = elb.create_load_balancer(Name=f"{PREFIX}-alb", Subnets=subnets, Tags=TAGS)["LoadBalancers"][0]
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}],
    )
    rds.create_db_cluster(
        DBClusterIdentifier=PREFIX,
        Engine="aurora-postgresql",
        EngineVersion="16.4",
        MasterUsername="resume_admin",
        MasterUserPassword="not-a-secret-0123456789",
        DeletionProtection=True,
        Tags=TAGS,
    )
    rds.create_db_instance(
        DBInstanceIdentifier=f"{PREFIX}-writer",
        DBClusterIdentifier=PREFIX,
        Engine="aurora-postgresql",
        DBInstanceClass="db.serverless",
        Tags=TAGS,
    )
    empty_cloud.client("sqs").create_queue(QueueName=f"{PREFIX}-jobs")
    empty_cloud.client("ssm").put_parameter(Name=f"/{PROJECT}/local/outputs", Value="{}", Type="String")
    empty_cloud.client("cloudwatch").put_metric_alarm(
        AlarmName=f"{PREFIX}-cpu-high",
        Namespace="AWS/RDS",
        MetricName="CPUUtilization",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=3,
        Threshold=80,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    before = leftovers(empty_cloud.endpoint)
    assert {"load_balancers", "db_clusters", "db_instances", "queues", "ssm_parameters", "alarms"} <= set(before)
    return before


def test_teardown_of_a_protected_environment_stops_before_its_first_deletion(
    empty_cloud: Cloud, protected: dict[str, list[str]]
) -> None:
    run = run_playbook("playbooks/teardown.yml", port=empty_cloud.port)
    assert run.returncode != 0
    failure = _failure(run.output)
    assert "stopped before deleting anything" in failure
    assert f"the DB cluster {PREFIX}" in failure and f"the load balancer {PREFIX}-alb" in failure
    assert "database_deletion_protection: false" in failure
    assert "Withdraw the published outputs" not in run.output  # the teardown's first deletion
    assert leftovers(empty_cloud.endpoint) == protected  # the independent scan finds everything still there


# ----------------------------------------------------------------------------- another account


@pytest.fixture(scope="module")
def other_account(empty_cloud: Cloud) -> Iterator[dict[str, str]]:
    """Keys of an administrator of another AWS account: an IAM user made in that account (moto keeps
    one model per account and tells the account by the access key), allowed everything there."""
    iam = client("iam", empty_cloud.endpoint)

    def in_other_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = OTHER_ACCOUNT  # where this administrator is made

    iam.meta.events.register("before-sign.iam.*", in_other_account)
    iam.create_user(UserName="deployer")
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="deployer", PolicyName="admin", PolicyDocument=json.dumps(admin))
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    sts = client("sts", empty_cloud.endpoint, as_environment(key["AccessKeyId"], key["SecretAccessKey"]))
    assert sts.get_caller_identity()["Account"] == OTHER_ACCOUNT  # a real second account, as STS sees it
    yield {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}


@pytest.mark.parametrize(
    "command",
    [("site.yml",), ("site.yml", "--check"), ("playbooks/teardown.yml",)],
    ids=["site", "site-check", "teardown"],
)
def test_credentials_of_another_account_stop_the_run_before_any_change(
    empty_cloud: Cloud, other_account: dict[str, str], command: tuple[str, ...]
) -> None:
    connection = {
        "aws_connection": {
            "region": REGION,
            "endpoint_url": empty_cloud.endpoint,
            **other_account,
            "aws_config": {"retries": {"mode": "standard", "max_attempts": 10}},
        }
    }
    run = run_playbook(*command, "-e", json.dumps(connection), port=empty_cloud.port)
    assert run.returncode != 0
    failure = _failure(run.output)
    assert f"in AWS account {OTHER_ACCOUNT}" in failure and "belongs to account 123456789012" in failure
    assert "nothing was changed" in failure
    assert run.changed == 0
    # Nothing in the other account either (its own administrator's view).
    keys = as_environment(other_account["access_key"], other_account["secret_key"])
    ec2 = client("ec2", empty_cloud.endpoint, keys)
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Project", "Values": [PROJECT]}])["Vpcs"] == []
    kms = client("kms", empty_cloud.endpoint, keys)
    assert [a for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith(f"alias/{PREFIX}")] == []
