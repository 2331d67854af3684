"""Bad input stops the run before any AWS call, with a message naming the variable."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Cloud, Stack, no_project_vpc
from tests.integration.helpers import VPC_PREFIX, run_playbook

CASES = {
    "invalid_cidr": ({"network_vpc_cidr": "10.400.0.0/16"}, "network_vpc_cidr"),
    "subnet_outside_vpc": (
        {"network_private_subnet_cidrs": [f"{VPC_PREFIX}.128.0/20", "192.168.0.0/24"]},
        "network_private_subnet_cidrs",
    ),
    "one_zone": (
        {
            "network_availability_zones": ["eu-west-1a"],
            "network_public_subnet_cidrs": [f"{VPC_PREFIX}.0.0/20"],
            "network_private_subnet_cidrs": [f"{VPC_PREFIX}.128.0/20"],
        },
        "network_availability_zones",
    ),
    "unknown_nat_mode": ({"network_nat_mode": "two_per_az"}, "network_nat_mode"),
    # No NAT and no interface endpoints: nothing in the private subnets could reach ECR, Secrets
    # Manager, CloudWatch Logs, SQS or SSM.
    "no_way_out_of_the_private_subnets": ({"network_nat_mode": "none"}, "network_nat_mode"),
    "unknown_engine_mode": ({"database_engine_mode": "mysql"}, "database_engine_mode"),
    "empty_environment": ({"env_name": ""}, "env_name"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_naming_the_variable_and_creates_nothing(empty_cloud: Cloud, case: str) -> None:
    extra, variable = CASES[case]
    run = run_playbook("site.yml", "-e", json.dumps(extra), port=empty_cloud.port)
    assert run.returncode != 0
    failure = run.output[run.output.index("fatal:") :] if "fatal:" in run.output else run.output
    assert variable in failure
    assert "Read the account of the credentials" not in run.output  # the first AWS call
    assert no_project_vpc(empty_cloud)


def test_check_mode_on_an_empty_account_completes_and_creates_nothing(empty_cloud: Cloud) -> None:
    run = run_playbook("site.yml", "--check", "--diff", port=empty_cloud.port)
    assert run.returncode == 0, run.why
    assert "would create" in run.output or run.changed > 0
    assert no_project_vpc(empty_cloud)
    assert empty_cloud.client("secretsmanager").list_secrets()["SecretList"] == []


def test_deploy_on_an_account_never_provisioned_says_what_to_run(empty_cloud: Cloud) -> None:
    run = run_playbook("playbooks/deploy.yml", port=empty_cloud.port)
    assert run.returncode != 0
    failure = " ".join(run.output[run.output.index("fatal:") :].split())  # the YAML callback wraps lines
    assert "/resume/local/outputs" in failure and "provision it first" in failure
    assert "Create the image repository" not in run.output  # stopped before the role's first change
    assert empty_cloud.client("ecr").describe_repositories()["repositories"] == []


@pytest.mark.parametrize("tag", ["-latest", "v1/evil"])
def test_deploy_refuses_a_bad_image_tag_before_changing_anything(stack: Stack, tag: str) -> None:
    repositories = stack.cloud.client("ecr").describe_repositories()["repositories"]
    run = run_playbook("playbooks/deploy.yml", "-e", json.dumps({"app_deploy_image_tag": tag}), port=stack.cloud.port)
    assert run.returncode != 0
    # The callback prints the message as YAML: folded, with single quotes doubled inside quotes.
    failure = " ".join(run.output[run.output.index("fatal:") :].split()).replace("''", "'")
    assert "app_deploy_image_tag must be a Docker tag" in failure
    assert "image | Create the image repository" not in run.output
    assert stack.cloud.client("ecr").describe_repositories()["repositories"] == repositories


def test_deploy_refuses_a_real_certificate_without_the_domain_it_covers(stack: Stack) -> None:
    """A certificate ACM issued never names the load balancer's DNS name: without the domain clients
    use, every deploy's smoke test would fail certificate verification after the rollout."""
    certificate = {"app_deploy_certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/0d6a5b1e"}
    run = run_playbook("playbooks/deploy.yml", "-e", json.dumps(certificate), port=stack.cloud.port)
    assert run.returncode != 0
    # The callback prints the message as YAML: folded, with single quotes doubled inside quotes.
    failure = " ".join(run.output[run.output.index("fatal:") :].split()).replace("''", "'")
    assert "app_deploy_domain_name is empty" in failure
    assert "image | Create the image repository" not in run.output


def test_deploy_of_a_tag_absent_from_ecr_fails_saying_so_and_changes_nothing(stack: Stack) -> None:
    """deploy.yml builds nothing (an AWX execution environment has neither Docker nor the AWS CLI): a
    tag that playbooks/image.yml never pushed stops the run before its first change."""
    ecs = stack.cloud.client("ecs")
    families = ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
    run = run_playbook("playbooks/deploy.yml", "-e", "app_deploy_image_tag=never-pushed-0", port=stack.cloud.port)
    assert run.returncode != 0
    # The callback prints the message as YAML: folded, with single quotes doubled inside quotes.
    failure = " ".join(run.output[run.output.index("fatal:") :].split()).replace("''", "'")
    assert "Image tag 'never-pushed-0' is not in ECR repository" in failure, failure
    assert "playbooks/image.yml" in failure and "Nothing was changed" in failure
    assert run.changed == 0, run.output[-3000:]
    assert "Build the image" not in run.output
    assert ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == families
