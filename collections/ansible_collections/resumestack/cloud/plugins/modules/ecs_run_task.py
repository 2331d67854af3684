#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_run_task
version_added: 1.1.0
short_description: Run a one-off awsvpc ECS task (such as database migrations) and wait for its exit code
description:
  - Starts one task of a task definition with a command override, waits until it stops and fails unless the
    container exited 0 (the stop reason and exit code are in the message). Always reports changed; in check mode it
    starts nothing.
  - M(community.aws.ecs_task) starts tasks but does not wait for them to stop nor check the exit code.
  - "IAM permissions needed: C(ecs:RunTask), C(ecs:DescribeTasks), C(iam:PassRole) for the task roles."
author:
  - ResumeStack maintainers (@resumestack)
options:
  cluster:
    description: Name of the cluster.
    type: str
    required: true
  task_definition:
    description: Task definition ARN or C(family:revision).
    type: str
    required: true
  container:
    description: Container whose command is overridden.
    type: str
    required: true
  command:
    description: The command.
    type: list
    elements: str
    required: true
  subnets:
    description: Subnets of the task.
    type: list
    elements: str
    required: true
  security_groups:
    description: Security groups of the task.
    type: list
    elements: str
    default: []
  capacity_provider:
    description: Capacity provider the task runs on.
    type: str
    default: FARGATE
  wait_timeout:
    description: Seconds to wait for the task to stop.
    type: int
    default: 600
  poll_interval:
    description: Seconds between two looks at the task.
    type: int
    default: 6
    version_added: 1.1.0
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Run the migrations
  resumestack.cloud.ecs_run_task:
    cluster: my-cluster
    task_definition: api:4
    container: api
    command: [python3, -m, resume_service.migrate]
    subnets: [subnet-1]
    security_groups: [sg-1]
"""

RETURN = r"""
task_arn:
  description: ARN of the task.
  returned: when started
  type: str
exit_code:
  description: Exit code of the container.
  returned: when the task stopped
  type: int
"""

import time
import uuid
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, retrying_client

Task = dict[str, Any]


def start_task(client: Any, module: AnsibleAWSModule) -> Task:
    params = module.params
    # One token for every retry of this call: ECS starts the task once (botocore would make a new
    # token per attempt, and a retried RunTask could start a second migration).
    token = str(uuid.uuid4())
    started = aws_call(
        module,
        "Could not start the one-off task",
        client.run_task,
        cluster=params["cluster"],
        taskDefinition=params["task_definition"],
        count=1,
        capacityProviderStrategy=[{"capacityProvider": params["capacity_provider"], "weight": 1}],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": params["subnets"],
                "securityGroups": params["security_groups"],
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": params["container"], "command": params["command"]}]},
        startedBy="ansible-one-off",
        clientToken=token,
    )
    if started.get("failures") or not started.get("tasks"):
        module.fail_json(msg=f"ECS did not start the one-off task: {started.get('failures')}")
    return started["tasks"][0]


def wait_stopped(client: Any, module: AnsibleAWSModule, task: Task) -> Task:
    task_arn = task["taskArn"]
    timeout = module.params["wait_timeout"]
    deadline = time.monotonic() + timeout
    while task.get("lastStatus") != "STOPPED":
        if time.monotonic() > deadline:
            module.fail_json(msg=f"one-off task {task_arn} did not stop within {timeout}s", task_arn=task_arn)
        time.sleep(module.params["poll_interval"])
        found = aws_call(
            module,
            f"Could not describe the one-off task {task_arn}",
            client.describe_tasks,
            cluster=module.params["cluster"],
            tasks=[task_arn],
        )
        # Right after RunTask, DescribeTasks may not know the task yet (a MISSING failure): look again.
        task = found["tasks"][0] if found.get("tasks") else task
    return task


def main() -> None:
    argument_spec = {
        "cluster": {"type": "str", "required": True},
        "task_definition": {"type": "str", "required": True},
        "container": {"type": "str", "required": True},
        "command": {"type": "list", "elements": "str", "required": True},
        "subnets": {"type": "list", "elements": "str", "required": True},
        "security_groups": {"type": "list", "elements": "str", "default": []},
        "capacity_provider": {"type": "str", "default": "FARGATE"},
        "wait_timeout": {"type": "int", "default": 600},
        "poll_interval": {"type": "int", "default": 6},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.check_mode:
        module.exit_json(changed=True)
    client = retrying_client(module, "ecs")
    task = wait_stopped(client, module, start_task(client, module))
    task_arn = task["taskArn"]
    container = next((c for c in task.get("containers", []) if c["name"] == module.params["container"]), {})
    exit_code = container.get("exitCode")
    if exit_code != 0:
        module.fail_json(
            msg=f"one-off task {task_arn} failed: exit code {exit_code}, {task.get('stoppedReason', '')} "
            f"{container.get('reason', '')}".strip(),
            task_arn=task_arn,
            exit_code=exit_code,
        )
    module.exit_json(changed=True, task_arn=task_arn, exit_code=exit_code)


if __name__ == "__main__":
    main()
