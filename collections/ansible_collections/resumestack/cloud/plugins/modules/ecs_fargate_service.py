#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_fargate_service
version_added: 1.1.0
short_description: An awsvpc ECS service whose desired count autoscaling may own
description:
  - Creates, updates or deletes an ECS service in awsvpc mode with a capacity provider strategy, a deployment
    circuit breaker and optional target groups.
  - Unlike M(community.aws.ecs_service) it compares everything it sets (network, capacity provider strategy,
    deployment configuration, target groups), so a re-run with the same input changes nothing, and it can leave the
    desired count alone once the service exists (I(preserve_desired_count)), since application autoscaling owns it.
  - A setting the service description does not return (the emulator drops some on create) is set again with
    UpdateService once, then compared only when it is returned.
  - A new capacity provider strategy (other providers, bases or weights) is sent with C(forceNewDeployment), as ECS
    requires; the running tasks are replaced by a rollout onto the new providers.
  - A service deleted moments ago drains (C(DRAINING)) before it is C(INACTIVE); AWS refuses to update it or to
    create one of the same name meanwhile. I(state=absent) leaves a draining service alone; I(state=present) waits
    up to I(drain_timeout) seconds for it to end, then creates the service again.
  - "IAM permissions needed: C(ecs:DescribeServices), C(ecs:CreateService), C(ecs:UpdateService),
    C(ecs:DeleteService), C(ecs:TagResource), C(iam:PassRole) for the task roles."
author:
  - ResumeStack maintainers (@resumestack)
options:
  cluster:
    description: Name or ARN of the cluster.
    type: str
    required: true
  name:
    description: Name of the service.
    type: str
    required: true
  state:
    description: Whether the service should exist.
    type: str
    choices: [present, absent]
    default: present
  task_definition:
    description: Task definition ARN or C(family:revision). Required with I(state=present).
    type: str
  desired_count:
    description: Number of tasks. Used on creation, and on updates unless I(preserve_desired_count).
    type: int
    default: 1
  preserve_desired_count:
    description: Keep the running service's desired count (autoscaling owns it after creation).
    type: bool
    default: true
  subnets:
    description: Subnets of the tasks.
    type: list
    elements: str
    default: []
  security_groups:
    description: Security groups of the tasks.
    type: list
    elements: str
    default: []
  assign_public_ip:
    description: Give the tasks public IPs.
    type: bool
    default: false
  load_balancers:
    description: Target groups, as the ECS API takes them (C(targetGroupArn), C(containerName), C(containerPort)).
    type: list
    elements: dict
    default: []
  capacity_provider_strategy:
    description: Capacity provider strategy (C(capacityProvider), C(weight), C(base)).
    type: list
    elements: dict
    default: []
  circuit_breaker:
    description: Turn on the deployment circuit breaker with rollback.
    type: bool
    default: true
  minimum_healthy_percent:
    description: Lower limit of running tasks during a deployment, in percent of the desired count.
    type: int
    default: 100
  maximum_percent:
    description: Upper limit of tasks during a deployment, in percent of the desired count.
    type: int
    default: 200
  health_check_grace_period_seconds:
    description: Seconds the scheduler ignores target group health checks after a task starts (with target groups).
    type: int
  propagate_tags:
    description: Copy the tags of the service or the task definition to the tasks.
    type: str
    choices: [NONE, SERVICE, TASK_DEFINITION]
    default: SERVICE
  drain_timeout:
    description: Seconds to wait for a deleted service of the same name to stop draining before creating it again.
    type: int
    default: 600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Run the API behind its target group
  resumestack.cloud.ecs_fargate_service:
    cluster: my-cluster
    name: api
    task_definition: api:3
    desired_count: 2
    subnets: [subnet-1, subnet-2]
    security_groups: [sg-1]
    load_balancers:
      - {targetGroupArn: "arn:aws:elasticloadbalancing:...", containerName: api, containerPort: 8000}
    capacity_provider_strategy:
      - {capacityProvider: FARGATE, base: 1, weight: 1}
      - {capacityProvider: FARGATE_SPOT, weight: 3}
"""

RETURN = r"""
service:
  description: The service after the change (snake_case); empty when absent.
  returned: success
  type: dict
task_definition_changed:
  description: Whether the service was moved to another task definition (a deployment started).
  returned: success
  type: bool
"""

import time
from typing import Any, NoReturn

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, aws_errors, retrying_client
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome, snake_resource
from ansible_collections.resumestack.cloud.plugins.module_utils.tags import ensure_ecs_tags

Service = dict[str, Any]


def describe(client: Any, module: AnsibleAWSModule) -> Service | None:
    found = aws_call(
        module,
        f"Could not describe ECS service {module.params['name']}",
        client.describe_services,
        cluster=module.params["cluster"],
        services=[module.params["name"]],
        include=["TAGS"],
    )
    services = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
    return services[0] if services else None


def wait_drained(client: Any, module: AnsibleAWSModule) -> None:
    """Wait until a deleted service of this name stopped draining (AWS refuses to re-create it before)."""
    deadline = time.monotonic() + module.params["drain_timeout"]
    while (service := describe(client, module)) is not None and service.get("status") == "DRAINING":
        if time.monotonic() > deadline:
            module.fail_json(
                msg=f"ECS service {module.params['name']} still drains after {module.params['drain_timeout']} s: "
                "it cannot be created again before it is INACTIVE"
            )
        time.sleep(5)


def same_task_definition(wanted: str, current: str) -> bool:
    return wanted == current or current.endswith("/" + wanted)


def normalized_strategy(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "capacityProvider": i["capacityProvider"],
                "weight": int(i.get("weight", 0)),
                "base": int(i.get("base", 0)),
            }
            for i in items or []
        ),
        key=lambda i: i["capacityProvider"],
    )


def normalized_lbs(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "targetGroupArn": i["targetGroupArn"],
                "containerName": i["containerName"],
                "containerPort": int(i["containerPort"]),
            }
            for i in items or []
        ),
        key=lambda i: i["targetGroupArn"],
    )


def wanted_settings(params: dict[str, Any]) -> dict[str, Any]:
    network = {
        "awsvpcConfiguration": {
            "subnets": sorted(params["subnets"]),
            "securityGroups": sorted(params["security_groups"]),
            "assignPublicIp": "ENABLED" if params["assign_public_ip"] else "DISABLED",
        }
    }
    deployment = {
        "deploymentCircuitBreaker": {"enable": params["circuit_breaker"], "rollback": params["circuit_breaker"]},
        "maximumPercent": params["maximum_percent"],
        "minimumHealthyPercent": params["minimum_healthy_percent"],
    }
    settings = {
        "networkConfiguration": network,
        "deploymentConfiguration": deployment,
        "capacityProviderStrategy": normalized_strategy(params["capacity_provider_strategy"]),
        "loadBalancers": normalized_lbs(params["load_balancers"]),
    }
    if params["health_check_grace_period_seconds"] is not None and params["load_balancers"]:
        settings["healthCheckGracePeriodSeconds"] = params["health_check_grace_period_seconds"]
    return settings


def current_settings(service: Service) -> dict[str, Any]:
    network = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    deployment = service.get("deploymentConfiguration")
    current = {
        "networkConfiguration": None
        if network is None
        else {
            "awsvpcConfiguration": {
                "subnets": sorted(network.get("subnets", [])),
                "securityGroups": sorted(network.get("securityGroups", [])),
                "assignPublicIp": network.get("assignPublicIp", "DISABLED"),
            }
        },
        "deploymentConfiguration": None
        if deployment is None
        else {
            "deploymentCircuitBreaker": deployment.get(
                "deploymentCircuitBreaker", {"enable": False, "rollback": False}
            ),
            "maximumPercent": deployment.get("maximumPercent"),
            "minimumHealthyPercent": deployment.get("minimumHealthyPercent"),
        },
        "capacityProviderStrategy": None
        if service.get("capacityProviderStrategy") is None
        else normalized_strategy(service["capacityProviderStrategy"]),
        "loadBalancers": normalized_lbs(service.get("loadBalancers")),
    }
    if "healthCheckGracePeriodSeconds" in service:
        current["healthCheckGracePeriodSeconds"] = service["healthCheckGracePeriodSeconds"]
    return current


def result_of(service: Service | None) -> dict[str, Any]:
    return snake_resource(service, "tags", "key", "value")


def api_arguments(wanted: dict[str, Any]) -> dict[str, Any]:
    """The wanted settings as UpdateService/CreateService arguments (copies: the comparison keeps its own)."""
    return dict(wanted, capacityProviderStrategy=[dict(i) for i in wanted["capacityProviderStrategy"]])


def ensure_absent(client: Any, module: AnsibleAWSModule, service: Service | None, outcome: Outcome) -> NoReturn:
    if service is None:
        outcome.exit({}, {}, service={}, task_definition_changed=False)
    outcome.record(True)
    if not module.check_mode:
        aws_call(
            module,
            "Could not delete the service",
            client.delete_service,
            cluster=module.params["cluster"],
            service=module.params["name"],
            force=True,
        )
    outcome.exit(result_of(service), {}, service={}, task_definition_changed=False)


def create(client: Any, module: AnsibleAWSModule, wanted: dict[str, Any], outcome: Outcome) -> NoReturn:
    params = module.params
    after = dict(wanted, taskDefinition=params["task_definition"], desiredCount=params["desired_count"])
    outcome.record(True)
    if module.check_mode:
        outcome.exit({}, after, service={}, task_definition_changed=True)
    create_args = dict(
        api_arguments(wanted),
        cluster=params["cluster"],
        serviceName=params["name"],
        taskDefinition=params["task_definition"],
        desiredCount=params["desired_count"],
        propagateTags=params["propagate_tags"],
        schedulingStrategy="REPLICA",
    )
    if params["tags"]:
        create_args["tags"] = ansible_dict_to_boto3_tag_list(params["tags"], "key", "value")
    if not create_args["loadBalancers"]:
        create_args.pop("loadBalancers")
    with aws_errors(module, f"Could not create ECS service {params['name']}"):
        created = client.create_service(aws_retry=True, **create_args)["service"]
        # The emulator drops some settings on create: set what the answer lacks once more.
        missing = {k: v for k, v in wanted.items() if current_settings(created).get(k) != v and k != "loadBalancers"}
        if "capacityProviderStrategy" in missing:
            missing["forceNewDeployment"] = True
        if missing:
            client.update_service(cluster=params["cluster"], service=params["name"], aws_retry=True, **missing)
    outcome.exit({}, after, service=result_of(describe(client, module)), task_definition_changed=True)


def planned_update(params: dict[str, Any], service: Service, wanted: dict[str, Any]) -> dict[str, Any]:
    """The UpdateService arguments that bring the running service to the wanted settings."""
    current = current_settings(service)
    api_args = api_arguments(wanted)
    update = {}
    for key, value in wanted.items():
        if key == "healthCheckGracePeriodSeconds" and key not in current:
            continue  # not returned: nothing to compare with
        if current.get(key) != value:
            update[key] = api_args[key]
    if not same_task_definition(params["task_definition"], service["taskDefinition"]):
        update["taskDefinition"] = params["task_definition"]
    if not params["preserve_desired_count"] and service["desiredCount"] != params["desired_count"]:
        update["desiredCount"] = params["desired_count"]
    if "capacityProviderStrategy" in update:
        # ECS refuses a new strategy without a new deployment (InvalidParameterException: "... making a
        # change to a capacity provider strategy on a service that is already using one, you must force
        # a new deployment"): the tasks move to the new providers by a rollout.
        update["forceNewDeployment"] = True
    return update


def ensure_updated(
    client: Any, module: AnsibleAWSModule, service: Service, wanted: dict[str, Any], outcome: Outcome
) -> NoReturn:
    params = module.params
    msg = f"Could not update ECS service {params['name']}"
    update = planned_update(params, service, wanted)
    before = dict(
        current_settings(service), taskDefinition=service["taskDefinition"], desiredCount=service["desiredCount"]
    )
    if outcome.record(bool(update)) and not module.check_mode:
        aws_call(module, msg, client.update_service, cluster=params["cluster"], service=params["name"], **update)
    tags = boto3_tag_list_to_ansible_dict(service.get("tags", []), "key", "value")
    outcome.record(ensure_ecs_tags(client, module, service["serviceArn"], tags, msg)[0])
    if outcome.changed and not module.check_mode:
        service = describe(client, module)
    outcome.exit(
        before,
        dict(before, **update),
        service=result_of(service),
        task_definition_changed="taskDefinition" in update,
    )


def main() -> None:
    argument_spec = {
        "cluster": {"type": "str", "required": True},
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "task_definition": {"type": "str"},
        "desired_count": {"type": "int", "default": 1},
        "preserve_desired_count": {"type": "bool", "default": True},
        "subnets": {"type": "list", "elements": "str", "default": []},
        "security_groups": {"type": "list", "elements": "str", "default": []},
        "assign_public_ip": {"type": "bool", "default": False},
        "load_balancers": {"type": "list", "elements": "dict", "default": []},
        "capacity_provider_strategy": {"type": "list", "elements": "dict", "default": []},
        "circuit_breaker": {"type": "bool", "default": True},
        "minimum_healthy_percent": {"type": "int", "default": 100},
        "maximum_percent": {"type": "int", "default": 200},
        "health_check_grace_period_seconds": {"type": "int"},
        "propagate_tags": {"type": "str", "choices": ["NONE", "SERVICE", "TASK_DEFINITION"], "default": "SERVICE"},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
        "drain_timeout": {"type": "int", "default": 600},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ["task_definition", "subnets"])],
        supports_check_mode=True,
    )
    client = retrying_client(module, "ecs")
    # diff is returned outside diff mode too, as it has been since the module's first release.
    outcome = Outcome(module, diff_always=True)
    service = describe(client, module)
    draining = service is not None and service.get("status") == "DRAINING"
    if module.params["state"] == "absent":
        ensure_absent(client, module, None if draining else service, outcome)
    wanted = wanted_settings(module.params)
    if draining and not module.check_mode:
        wait_drained(client, module)
    if service is None or draining:
        create(client, module, wanted, outcome)
    ensure_updated(client, module, service, wanted, outcome)


if __name__ == "__main__":
    main()
