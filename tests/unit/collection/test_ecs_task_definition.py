"""resumestack.cloud.ecs_task_definition: the comparison in-process (against a revision as ECS returns it), and the
module run for real (ansible CLI) against an in-process moto server."""

import copy
from typing import Any

import pytest
from ansible_collections.resumestack.cloud.plugins.modules.ecs_task_definition import differences
from conftest import unique

EXECUTION_ROLE = "arn:aws:iam::123456789012:role/resume-dev-ecs-execution"
TASK_ROLE = "arn:aws:iam::123456789012:role/resume-dev-ecs-task"
DB_CREDENTIALS = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:resume-dev-db-AbCdEf"


def requested(family: str = "resume-dev-api") -> dict[str, Any]:
    """A definition as the app_deploy role asks for it (RegisterTaskDefinition's spelling)."""
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": EXECUTION_ROLE,
        "taskRoleArn": TASK_ROLE,
        "volumes": [{"name": "tmp"}],
        "containerDefinitions": [
            {
                "name": "api",
                "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/resume:abc",
                "essential": True,
                "command": ["python3", "-m", "resume_service.main"],
                "user": "10001:10001",
                "readonlyRootFilesystem": True,
                "portMappings": [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}],
                "environment": [
                    {"name": "LOG_LEVEL", "value": "INFO"},
                    {"name": "DB_HOST", "value": "db.dev.resume.internal"},
                ],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": f"{DB_CREDENTIALS}:password::"}],
                "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
                "healthCheck": {"command": ["CMD", "true"], "interval": 10, "timeout": 5, "retries": 3},
                "stopTimeout": 30,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/resume-dev", "awslogs-stream-prefix": "api"},
                },
            }
        ],
    }


def as_ecs_returns(definition: dict[str, Any]) -> dict[str, Any]:
    """``definition`` as DescribeTaskDefinition returns it: ECS's defaults and read-only fields added, the
    environment in another order, a port mapping's hostPort and protocol filled in, versionConsistency
    on every container (ECS sets it since 2024)."""
    returned = copy.deepcopy(definition)
    returned.update(
        taskDefinitionArn=f"arn:aws:ecs:eu-west-1:123456789012:task-definition/{definition['family']}:4",
        revision=4,
        status="ACTIVE",
        compatibilities=["EC2", "FARGATE"],
        requiresAttributes=[{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
        placementConstraints=[],
        registeredAt="2026-11-29T10:00:00Z",
        volumes=[{"name": v["name"], "host": {}} for v in definition["volumes"]],
    )
    for container in returned["containerDefinitions"]:
        container["environment"] = list(reversed(container["environment"]))
        container["portMappings"] = [dict({"protocol": "tcp"}, **p) for p in container["portMappings"]]
        container["logConfiguration"]["secretOptions"] = []
        container.update(cpu=0, volumesFrom=[], systemControls=[], essential=True, versionConsistency="enabled")
    return returned


def test_a_revision_as_ecs_returns_it_matches_the_request() -> None:
    assert differences(requested(), as_ecs_returns(requested())) == []


def test_a_port_mapping_without_protocol_or_host_port_matches_what_ecs_fills_in() -> None:
    asked = requested()
    asked["containerDefinitions"][0]["portMappings"] = [{"containerPort": 8000}]
    assert differences(asked, as_ecs_returns(requested())) == []


def changed(path: str, value: Any) -> dict[str, Any]:
    asked = requested()
    target: Any = asked
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(last) if last.isdigit() else last] = value
    return asked


@pytest.mark.parametrize(
    ("path", "value", "difference"),
    [
        ("cpu", "512", "cpu"),
        ("memory", "1024", "memory"),
        ("executionRoleArn", EXECUTION_ROLE + "-2", "executionRoleArn"),
        ("taskRoleArn", TASK_ROLE + "-2", "taskRoleArn"),
        # Same length lists, other values: what community.aws.ecs_taskdefinition takes as equal.
        ("containerDefinitions.0.environment.0", {"name": "LOG_LEVEL", "value": "DEBUG"}, "environment"),
        ("containerDefinitions.0.environment.1", {"name": "DB_HOST", "value": "proxy.dev"}, "environment"),
        ("containerDefinitions.0.secrets.0", {"name": "DB_PASSWORD", "valueFrom": DB_CREDENTIALS + "-2"}, "secrets"),
        ("containerDefinitions.0.command", ["python3", "-m", "resume_service.worker"], "command"),
        ("containerDefinitions.0.portMappings.0", {"containerPort": 8080}, "portMappings"),
        ("containerDefinitions.0.healthCheck.retries", 5, "healthCheck"),
        ("containerDefinitions.0.stopTimeout", 60, "stopTimeout"),
        ("containerDefinitions.0.readonlyRootFilesystem", False, "readonlyRootFilesystem"),
    ],
)
def test_any_changed_setting_is_a_difference(path: str, value: Any, difference: str) -> None:
    found = differences(changed(path, value), as_ecs_returns(requested()))
    assert len(found) == 1, found
    assert found[0].endswith(difference), found


def test_a_setting_the_revision_has_and_the_request_dropped_is_a_difference() -> None:
    asked = requested()
    del asked["containerDefinitions"][0]["command"]
    assert differences(asked, as_ecs_returns(requested())) == ["containerDefinitions[api].command"]


def test_no_revision_is_a_difference() -> None:
    assert differences(requested(), None) != []


# --------------------------------------------------------------------------- the module, for real


def module_args(family: str, log_level: str = "INFO", **extra: Any) -> dict[str, Any]:
    container = copy.deepcopy(requested()["containerDefinitions"][0])
    container["environment"][0]["value"] = log_level
    return {
        "family": family,
        "cpu": "256",
        "memory": "512",
        "execution_role_arn": EXECUTION_ROLE,
        "task_role_arn": TASK_ROLE,
        "volumes": [{"name": "tmp"}],
        "containers": [container],
        **extra,
    }


def active_revisions(aws: Any, family: str) -> list[str]:
    return list(aws("ecs").list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"])


def test_check_mode_registers_nothing(run_module: Any, aws: Any) -> None:
    family = unique("td")
    result = run_module("ecs_task_definition", module_args(family), check=True)
    assert result["changed"] is True, result
    assert active_revisions(aws, family) == []


def test_register_then_rerun_then_a_changed_log_level_gives_exactly_one_revision(run_module: Any, aws: Any) -> None:
    family = unique("td")
    first = run_module("ecs_task_definition", module_args(family))
    assert first["changed"] is True, first
    assert first["taskdefinition"]["revision"] == 1

    again = run_module("ecs_task_definition", module_args(family))
    assert again["changed"] is False, again
    assert again["differences"] == []
    assert again["taskdefinition"]["taskDefinitionArn"] == first["taskdefinition"]["taskDefinitionArn"]

    debug = run_module("ecs_task_definition", module_args(family, "DEBUG"))
    assert debug["changed"] is True, debug
    assert debug["differences"] == ["containerDefinitions[api].environment"]
    assert len(active_revisions(aws, family)) == 2
    assert run_module("ecs_task_definition", module_args(family, "DEBUG"))["changed"] is False

    # Back to the first setting: a new revision, so the latest one is always what was asked for.
    back = run_module("ecs_task_definition", module_args(family, "INFO"))
    assert back["changed"] is True
    assert back["taskdefinition"]["revision"] == 3

    bigger = run_module("ecs_task_definition", module_args(family, "INFO", cpu="512", memory="1024"))
    assert bigger["changed"] is True
    assert bigger["differences"] == ["cpu", "memory"]
    assert len(active_revisions(aws, family)) == 4


def test_a_definition_ecs_refuses_fails_clearly(run_module: Any) -> None:
    result = run_module("ecs_task_definition", module_args(unique("td"), containers=[{"name": "api"}]))
    assert result.get("failed") is True, result
    assert "Could not register a revision of task definition family" in result["msg"]
