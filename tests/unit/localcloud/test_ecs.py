"""localcloud/ecs.py: ECS's own rules as the local cloud applies them to task containers: what the
local ECS agent gives a task's container (its task role's session, its secrets read with the
execution role's session, and ECS's stopped reason when either is refused, against a running local
cloud that enforces IAM, localcloud/iam.py), the circuit breaker's threshold, Fargate's task
storage, and the scheduler's side of the load balancer (targets it checked itself, the
deregistration delay it waits before stopping replaced tasks)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localcloud import dataplane
from localcloud import ecs as ecs_module
from localcloud.dataplane import DataPlane
from localcloud.ecs import Ecs, TaskStartError, breaker_threshold, task_storage_flags
from localcloud.fidelity import INTERNAL_ACCESS_KEY

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.unit.localcloud.test_fidelity import _cloud

    with _cloud(tmp_path_factory.mktemp("ecs")) as url:
        yield url


@pytest.fixture(scope="module")
def ecs(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Ecs:
    plane = DataPlane(
        endpoint=endpoint,
        region=REGION,
        project="unit",
        state_dir=Path(tmp_path_factory.mktemp("plane")),
        access_key=INTERNAL_ACCESS_KEY,
    )
    return Ecs(plane, "unit")


def _admin(endpoint: str, service: str) -> Any:
    return boto3.client(
        service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _role(endpoint: str, name: str, service: str, *statements: dict[str, Any]) -> str:
    iam = _admin(endpoint, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if statements:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return str(arn)


def _container(secret_arn: str) -> dict[str, Any]:
    return {
        "name": "api",
        "environment": [{"name": "MODE", "value": "x"}],
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": f"{secret_arn}:password::"}],
    }


@pytest.fixture(scope="module")
def secret(endpoint: str) -> str:
    sm = _admin(endpoint, "secretsmanager")
    return str(sm.create_secret(Name="db-unit", SecretString=json.dumps({"password": "s3cret"}))["ARN"])


def test_a_task_gets_its_secrets_through_the_execution_role_and_its_task_roles_session(
    ecs: Ecs, endpoint: str, secret: str
) -> None:
    execution = _role(
        endpoint,
        "exec-ok",
        "ecs-tasks.amazonaws.com",
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret},
    )
    task = _role(endpoint, "task-ok", "ecs-tasks.amazonaws.com")
    env = ecs.container_env(_container(secret), {"executionRoleArn": execution, "taskRoleArn": task})
    assert env["DB_PASSWORD"] == "s3cret" and env["MODE"] == "x"  # noqa: S105 - a test value
    sts = boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
    assert ":assumed-role/task-ok/" in sts.get_caller_identity()["Arn"]


def test_a_task_without_a_task_role_gets_no_credentials(ecs: Ecs) -> None:
    env = ecs.container_env({"name": "api", "environment": []}, {})
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)
    assert env["AWS_REGION"] == REGION


def test_an_execution_role_without_getsecretvalue_stops_the_task_with_ecss_reason(
    ecs: Ecs, endpoint: str, secret: str
) -> None:
    execution = _role(endpoint, "exec-bare", "ecs-tasks.amazonaws.com")
    with pytest.raises(TaskStartError) as failed:
        ecs.container_env(_container(secret), {"executionRoleArn": execution})
    message = str(failed.value)
    assert message.startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        f"failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch "
        f"secret {secret} from secrets manager: AccessDeniedException: User: "
    )
    assert "is not authorized to perform: secretsmanager:GetSecretValue" in message


def test_a_role_that_does_not_trust_ecs_tasks_stops_the_task(ecs: Ecs, endpoint: str) -> None:
    task = _role(endpoint, "task-ec2", "ec2.amazonaws.com")
    with pytest.raises(TaskStartError, match="ECS was unable to assume the role"):
        ecs.container_env({"name": "api"}, {"taskRoleArn": task})


def test_the_documented_task_role_trust_policy_with_aws_sourcearn_admits_the_tasks_of_the_account(
    ecs: Ecs, endpoint: str
) -> None:
    # ECS's task IAM role docs: ArnLike aws:SourceArn arn:aws:ecs:<region>:<account>:* and StringEquals
    # aws:SourceAccount; ECS assumes the role with the task's ARN as the source.
    account = ecs.plane_account()
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{REGION}:{account}:*"},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            }
        ],
    }
    iam = _admin(endpoint, "iam")
    arn = iam.create_role(RoleName="task-sourcearn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    env = ecs.container_env({"name": "api"}, {"taskRoleArn": arn}, ecs.new_task_arn(account))
    assert env["AWS_SESSION_TOKEN"]
    other = f"arn:aws:ecs:us-east-1:{account}:task/unit/{uuid.uuid4().hex}"  # another region's task
    with pytest.raises(TaskStartError, match="ECS was unable to assume the role"):
        ecs.container_env({"name": "api"}, {"taskRoleArn": arn}, other)


def test_a_service_tasks_arn_is_made_as_ecs_makes_it_from_the_clusters_name(ecs: Ecs) -> None:
    by_arn = Ecs(ecs.plane, f"arn:aws:ecs:{REGION}:123456789012:cluster/unit")
    for arn in (ecs.new_task_arn("123456789012"), by_arn.new_task_arn("123456789012")):
        prefix, task_id = arn.rsplit("/", 1)
        assert prefix == f"arn:aws:ecs:{REGION}:123456789012:task/unit" and len(task_id) == 32, arn


PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


@pytest.fixture(scope="module")
def ecr_image(endpoint: str) -> tuple[str, str]:
    """(image URI, repository ARN) of an image recorded in the emulator's ECR, as ``push`` records one."""
    ecr = _admin(endpoint, "ecr")
    repo = ecr.create_repository(repositoryName="unit-app")["repository"]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "c" * 64,
        },
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "size": 0, "digest": "sha256:" + "a" * 64}
        ],
    }
    ecr.put_image(repositoryName="unit-app", imageManifest=json.dumps(manifest), imageTag="v1")
    return f"{repo['repositoryUri']}:v1", str(repo["repositoryArn"])


@pytest.mark.parametrize(
    ("actions", "reason"),
    [
        (
            [],
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
            "failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): "
            "AccessDeniedException: User: ",
        ),
        (
            ["ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer"],
            "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref ",
        ),
        (
            ["ecr:GetAuthorizationToken", "ecr:BatchGetImage"],
            "CannotPullContainerError: failed to copy: httpReadSeeker: failed open: unexpected status code https://",
        ),
    ],
)
def test_an_execution_role_that_may_not_pull_the_ecr_image_stops_the_task_with_ecss_reason(
    ecs: Ecs, endpoint: str, ecr_image: tuple[str, str], actions: list[str], reason: str
) -> None:
    image, repository = ecr_image
    statements = [
        {"Effect": "Allow", "Action": a, "Resource": "*" if a.endswith("Token") else repository} for a in actions
    ]
    execution = _role(
        endpoint,
        f"exec-pull-{len(actions)}-{actions[-1][-5:] if actions else ''}",
        "ecs-tasks.amazonaws.com",
        *statements,
    )
    with pytest.raises(TaskStartError) as failed:
        ecs.container_env({"name": "api", "image": image}, {"executionRoleArn": execution})
    assert str(failed.value).startswith(reason)


def test_an_execution_role_that_may_pull_the_ecr_image_starts_the_task(
    ecs: Ecs, endpoint: str, ecr_image: tuple[str, str]
) -> None:
    image, repository = ecr_image
    execution = _role(
        endpoint,
        "exec-pull-ok",
        "ecs-tasks.amazonaws.com",
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": PULL, "Resource": repository},
    )
    assert ecs.container_env({"name": "api", "image": image}, {"executionRoleArn": execution})["AWS_REGION"] == REGION
    with pytest.raises(TaskStartError, match=r"CannotPullContainerError: .*: not found"):
        ecs.container_env({"name": "api", "image": image.replace(":v1", ":v2")}, {"executionRoleArn": execution})
    with pytest.raises(TaskStartError, match="no basic auth credentials"):
        ecs.container_env({"name": "api", "image": image}, {})


def _logged(group: str) -> dict[str, Any]:
    return {
        "name": "api",
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "api"},
        },
    }


def test_the_awslogs_stream_is_created_with_the_execution_role_or_the_task_stops_with_ecss_reason(
    ecs: Ecs, endpoint: str
) -> None:
    logs = _admin(endpoint, "logs")
    logs.create_log_group(logGroupName="/ecs/unit")
    groups = f"arn:aws:logs:{REGION}:{ecs.plane_account()}:log-group:/ecs/*"
    bare = _role(endpoint, "exec-nologs", "ecs-tasks.amazonaws.com")
    with pytest.raises(TaskStartError) as failed:
        ecs.container_env(_logged("/ecs/unit"), {"executionRoleArn": bare})
    message = str(failed.value)
    assert message.startswith(
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
        "failed to create Cloudwatch log stream: AccessDeniedException: User: "
    )
    assert "logs:CreateLogStream" in message and message.endswith(" : exit status 1")
    writer = _role(
        endpoint,
        "exec-logs",
        "ecs-tasks.amazonaws.com",
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{groups}:*"},
    )
    task_arn = ecs.new_task_arn()
    ecs.container_env(_logged("/ecs/unit"), {"executionRoleArn": writer}, task_arn)
    stream = f"api/api/{task_arn.rsplit('/', 1)[1]}"
    assert logs.get_log_events(logGroupName="/ecs/unit", logStreamName=stream)["events"]
    with pytest.raises(TaskStartError, match="ResourceNotFoundException"):  # no such group: ECS's same reason
        ecs.container_env(_logged("/ecs/none"), {"executionRoleArn": writer})


@pytest.mark.parametrize(
    ("desired", "expected"),
    [(0, 3), (1, 3), (2, 3), (5, 3), (6, 3), (7, 4), (10, 5), (399, 200), (1000, 200)],
)
def test_the_circuit_breaker_tolerates_half_the_desired_count_between_3_and_200(desired: int, expected: int) -> None:
    assert breaker_threshold(desired, {"enable": True, "rollback": True}) == expected


def test_a_threshold_configuration_overrides_the_default() -> None:
    assert breaker_threshold(10, {"thresholdConfiguration": {"type": "COUNT", "value": 1}}) == 1
    assert breaker_threshold(2, {"thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 50}}) == 1
    assert breaker_threshold(2, {"thresholdConfiguration": {"type": "BOUNDED_PERCENT", "value": 100}}) == 3
    assert breaker_threshold(10, {"thresholdConfiguration": {"type": "BOUNDED_PERCENT", "value": 100}}) == 10


def test_task_storage_is_root_0755_unless_the_image_declares_the_volume() -> None:
    assert task_storage_flags("/tmp", set()) == ["--mount", "type=volume,destination=/tmp,volume-nocopy"]
    assert task_storage_flags("/tmp", {"/tmp"}) == ["--mount", "type=volume,destination=/tmp"]


@pytest.fixture(scope="module")
def images() -> Iterator[tuple[str, str]]:
    """Two images of a non-root user: one declares /tmp a VOLUME (owned by the user), one does not."""
    base, _ = dataplane.ensure_image()
    tag = uuid.uuid4().hex[:8]
    plain, declared = f"resume-localcloud/fargate-probe:plain-{tag}", f"resume-localcloud/fargate-probe:vol-{tag}"
    recipes = {
        plain: f"FROM {base}\nENTRYPOINT []\nUSER 10001:10001\n",
        declared: f'FROM {base}\nENTRYPOINT []\nRUN install -d -o 10001 -g 10001 -m 1777 /tmp\nVOLUME ["/tmp"]\n'
        "USER 10001:10001\n",
    }
    for name, recipe in recipes.items():
        subprocess.run(["docker", "build", "-q", "-t", name, "-"], input=recipe, text=True, check=True)
    try:
        yield plain, declared
    finally:
        subprocess.run(["docker", "image", "rm", "-f", plain, declared], capture_output=True, check=False)


def in_task(image: str, script: str, user: str = "") -> subprocess.CompletedProcess[str]:
    """``script`` in a container of ``image`` run read-only with /tmp mounted as Fargate mounts task storage."""
    volumes = dataplane.run(["docker", "image", "inspect", "--format", "{{json .Config.Volumes}}", image])
    declared = set(json.loads(volumes) or {})
    argv = ["docker", "run", "--rm", "--read-only", *(["--user", user] if user else [])]
    argv += [*task_storage_flags("/tmp", declared), image, "sh", "-c", script]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def test_a_non_root_task_cannot_write_tmp_unless_the_image_declares_it(images: tuple[str, str]) -> None:
    plain, declared = images
    # Fargate: root-owned 0755 by default; the image's directory (owner, mode) when it declares the VOLUME.
    assert in_task(plain, "stat -c '%u:%g %a' /tmp").stdout.split() == ["0:0", "755"]
    assert in_task(declared, "stat -c '%u:%g %a' /tmp").stdout.split() == ["10001:10001", "1777"]
    assert in_task(plain, "touch /tmp/probe").returncode != 0
    assert in_task(declared, "touch /tmp/probe").returncode == 0
    # The root file system stays read-only, even for root.
    assert "Read-only file system" in in_task(declared, "touch /probe", user="0").stderr


class FakeElb:
    def __init__(self, registered: list[str], delay: str | None) -> None:
        self.registered = set(registered)
        self.delay = delay

    def describe_target_health(self, TargetGroupArn: str) -> dict[str, Any]:
        return {"TargetHealthDescriptions": [{"Target": {"Id": ip, "Port": 8000}} for ip in sorted(self.registered)]}

    def register_targets(self, TargetGroupArn: str, Targets: list[dict[str, Any]]) -> None:
        self.registered |= {t["Id"] for t in Targets}

    def deregister_targets(self, TargetGroupArn: str, Targets: list[dict[str, Any]]) -> None:
        self.registered -= {t["Id"] for t in Targets}

    def describe_target_group_attributes(self, TargetGroupArn: str) -> dict[str, Any]:
        attributes = (
            [] if self.delay is None else [{"Key": "deregistration_delay.timeout_seconds", "Value": self.delay}]
        )
        return {"Attributes": attributes}


class FakeController:
    def __init__(self, elb: FakeElb) -> None:
        self.elb = elb
        self.synced = 0

    def plane(self, _region: str) -> Any:
        controller = self

        class Plane:
            def _client(self, _service: str) -> FakeElb:
                return controller.elb

        return Plane()

    def balancers_changed(self, _region: str, *, wait: bool = False) -> None:
        self.synced += 1


LB = {"targetGroupArn": "arn:tg", "containerPort": 8000}


def test_a_replacement_waits_the_target_groups_deregistration_delay_on_the_local_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.02")
    elb = FakeElb(["10.0.0.1"], "30")
    scheduler = ecs_module.Scheduler(FakeController(elb))
    assert scheduler.register_targets("eu-west-1", LB, ["10.0.0.2"]) == pytest.approx(0.6)
    assert elb.registered == {"10.0.0.2"}
    assert scheduler.checked_targets == {"10.0.0.2:8000"}  # the listener puts it in rotation at once


def test_without_a_deregistration_there_is_nothing_to_wait_and_awss_default_is_300_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.01")
    scheduler = ecs_module.Scheduler(FakeController(FakeElb([], None)))
    assert scheduler.register_targets("eu-west-1", LB, ["10.0.0.2"]) == 0.0
    scheduler = ecs_module.Scheduler(FakeController(FakeElb(["10.0.0.1"], None)))
    assert scheduler.register_targets("eu-west-1", LB, ["10.0.0.2"]) == pytest.approx(3.0)
