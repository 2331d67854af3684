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
        C(ECSServiceAverageCPUUtilization)) or C(customized_metric) (the API's CustomizedMetricSpecification), and
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

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"


def policy_config(policy):
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


def current_config(found):
    config = dict(found.get("TargetTrackingScalingPolicyConfiguration", {}))
    config.setdefault("DisableScaleIn", False)
    if "TargetValue" in config:
        config["TargetValue"] = float(config["TargetValue"])
    return config


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            service=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            min_capacity=dict(type="int", default=1),
            max_capacity=dict(type="int", default=1),
            policies=dict(type="list", elements="dict", default=[]),
            purge_policies=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    for policy in params["policies"]:
        if not policy.get("name") or "target_value" not in policy:
            module.fail_json(msg=f"every policy needs a name and a target_value: {policy}")
        if bool(policy.get("predefined_metric")) == bool(policy.get("customized_metric")):
            module.fail_json(msg=f"policy {policy['name']} needs exactly one of predefined_metric, customized_metric")
    if params["min_capacity"] > params["max_capacity"]:
        module.fail_json(msg="min_capacity must not be above max_capacity")
    client = module.client("application-autoscaling", retry_decorator=AWSRetry.jittered_backoff())
    resource_id = f"service/{params['cluster']}/{params['service']}"
    ident = {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id, "ScalableDimension": DIMENSION}
    try:
        targets = client.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[resource_id], ScalableDimension=DIMENSION, aws_retry=True
        )["ScalableTargets"]
        found = client.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id, ScalableDimension=DIMENSION, aws_retry=True
        )["ScalingPolicies"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not read the scaling of {resource_id}")
    policies = {p["PolicyName"]: current_config(p) for p in found}
    before = {"target": None, "policies": policies}
    if targets:
        before["target"] = {"min_capacity": targets[0]["MinCapacity"], "max_capacity": targets[0]["MaxCapacity"]}

    actions = []
    if params["state"] == "absent":
        actions += [("delete_policy", name) for name in policies]
        if targets:
            actions.append(("deregister", None))
        after = {"target": None, "policies": {}}
    else:
        wanted_target = {"min_capacity": params["min_capacity"], "max_capacity": params["max_capacity"]}
        if before["target"] != wanted_target:
            actions.append(("register", wanted_target))
        wanted = {p["name"]: policy_config(p) for p in params["policies"]}
        actions += [("put_policy", name) for name, config in wanted.items() if policies.get(name) != config]
        stale = [name for name in policies if name not in wanted] if params["purge_policies"] else []
        actions += [("delete_policy", name) for name in stale]
        after = {
            "target": wanted_target,
            "policies": {**{k: v for k, v in policies.items() if k not in stale}, **wanted},
        }

    if actions and not module.check_mode:
        try:
            for action, arg in actions:
                if action == "register":
                    client.register_scalable_target(
                        MinCapacity=arg["min_capacity"], MaxCapacity=arg["max_capacity"], aws_retry=True, **ident
                    )
                elif action == "put_policy":
                    client.put_scaling_policy(
                        PolicyName=arg,
                        PolicyType="TargetTrackingScaling",
                        TargetTrackingScalingPolicyConfiguration=wanted[arg],
                        aws_retry=True,
                        **ident,
                    )
                elif action == "delete_policy":
                    client.delete_scaling_policy(PolicyName=arg, aws_retry=True, **ident)
                else:
                    client.deregister_scalable_target(aws_retry=True, **ident)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Could not change the scaling of {resource_id}")
    module.exit_json(
        changed=bool(actions),
        resource_id=resource_id,
        policies=sorted(after["policies"]),
        diff={"before": before, "after": after},
    )


if __name__ == "__main__":
    main()
