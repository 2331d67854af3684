"""After site.yml on the local cloud: what only exists once the layers are wired together, read back with boto3.

A resource's own settings (encryption, public access, rule sets, redrive, IMDSv2, tags, retention, ...)
are asserted once, by the molecule verify of the role that owns it (molecule/<role>/verify.yml). Here:
one layer's resources pointing at another layer's, and the outputs (outputs.json and its SSM copy).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import ROOT, Stack
from tests.integration.helpers import ARTIFACTS, PROJECT, VPC_CIDR, role_policy, run_playbook, tags_of

PREFIX = f"{PROJECT}-local"


@pytest.fixture(scope="module")
def ec2(stack: Stack) -> Any:
    return stack.cloud.client("ec2")


@pytest.fixture(scope="module")
def vpc(stack: Stack, ec2: Any) -> dict[str, Any]:
    """The network layer's VPC, found by its name (that there is exactly one: molecule/network)."""
    return ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [PREFIX]}])["Vpcs"][0]


@pytest.fixture(scope="module")
def groups(ec2: Any, vpc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    return {g["GroupName"].removeprefix(f"{PREFIX}-"): g for g in found}


@pytest.fixture(scope="module")
def db_cluster(stack: Stack) -> dict[str, Any]:
    return stack.cloud.client("rds").describe_db_clusters(DBClusterIdentifier=PREFIX)["DBClusters"][0]


@pytest.fixture(scope="module")
def bastion(ec2: Any) -> dict[str, Any]:
    """The running bastion (that there is exactly one: molecule/bastion)."""
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:Role", "Values": ["bastion"]}, {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    return next(i for r in reservations for i in r["Instances"])


def test_the_database_admits_exactly_the_app_bastion_and_proxy_groups_of_the_network(
    ec2: Any, db_cluster: dict[str, Any], groups: dict[str, dict[str, Any]]
) -> None:
    """The cluster's groups let in the network layer's app, bastion and RDS Proxy tiers, nothing else."""
    cluster_groups = ec2.describe_security_groups(
        GroupIds=[g["VpcSecurityGroupId"] for g in db_cluster["VpcSecurityGroups"]]
    )["SecurityGroups"]
    admitted = {p["GroupId"] for g in cluster_groups for r in g["IpPermissions"] for p in r.get("UserIdGroupPairs", [])}
    expected = {groups[tier]["GroupId"] for tier in ("app", "bastion", "db-proxy")}
    assert admitted == expected, (cluster_groups, groups.keys())


def test_the_database_alarms_notify_the_topic_of_the_queues_layer(stack: Stack) -> None:
    alarms = stack.cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{PREFIX}-")["MetricAlarms"]
    actions = {a["AlarmName"]: a["AlarmActions"] for a in alarms if a["Namespace"] == "AWS/RDS"}
    topic = stack.outputs["alarm_topic_arn"]
    assert actions and actions == {name: [topic] for name in actions}, actions
    assert topic in [t["TopicArn"] for t in stack.cloud.client("sns").list_topics()["Topics"]]


def test_the_task_roles_reach_the_secret_image_repository_and_queue_of_the_other_layers(stack: Stack) -> None:
    iam = stack.cloud.client("iam")
    execution = role_policy(iam, f"{PREFIX}-task-execution", "task-execution")
    resources = {s["Sid"]: s["Resource"] for s in execution["Statement"]}
    assert resources["ReadDbSecret"] == stack.outputs["db_secret_arn"]  # the database layer's secret
    assert resources["PullImage"].endswith(f":repository/{PREFIX}/api")  # the repository app_deploy pushes to
    task = role_policy(iam, f"{PREFIX}-task", "task")
    queue_arn = stack.cloud.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["queue_url"], AttributeNames=["QueueArn"]
    )
    assert [s["Resource"] for s in task["Statement"]] == [queue_arn["Attributes"]["QueueArn"]]  # the queues layer's


def test_the_master_password_stays_out_of_the_outputs(stack: Stack) -> None:
    secret = json.loads(
        stack.cloud.client("secretsmanager").get_secret_value(SecretId=f"{PREFIX}/db-master")["SecretString"]
    )
    assert secret["password"] not in json.dumps(stack.outputs)


def test_outputs_file_matches_what_the_emulator_holds(
    stack: Stack, vpc: dict[str, Any], db_cluster: dict[str, Any], bastion: dict[str, Any]
) -> None:
    out = stack.outputs
    assert out["environment"] == "local" and out["aws_region"] == "eu-west-1"
    assert out["aws_endpoint_url"] == stack.cloud.endpoint
    assert out["vpc_id"] == vpc["VpcId"]
    assert out["db_endpoint"] == db_cluster["Endpoint"] and out["db_port"] == 5432
    assert out["db_secret_arn"].startswith("arn:aws:secretsmanager:")
    assert out["ecs_cluster_arn"].endswith(f":cluster/{PREFIX}")
    assert out["bastion_instance_id"] == bastion["InstanceId"]
    assert out["bastion_private_ip"] == bastion["PrivateIpAddress"]
    key_parameters = stack.cloud.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [out["bastion_private_key_parameter"]]}]
    )["Parameters"]
    assert len(key_parameters) == 1  # what the key is kept in: molecule/bastion
    assert out["queue_url"].endswith(f"/{PREFIX}-jobs") and out["dlq_url"].endswith(f"/{PREFIX}-jobs-dlq")


def test_outputs_are_published_in_ssm_for_jobs_on_other_machines(stack: Stack) -> None:
    """deploy.yml reads the stack from this parameter (an AWX deploy job has no outputs.json)."""
    ssm = stack.cloud.client("ssm")
    name = f"/{PROJECT}/local/outputs"
    param = ssm.get_parameter(Name=name)["Parameter"]
    assert param["Type"] == "String"  # nothing secret in it, and readable without KMS
    published = json.loads(param["Value"])
    assert published == stack.outputs  # outputs.json is written from it
    assert published.keys() == contract().keys()  # every output of the contract, and nothing else
    tags = tags_of(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"])
    assert tags.items() >= {"Project": PROJECT, "Environment": "local", "ManagedBy": "ansible"}.items()


def contract() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "group_vars" / "all" / "outputs.yml").read_text())["stack_outputs_contract"])


def test_an_output_added_to_the_contract_reaches_the_parameter_the_file_and_the_summary(
    stack: Stack, tmp_path: Path
) -> None:
    """One entry in group_vars/all/outputs.yml is the whole edit: the next run of a layer publishes it."""
    extended = contract() | {"vpc_cidr": {"from": "network_outputs.vpc_cidr", "description": "The VPC's range."}}
    extra = tmp_path / "contract.json"
    extra.write_text(json.dumps({"stack_outputs_contract": extended}))
    ssm = stack.cloud.client("ssm")
    try:
        run = run_playbook("playbooks/network.yml", "-e", f"@{extra}", port=stack.cloud.port)
        assert run.returncode == 0, run.why
        shown = run_playbook("playbooks/outputs.yml", "-e", f"@{extra}", port=stack.cloud.port)
        assert shown.returncode == 0, shown.why
        published = json.loads(ssm.get_parameter(Name=f"/{PROJECT}/local/outputs")["Parameter"]["Value"])
        assert published["vpc_cidr"] == VPC_CIDR
        assert json.loads((ARTIFACTS / "local" / "outputs.json").read_text())["vpc_cidr"] == VPC_CIDR
        assert re.search(rf"^\s*vpc_cidr\s+{re.escape(VPC_CIDR)}$", shown.output, re.M), shown.output[-3000:]
    finally:
        # Back to the contract as it is: the key leaves the parameter and the file again.
        restore = run_playbook("playbooks/network.yml", port=stack.cloud.port)
        assert restore.returncode == 0, restore.why
        assert run_playbook("playbooks/outputs.yml", port=stack.cloud.port).returncode == 0
    published = json.loads(ssm.get_parameter(Name=f"/{PROJECT}/local/outputs")["Parameter"]["Value"])
    assert "vpc_cidr" not in published and published == stack.outputs
