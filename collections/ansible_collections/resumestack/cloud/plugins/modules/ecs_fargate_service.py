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

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule


def describe(client, module):
    try:
        found = client.describe_services(
            cluster=module.params["cluster"], services=[module.params["name"]], include=["TAGS"], aws_retry=True
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not describe ECS service {module.params['name']}")
    services = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
    return services[0] if services else None


def same_task_definition(wanted, current):
    return wanted == current or current.endswith("/" + wanted)


def normalized_strategy(items):
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


def normalized_lbs(items):
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


def wanted_settings(params):
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


def current_settings(service):
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


def result_of(service):
    if not service:
        return {}
    result = camel_dict_to_snake_dict(service, ignore_list=["tags"])
    result["tags"] = boto3_tag_list_to_ansible_dict(service.get("tags", []), "key", "value")
    return result


def ensure_absent(client, module, service):
    if service is None:
        module.exit_json(changed=False, service={}, task_definition_changed=False, diff={"before": {}, "after": {}})
    if not module.check_mode:
        try:
            client.delete_service(
                cluster=module.params["cluster"], service=module.params["name"], force=True, aws_retry=True
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg="Could not delete the service")
    module.exit_json(
        changed=True, service={}, task_definition_changed=False, diff={"before": result_of(service), "after": {}}
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            task_definition=dict(type="str"),
            desired_count=dict(type="int", default=1),
            preserve_desired_count=dict(type="bool", default=True),
            subnets=dict(type="list", elements="str", default=[]),
            security_groups=dict(type="list", elements="str", default=[]),
            assign_public_ip=dict(type="bool", default=False),
            load_balancers=dict(type="list", elements="dict", default=[]),
            capacity_provider_strategy=dict(type="list", elements="dict", default=[]),
            circuit_breaker=dict(type="bool", default=True),
            minimum_healthy_percent=dict(type="int", default=100),
            maximum_percent=dict(type="int", default=200),
            health_check_grace_period_seconds=dict(type="int"),
            propagate_tags=dict(type="str", choices=["NONE", "SERVICE", "TASK_DEFINITION"], default="SERVICE"),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
        ),
        required_if=[("state", "present", ["task_definition", "subnets"])],
        supports_check_mode=True,
    )
    params = module.params
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    service = describe(client, module)
    if params["state"] == "absent":
        ensure_absent(client, module, service)

    wanted = wanted_settings(params)
    api_args = dict(wanted)
    api_args["capacityProviderStrategy"] = [dict(i) for i in wanted["capacityProviderStrategy"]]
    if service is None:
        after = dict(wanted, taskDefinition=params["task_definition"], desiredCount=params["desired_count"])
        if module.check_mode:
            module.exit_json(
                changed=True, service={}, task_definition_changed=True, diff={"before": {}, "after": after}
            )
        create_args = dict(
            api_args,
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
        try:
            created = client.create_service(aws_retry=True, **create_args)["service"]
            # The emulator drops some settings on create: set what the answer lacks once more.
            missing = {
                k: v for k, v in wanted.items() if current_settings(created).get(k) != v and k != "loadBalancers"
            }
            if missing:
                client.update_service(cluster=params["cluster"], service=params["name"], aws_retry=True, **missing)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Could not create ECS service {params['name']}")
        module.exit_json(
            changed=True,
            service=result_of(describe(client, module)),
            task_definition_changed=True,
            diff={"before": {}, "after": after},
        )

    current = current_settings(service)
    update = {}
    for key, value in wanted.items():
        if key == "healthCheckGracePeriodSeconds" and key not in current:
            continue  # not returned: nothing to compare with
        if current.get(key) != value:
            update[key] = api_args[key]
    td_changed = not same_task_definition(params["task_definition"], service["taskDefinition"])
    if td_changed:
        update["taskDefinition"] = params["task_definition"]
    if not params["preserve_desired_count"] and service["desiredCount"] != params["desired_count"]:
        update["desiredCount"] = params["desired_count"]
    tags_to_add, tags_to_remove = {}, []
    if params["tags"] is not None:
        tags_to_add, tags_to_remove = compare_aws_tags(
            boto3_tag_list_to_ansible_dict(service.get("tags", []), "key", "value"),
            params["tags"],
            params["purge_tags"],
        )
    changed = bool(update or tags_to_add or tags_to_remove)
    before = dict(current, taskDefinition=service["taskDefinition"], desiredCount=service["desiredCount"])
    after = dict(before, **{k: v for k, v in update.items()})
    if changed and not module.check_mode:
        try:
            if update:
                client.update_service(cluster=params["cluster"], service=params["name"], aws_retry=True, **update)
            if tags_to_remove:
                client.untag_resource(resourceArn=service["serviceArn"], tagKeys=tags_to_remove, aws_retry=True)
            if tags_to_add:
                client.tag_resource(
                    resourceArn=service["serviceArn"],
                    tags=ansible_dict_to_boto3_tag_list(tags_to_add, "key", "value"),
                    aws_retry=True,
                )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Could not update ECS service {params['name']}")
        service = describe(client, module)
    module.exit_json(
        changed=changed,
        service=result_of(service),
        task_definition_changed=td_changed,
        diff={"before": before, "after": after},
    )


if __name__ == "__main__":
    main()
