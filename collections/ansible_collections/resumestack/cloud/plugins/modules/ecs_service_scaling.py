#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_service_scaling
version_added: 1.1.0
short_description: Application autoscaling of an ECS service's desired count, with target tracking policies
description:
  - Registers the ECS service as a scalable target (minimum and maximum tasks) and reconciles its target tracking
    policies by name; I(state=absent) removes the policies and the scalable target.
  - M(community.aws.application_autoscaling_policy) ignores check mode (a C(--check) delete really deletes) and
    leaves the scalable target behind on delete; this module honours check mode and diff mode.
  - "IAM permissions needed: C(application-autoscaling:RegisterScalableTarget), C(DeregisterScalableTarget),
    C(DescribeScalableTargets), C(PutScalingPolicy), C(DescribeScalingPolicies), C(DeleteScalingPolicy),
    C(cloudwatch:PutMetricAlarm), C(cloudwatch:DeleteAlarms), C(ecs:DescribeServices), C(ecs:UpdateService)."
author:
  - ResumeStack maintainers (@resumestack)
options:
  cluster:
    description: Name of the ECS cluster.
    type: str
    required: true
  service:
    description: Name of the ECS service.
    type: str
    required: true
  state:
    description: Whether the scalable target and its policies should exist.
    type: str
    choices: [present, absent]
    default: present
  min_capacity:
    description: Fewest tasks.
    type: int
    default: 1
  max_capacity:
    description: Most tasks.
    type: int
    default: 1
  policies:
    description:
      - Target tracking policies. Each has C(name), C(target_value), and either C(predefined_metric) (such as
        C(ECSServiceAverageCPUUtilization)) or C(customized_metric) (the API's CustomizedMetricSpecification, a single
        metric or metric math under C(Metrics)), and
        optionally C(scale_in_cooldown), C(scale_out_cooldown) (seconds, default 60) and C(disable_scale_in).
    type: list
    elements: dict
    default: []
  purge_policies:
    description: Delete the target's policies that I(policies) does not name.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Scale the API between 2 and 4 tasks on CPU and memory
  resumestack.cloud.ecs_service_scaling:
    cluster: my-cluster
    service: api
    min_capacity: 2
    max_capacity: 4
    policies:
      - {name: api-cpu, target_value: 70, predefined_metric: ECSServiceAverageCPUUtilization}
      - {name: api-memory, target_value: 80, predefined_metric: ECSServiceAverageMemoryUtilization}
"""

RETURN = r"""
resource_id:
  description: The scalable target's resource id, C(service/<cluster>/<service>).
  returned: success
  type: str
policies:
  description: Names of the target's policies after the change.
  returned: success
  type: list
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_errors, retrying_client
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"

Config = dict[str, Any]
Action = tuple[str, Any]  # (verb, argument), applied in order


def validate(module: AnsibleAWSModule) -> None:
    params = module.params
    for policy in params["policies"]:
        if not policy.get("name") or "target_value" not in policy:
            module.fail_json(msg=f"every policy needs a name and a target_value: {policy}")
        if bool(policy.get("predefined_metric")) == bool(policy.get("customized_metric")):
            module.fail_json(msg=f"policy {policy['name']} needs exactly one of predefined_metric, customized_metric")
    if params["min_capacity"] > params["max_capacity"]:
        module.fail_json(msg="min_capacity must not be above max_capacity")


def policy_config(policy: dict[str, Any]) -> Config:
    config = {
        "TargetValue": float(policy["target_value"]),
        "ScaleInCooldown": int(policy.get("scale_in_cooldown", 60)),
        "ScaleOutCooldown": int(policy.get("scale_out_cooldown", 60)),
        "DisableScaleIn": bool(policy.get("disable_scale_in", False)),
    }
    if policy.get("predefined_metric"):
        config["PredefinedMetricSpecification"] = {"PredefinedMetricType": policy["predefined_metric"]}
    else:
        config["CustomizedMetricSpecification"] = policy["customized_metric"]
    return config


def current_config(found: dict[str, Any]) -> Config:
    config = dict(found.get("TargetTrackingScalingPolicyConfiguration", {}))
    config.setdefault("DisableScaleIn", False)
    if "TargetValue" in config:
        config["TargetValue"] = float(config["TargetValue"])
    return config


def describe(client: Any, module: AnsibleAWSModule, resource_id: str) -> dict[str, Any]:
    """The scalable target's capacity (``None`` when not registered) and its policies by name."""
    with aws_errors(module, f"Could not read the scaling of {resource_id}"):
        targets = client.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[resource_id], ScalableDimension=DIMENSION, aws_retry=True
        )["ScalableTargets"]
        found = client.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id, ScalableDimension=DIMENSION, aws_retry=True
        )["ScalingPolicies"]
    target = None
    if targets:
        target = {"min_capacity": targets[0]["MinCapacity"], "max_capacity": targets[0]["MaxCapacity"]}
    return {"target": target, "policies": {p["PolicyName"]: current_config(p) for p in found}}


def plan(params: dict[str, Any], before: dict[str, Any]) -> tuple[list[Action], dict[str, Any]]:
    """The calls that bring the scaling to the requested state, and that state as diff mode shows it."""
    policies = before["policies"]
    if params["state"] == "absent":
        actions: list[Action] = [("delete_policy", name) for name in policies]
        if before["target"]:
            actions.append(("deregister", None))
        return actions, {"target": None, "policies": {}}
    wanted_target = {"min_capacity": params["min_capacity"], "max_capacity": params["max_capacity"]}
    actions = [("register", wanted_target)] if before["target"] != wanted_target else []
    wanted = {p["name"]: policy_config(p) for p in params["policies"]}
    actions += [("put_policy", (name, config)) for name, config in wanted.items() if policies.get(name) != config]
    stale = [name for name in policies if name not in wanted] if params["purge_policies"] else []
    actions += [("delete_policy", name) for name in stale]
    kept = {k: v for k, v in policies.items() if k not in stale}
    return actions, {"target": wanted_target, "policies": {**kept, **wanted}}


def apply(client: Any, module: AnsibleAWSModule, resource_id: str, actions: list[Action]) -> None:
    ident = {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id, "ScalableDimension": DIMENSION}
    with aws_errors(module, f"Could not change the scaling of {resource_id}"):
        for verb, arg in actions:
            if verb == "register":
                client.register_scalable_target(
                    MinCapacity=arg["min_capacity"], MaxCapacity=arg["max_capacity"], aws_retry=True, **ident
                )
            elif verb == "put_policy":
                name, config = arg
                client.put_scaling_policy(
                    PolicyName=name,
                    PolicyType="TargetTrackingScaling",
                    TargetTrackingScalingPolicyConfiguration=config,
                    aws_retry=True,
                    **ident,
                )
            elif verb == "delete_policy":
                client.delete_scaling_policy(PolicyName=arg, aws_retry=True, **ident)
            else:
                client.deregister_scalable_target(aws_retry=True, **ident)


def main() -> None:
    argument_spec = {
        "cluster": {"type": "str", "required": True},
        "service": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "min_capacity": {"type": "int", "default": 1},
        "max_capacity": {"type": "int", "default": 1},
        "policies": {"type": "list", "elements": "dict", "default": []},
        "purge_policies": {"type": "bool", "default": True},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    client = retrying_client(module, "application-autoscaling")
    resource_id = f"service/{module.params['cluster']}/{module.params['service']}"
    before = describe(client, module, resource_id)
    actions, after = plan(module.params, before)
    outcome = Outcome(module, diff_always=True)
    if outcome.record(bool(actions)) and not module.check_mode:
        apply(client, module, resource_id, actions)
    outcome.exit(before, after, resource_id=resource_id, policies=sorted(after["policies"]))


if __name__ == "__main__":
    main()
