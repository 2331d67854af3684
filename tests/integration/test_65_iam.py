"""IAM enforced on the session's stack (localcloud/iam.py): the service's tasks run with their task
role's credentials and read their secrets with the execution role's, the bastion with its instance
role's; a permission taken away fails as it fails on AWS. Each test puts the policy back."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.dataplane import DataPlane
from localcloud.ecs import ECS_LABEL
from tests.integration.conftest import LOGS, ROOT, Stack
from tests.integration.helpers import ARTIFACTS, PROJECT, client, run_playbook
from tests.integration.test_60_deploy import API, PREFIX, http

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def outputs(stack: Stack) -> dict[str, Any]:
    """The service deployed on the session's stack (by site.yml, or here by deploy.yml)."""
    if "app_url" not in json.loads((ARTIFACTS / "local" / "outputs.json").read_text()):
        first = run_playbook("playbooks/deploy.yml", port=stack.cloud.port, log=LOGS / "deploy-first-run.log")
        assert first.returncode == 0, first.why
    return dict(json.loads((ARTIFACTS / "local" / "outputs.json").read_text()))


def roles_of(stack: Stack) -> tuple[str, str]:
    """(task role, execution role) names of the API's running task definition."""
    arn = service_of(stack)["taskDefinition"]
    definition = stack.cloud.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return definition["taskRoleArn"].rsplit("/", 1)[1], definition["executionRoleArn"].rsplit("/", 1)[1]


def service_of(stack: Stack) -> dict[str, Any]:
    found = stack.cloud.client("ecs").describe_services(cluster=PREFIX, services=[API])["services"]
    return dict(found[0])


@contextmanager
def without(stack: Stack, role: str, policy: str, action: str) -> Iterator[None]:
    """The role's inline policy with ``action`` taken out of every statement, put back afterwards."""
    iam = stack.cloud.client("iam")
    original = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    document = original if isinstance(original, dict) else json.loads(original)

    def actions(statement: dict[str, Any]) -> list[str]:
        return [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])

    statements = [
        {**statement, "Action": [a for a in actions(statement) if a != action]}
        for statement in document["Statement"]
        if [a for a in actions(statement) if a != action]
    ]
    before = sum(len(actions(s)) for s in document["Statement"])
    assert sum(len(actions(s)) for s in statements) < before, f"{action} is not in {role}/{policy}"
    iam.put_role_policy(
        RoleName=role, PolicyName=policy, PolicyDocument=json.dumps({**document, "Statement": statements})
    )
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document))


def api_container_env(stack: Stack) -> dict[str, str]:
    names = subprocess.run(
        ["docker", "ps", "--format", "{{.Names}}", "--filter", f"label={ECS_LABEL}.service={API}",
         "--filter", f"label={ECS_LABEL}.endpoint={stack.cloud.endpoint}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert names, "no API task container runs"
    raw = subprocess.run(
        ["docker", "inspect", "--format", "{{json .Config.Env}}", names[0]], capture_output=True, text=True, check=True
    ).stdout
    return dict(item.split("=", 1) for item in json.loads(raw))


def test_the_tasks_run_with_their_task_roles_session_not_the_emulators_keys(
    stack: Stack, outputs: dict[str, Any]
) -> None:
    env = api_container_env(stack)
    task_role, _ = roles_of(stack)
    assert env["AWS_ACCESS_KEY_ID"] != "testing" and env.get("AWS_SESSION_TOKEN")
    sts = client("sts", stack.cloud.endpoint, env)
    assert f":assumed-role/{task_role}/" in sts.get_caller_identity()["Arn"]
    # What the app needs and no more: not the database's master secret (the execution role reads it).
    secrets = client("secretsmanager", stack.cloud.endpoint, env)
    with pytest.raises(ClientError, match="AccessDeniedException"):
        secrets.get_secret_value(SecretId=outputs["db_secret_arn"])
    # The app is given its queue's URL: it never looks it up, so its role may not either.
    sqs = client("sqs", stack.cloud.endpoint, env)
    sqs.get_queue_attributes(QueueUrl=outputs["queue_url"], AttributeNames=["QueueArn"])  # its readiness check
    with pytest.raises(ClientError, match="AccessDenied"):
        sqs.get_queue_url(QueueName=outputs["queue_url"].rsplit("/", 1)[1])


def test_without_sqs_sendmessage_in_the_task_role_an_export_cannot_be_enqueued(
    stack: Stack, outputs: dict[str, Any]
) -> None:
    url = outputs["app_url"]
    status, resume = http("POST", url + "/api/resumes", {"name": "Iam", "contact": {"email": "iam@example.com"}})
    assert status == 201
    task_role, _ = roles_of(stack)
    with without(stack, task_role, "task", "sqs:SendMessage"):
        status, _ = http("POST", f"{url}/api/resumes/{resume['id']}/exports", {"format": "markdown"})
    assert status == 503  # the app's answer when SQS refuses: "queue unavailable"
    status, _ = http("POST", f"{url}/api/resumes/{resume['id']}/exports", {"format": "markdown"})
    assert status == 202, "the export works again once the permission is back"


def test_without_getsecretvalue_in_the_execution_role_the_deploy_fails_with_ecss_reason(
    stack: Stack, outputs: dict[str, Any]
) -> None:
    serving = service_of(stack)["taskDefinition"]
    _, execution_role = roles_of(stack)
    tag = outputs["image"].rsplit(":", 1)[1]
    # A level the serving revision does not have: only a new revision starts tasks that read secrets.
    definition = stack.cloud.client("ecs").describe_task_definition(taskDefinition=serving)["taskDefinition"]
    current = {e["name"]: e["value"] for e in definition["containerDefinitions"][0]["environment"]}["LOG_LEVEL"]
    level = "ERROR" if current == "WARNING" else "WARNING"
    with without(stack, execution_role, "task-execution", "secretsmanager:GetSecretValue"):
        run = run_playbook(
            "playbooks/deploy.yml",
            "-e", f"app_deploy_image_tag={tag}", "-e", "image_build=false", "-e", f"app_deploy_log_level={level}",
            "-e", "app_deploy_steady_state_timeout=90",
            port=stack.cloud.port, log=LOGS / "deploy-without-getsecretvalue.log",
        )  # fmt: skip
    assert run.returncode != 0
    assert "ResourceInitializationError: unable to pull secrets or registry auth" in run.output, run.output[-3000:]
    assert "AccessDeniedException" in run.output and "secretsmanager:GetSecretValue" in run.output
    assert service_of(stack)["taskDefinition"] == serving  # rolled back: the previous revision keeps serving
    assert http("GET", outputs["app_url"] + "/health")[0] == 200


def test_without_ecr_batchgetimage_in_the_execution_role_a_task_cannot_pull_its_image(stack: Stack) -> None:
    # A one-off task of the API's revision: it stops before its container runs, so this costs seconds.
    service = service_of(stack)
    _, execution_role = roles_of(stack)
    ecs = stack.cloud.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    with without(stack, execution_role, "task-execution", "ecr:BatchGetImage"):
        arn = ecs.run_task(
            cluster=PREFIX,
            taskDefinition=service["taskDefinition"],
            launchType="FARGATE",
            networkConfiguration=service["networkConfiguration"],
            overrides={
                "containerOverrides": [{"name": definition["containerDefinitions"][0]["name"], "command": ["true"]}]
            },
        )["tasks"][0]["taskArn"]
        deadline = time.monotonic() + 60
        while (task := ecs.describe_tasks(cluster=PREFIX, tasks=[arn])["tasks"][0])["lastStatus"] != "STOPPED":
            assert time.monotonic() < deadline, f"the task is still {task['lastStatus']}"
            time.sleep(1)
    image = definition["containerDefinitions"][0]["image"]
    assert task["stoppedReason"].startswith(
        f"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {image}: "
    ), task["stoppedReason"]
    assert "403 Forbidden" in task["stoppedReason"]


def bastion_client(stack: Stack) -> Any:
    """client(service): a client with the credentials the local cloud gave the bastion (its instance role's)."""
    plane = DataPlane(
        endpoint=stack.cloud.endpoint,
        region=REGION,
        project=PROJECT,
        state_dir=Path(os.environ.get("LOCALCLOUD_DATAPLANE_DIR", ROOT / ".state" / "dataplane")),
    )
    container = plane.container_name(stack.outputs["bastion_instance_id"])
    environment = subprocess.run(
        ["docker", "exec", container, "cat", "/etc/environment"], capture_output=True, text=True, check=True
    ).stdout
    env = dict(line.split("=", 1) for line in environment.splitlines() if line.startswith("AWS_"))
    assert env["AWS_ACCESS_KEY_ID"] != "testing" and env.get("AWS_SESSION_TOKEN")

    def session_client(service: str) -> Any:
        return client(service, stack.cloud.endpoint, env)

    return session_client


def test_the_bastion_has_its_instance_roles_credentials_and_only_what_db_connect_needs(
    stack: Stack, outputs: dict[str, Any]
) -> None:
    as_bastion = bastion_client(stack)
    identity = as_bastion("sts").get_caller_identity()["Arn"]
    assert ":assumed-role/" in identity and identity.endswith("/" + stack.outputs["bastion_instance_id"])
    assert as_bastion("secretsmanager").get_secret_value(SecretId=outputs["db_secret_arn"])["SecretString"]
    with pytest.raises(ClientError, match="AccessDenied"):
        as_bastion("sqs").send_message(QueueUrl=outputs["queue_url"], MessageBody="not from the bastion")


def test_no_instance_reads_the_bastions_private_key_not_even_the_bastion(stack: Stack) -> None:
    """AmazonSSMManagedInstanceCore allows ssm:GetParameter on * to every SSM-managed instance: under
    the default aws/ssm key, any of them read the key. Under the key's own KMS key, whose policy denies
    the bastion's role and leaves the rest to IAM policies, the bastion's role session cannot."""
    as_bastion = bastion_client(stack)
    name = stack.outputs["bastion_private_key_parameter"]
    with pytest.raises(ClientError, match="AccessDenied") as refused:
        as_bastion("ssm").get_parameter(Name=name, WithDecryption=True)
    assert "kms:Decrypt" in str(refused.value)
    # The administrator (the local cloud's own keys) still reads it, as configure.yml does.
    value = stack.cloud.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert "BEGIN OPENSSH PRIVATE KEY" in value
