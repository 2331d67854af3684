#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_task_definition
version_added: 1.2.0
short_description: Register an ECS task definition revision when the latest one differs in anything
description:
  - Registers a new revision of a task definition family unless the family's latest C(ACTIVE) revision already is
    the requested definition. The whole definition is compared (every container setting, environment and secret
    values, port mappings, the task size, the execution and task roles, network mode, compatibilities, volumes),
    after filling in what ECS fills in (C(essential), a port mapping's C(protocol) and C(hostPort), empty lists,
    C(cpu) 0) and ignoring the order of environment variables and secrets.
  - M(community.aws.ecs_taskdefinition) takes two lists of the same length as equal whatever they hold and never
    compares the task size or the execution role, so a changed setting with the same image is silently not deployed.
    It also reads every revision of the family on every run.
  - Only the latest C(ACTIVE) revision counts. Going back to an older setting registers a new revision, so the latest
    revision always is what the play asked for.
  - "IAM permissions needed: C(ecs:DescribeTaskDefinition), C(ecs:RegisterTaskDefinition), C(iam:PassRole) for the
    task and execution roles."
author:
  - ResumeStack maintainers (@resumestack)
options:
  family:
    description: The task definition family.
    type: str
    required: true
  containers:
    description: Container definitions, in the API's spelling (camelCase keys, as RegisterTaskDefinition takes them).
    type: list
    elements: dict
    required: true
  cpu:
    description: Task CPU units, as a string (C("256")).
    type: str
  memory:
    description: Task memory in MiB, as a string (C("512")).
    type: str
  network_mode:
    description: The network mode.
    type: str
    choices: [awsvpc, bridge, host, none]
    default: awsvpc
  requires_compatibilities:
    description: Launch types the definition must be valid for.
    type: list
    elements: str
    default: [FARGATE]
  execution_role_arn:
    description: Role ECS uses to pull the image, read the secrets and write the logs.
    type: str
    default: ""
  task_role_arn:
    description: Role the containers run as.
    type: str
    default: ""
  volumes:
    description: Task volumes, in the API's spelling.
    type: list
    elements: dict
    default: []
notes:
  - There is no I(state=absent): the services' revisions stay registered (ECS keeps them for rollbacks).
  - Check mode registers nothing and reports whether a revision would be registered.
"""

EXAMPLES = r"""
- name: Register the API task definition
  resumestack.cloud.ecs_task_definition:
    family: resume-dev-api
    cpu: "256"
    memory: "512"
    execution_role_arn: arn:aws:iam::123456789012:role/resume-dev-ecs-execution
    task_role_arn: arn:aws:iam::123456789012:role/resume-dev-ecs-task
    containers:
      - name: api
        image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/resume:abc123
        environment: [{name: LOG_LEVEL, value: INFO}]
        portMappings: [{containerPort: 8000}]
"""

RETURN = r"""
taskdefinition:
  description: The revision the family's services should run (registered now, or the latest one when it matched).
  returned: success, except a registration under check mode
  type: dict
  sample: {"taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/resume-dev-api:7", "revision": 7}
differences:
  description: The fields in which the latest revision differs from the requested definition (empty when it matched).
  returned: always
  type: list
  elements: str
  sample: ["containerDefinitions[api].environment", "cpu"]
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, aws_errors, retrying_client
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome

# What ECS returns for a container setting that was not sent: such a value means "not set".
CONTAINER_DEFAULTS: dict[str, Any] = {"essential": True, "cpu": 0, "versionConsistency": "enabled"}
# Lists whose order ECS does not keep or that mean a set: compared sorted by these keys.
SORTED_LISTS: dict[str, tuple[str, ...]] = {
    "environment": ("name",),
    "secrets": ("name",),
    "portMappings": ("containerPort", "protocol"),
    "mountPoints": ("containerPath",),
    "ulimits": ("name",),
    "environmentFiles": ("value",),
}
# Task-level fields compared, in the API's spelling.
TASK_FIELDS = ("cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn", "taskRoleArn", "volumes")


def empty(value: Any) -> bool:
    """Not set, as ECS returns it: None, "", [], {} or false (every boolean setting defaults to false but
    ``essential``, which CONTAINER_DEFAULTS handles)."""
    return value is None or value is False or value == "" or value == [] or value == {}


def pruned(value: Any) -> Any:
    """``value`` with the empty entries of its dictionaries left out, at every depth."""
    if isinstance(value, dict):
        return {k: pruned(v) for k, v in value.items() if not empty(pruned(v))}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def normalized_port(mapping: dict[str, Any], network_mode: str) -> dict[str, Any]:
    port = pruned(mapping)
    port["containerPort"] = int(port["containerPort"])
    port.setdefault("protocol", "tcp")
    if "hostPort" in port:
        port["hostPort"] = int(port["hostPort"])
    elif network_mode in ("awsvpc", "host"):
        port["hostPort"] = port["containerPort"]  # ECS fills it in: the same port in these modes
    return port


def normalized_container(container: dict[str, Any], network_mode: str) -> dict[str, Any]:
    """A container definition as the comparison sees it: empty and default values dropped, sets sorted."""
    result = {}
    for key, raw in container.items():
        if key == "essential" and raw is False:
            result[key] = False
            continue
        value = pruned(raw)
        if empty(value) or CONTAINER_DEFAULTS.get(key, object()) == value:
            continue
        if key == "portMappings":
            value = [normalized_port(p, network_mode) for p in value]
        if key in SORTED_LISTS:
            value = sorted(value, key=lambda item, keys=SORTED_LISTS[key]: tuple(str(item.get(k, "")) for k in keys))
        result[key] = value
    return result


def normalized(definition: dict[str, Any]) -> dict[str, Any]:
    """A task definition (requested, or as DescribeTaskDefinition returns it) in comparable form."""
    network_mode = definition.get("networkMode") or "bridge"
    result: dict[str, Any] = {}
    for key in TASK_FIELDS:
        value = definition.get(key)
        if empty(value):
            continue
        if key in ("cpu", "memory"):
            value = str(value)
        elif key == "requiresCompatibilities":
            value = sorted(value)
        elif key == "volumes":
            value = sorted((pruned(vol) for vol in value), key=lambda v: v["name"])
        result[key] = value
    result["containerDefinitions"] = {
        c["name"]: normalized_container(c, network_mode) for c in definition.get("containerDefinitions") or []
    }
    return result


def differences(requested: dict[str, Any], existing: dict[str, Any] | None) -> list[str]:
    """The fields in which ``existing`` (a revision as ECS returns it) is not ``requested``; all when none exists."""
    if existing is None:
        return ["(no ACTIVE revision)"]
    want, have = normalized(requested), normalized(existing)
    found = [key for key in TASK_FIELDS if want.get(key) != have.get(key)]
    wanted_containers, current = want["containerDefinitions"], have["containerDefinitions"]
    for name in sorted(set(wanted_containers) | set(current)):
        if name not in current or name not in wanted_containers:
            found.append(f"containerDefinitions[{name}]")
            continue
        keys = set(wanted_containers[name]) | set(current[name])
        found += [
            f"containerDefinitions[{name}].{key}"
            for key in sorted(keys)
            if wanted_containers[name].get(key) != current[name].get(key)
        ]
    return found


def requested_definition(params: dict[str, Any]) -> dict[str, Any]:
    definition = {
        "family": params["family"],
        "containerDefinitions": params["containers"],
        "networkMode": params["network_mode"],
        "requiresCompatibilities": params["requires_compatibilities"],
        "volumes": params["volumes"],
        "cpu": params["cpu"],
        "memory": params["memory"],
        "executionRoleArn": params["execution_role_arn"],
        "taskRoleArn": params["task_role_arn"],
    }
    return {k: v for k, v in definition.items() if not empty(v) or k in ("containerDefinitions", "family")}


def latest_active(client: Any, module: AnsibleAWSModule) -> dict[str, Any] | None:
    """The family's latest ACTIVE revision (what DescribeTaskDefinition gives for a bare family), or None."""
    with aws_errors(module, f"Could not describe task definition family {module.params['family']}"):
        try:
            found = client.describe_task_definition(taskDefinition=module.params["family"], aws_retry=True)
        except is_boto3_error_code("ClientException"):  # no ACTIVE revision of the family
            return None
    definition = found.get("taskDefinition")
    return definition if definition and definition.get("status") == "ACTIVE" else None


def main() -> None:
    argument_spec = {
        "family": {"type": "str", "required": True},
        "containers": {"type": "list", "elements": "dict", "required": True},
        "cpu": {"type": "str"},
        "memory": {"type": "str"},
        "network_mode": {"type": "str", "choices": ["awsvpc", "bridge", "host", "none"], "default": "awsvpc"},
        "requires_compatibilities": {"type": "list", "elements": "str", "default": ["FARGATE"]},
        "execution_role_arn": {"type": "str", "default": ""},
        "task_role_arn": {"type": "str", "default": ""},
        "volumes": {"type": "list", "elements": "dict", "default": []},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = retrying_client(module, "ecs")
    outcome = Outcome(module)
    requested = requested_definition(module.params)
    existing = latest_active(client, module)
    changes = differences(requested, existing)
    before = normalized(existing) if existing else {}
    if not outcome.record(bool(changes)):
        outcome.exit(before, before, taskdefinition=existing, differences=[])
    if module.check_mode:
        outcome.exit(before, normalized(requested), differences=changes)
    registered = aws_call(
        module,
        f"Could not register a revision of task definition family {module.params['family']}",
        client.register_task_definition,
        **requested,
    )["taskDefinition"]
    outcome.exit(before, normalized(registered), taskdefinition=registered, differences=changes)


if __name__ == "__main__":
    main()
