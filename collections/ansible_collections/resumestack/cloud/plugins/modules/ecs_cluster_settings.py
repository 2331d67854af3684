#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_cluster_settings
version_added: 1.0.0
short_description: Create an ECS cluster tagged, and keep its Container Insights and tags
description:
  - M(community.aws.ecs_cluster) manages the cluster's capacity providers but neither its cluster settings nor its
    tags, and creates it untagged. This module reconciles both on a cluster that exists and, with O(create=true),
    creates a missing cluster with its tags, settings and capacity providers in the one C(CreateCluster) call,
    which accounts whose policies require tags at creation accept; no run can leave an untagged cluster.
  - "IAM permissions needed: C(ecs:DescribeClusters), C(ecs:UpdateCluster), C(ecs:TagResource),
    C(ecs:UntagResource); with O(create=true), C(ecs:CreateCluster) (which needs C(ecs:TagResource) too when it
    carries tags)."
author:
  - ResumeStack maintainers (@resumestack)
options:
  cluster:
    description: Name or ARN of the cluster.
    type: str
    required: true
  container_insights:
    description:
      - Turn CloudWatch Container Insights on or off. Left alone when not given.
    type: bool
  create:
    description:
      - Create the cluster when it does not exist (else that is an error).
    type: bool
    default: false
  capacity_providers:
    description:
      - The capacity providers a cluster this module creates starts with. Ignored for an existing cluster.
    type: list
    elements: str
  capacity_provider_strategy:
    description:
      - The default capacity provider strategy a cluster this module creates starts with (C(capacity_provider),
        C(base), C(weight)). Ignored for an existing cluster.
    type: list
    elements: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create the cluster with its tags, or keep its settings and tags
  resumestack.cloud.ecs_cluster_settings:
    cluster: my-cluster
    create: true
    capacity_providers: [FARGATE, FARGATE_SPOT]
    capacity_provider_strategy:
      - {capacity_provider: FARGATE, base: 1, weight: 1}
    container_insights: true
    tags:
      Project: resume

- name: Turn on Container Insights and tag the cluster
  resumestack.cloud.ecs_cluster_settings:
    cluster: my-cluster
    container_insights: true
    tags:
      Project: resume
"""

RETURN = r"""
cluster:
  description: The cluster after the change (snake_case), with its settings and tags.
  returned: success
  type: dict
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, retrying_client
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome, snake_resource
from ansible_collections.resumestack.cloud.plugins.module_utils.tags import ensure_ecs_tags

Cluster = dict[str, Any]
Setting = dict[str, str]


def find(client: Any, module: AnsibleAWSModule, cluster: str) -> Cluster | None:
    found = aws_call(
        module,
        f"Could not describe ECS cluster {cluster}",
        client.describe_clusters,
        clusters=[cluster],
        include=["SETTINGS", "TAGS"],
    )
    clusters = [c for c in found.get("clusters", []) if c.get("status") != "INACTIVE"]
    return clusters[0] if clusters else None


def describe(client: Any, module: AnsibleAWSModule, cluster: str) -> Cluster:
    found = find(client, module, cluster)
    if found is None:
        module.fail_json(msg=f"ECS cluster {cluster} does not exist; create it first")
    return found


def create_request(params: dict[str, Any]) -> dict[str, Any]:
    """CreateCluster's parameters: the tags, settings and capacity providers travel with the create."""
    request: dict[str, Any] = {"clusterName": params["cluster"]}
    if params["tags"]:
        request["tags"] = ansible_dict_to_boto3_tag_list(params["tags"], "key", "value")
    if params["container_insights"] is not None:
        value = "enabled" if params["container_insights"] else "disabled"
        request["settings"] = [{"name": "containerInsights", "value": value}]
    if params["capacity_providers"]:
        request["capacityProviders"] = list(params["capacity_providers"])
    if params["capacity_provider_strategy"]:
        request["defaultCapacityProviderStrategy"] = [
            {
                "capacityProvider": str(s["capacity_provider"]),
                "base": int(s.get("base") or 0),
                "weight": int(s.get("weight") or 0),
            }
            for s in params["capacity_provider_strategy"]
        ]
    return request


def create(client: Any, module: AnsibleAWSModule, outcome: Outcome) -> None:
    request = create_request(module.params)
    planned = {"settings": request.get("settings", []), "tags": module.params["tags"] or {}}
    outcome.record(True)
    if module.check_mode:
        outcome.exit({}, planned, cluster={})
    created = aws_call(
        module, f"Could not create ECS cluster {request['clusterName']}", client.create_cluster, **request
    )
    cluster = find(client, module, created["cluster"]["clusterArn"]) or created["cluster"]
    outcome.exit({}, planned, cluster=snake_resource(cluster, "tags", "key", "value"))


def planned_settings(settings: list[Setting], insights: bool | None) -> list[Setting]:
    """The cluster settings once Container Insights is as requested (``None`` leaves it alone)."""
    if insights is None:
        return list(settings)
    wanted = "enabled" if insights else "disabled"
    current = {s["name"]: s["value"] for s in settings}.get("containerInsights", "disabled")
    if current == wanted:
        return list(settings)
    return [s for s in settings if s["name"] != "containerInsights"] + [{"name": "containerInsights", "value": wanted}]


def reconcile_insights(client: Any, module: AnsibleAWSModule, cluster: Cluster) -> tuple[bool, list[Setting]]:
    settings = cluster.get("settings", [])
    after = planned_settings(settings, module.params["container_insights"])
    changed = after != list(settings)
    if changed and not module.check_mode:
        # UpdateCluster takes settings too, and the emulator implements it.
        aws_call(
            module,
            "Could not update the cluster settings",
            client.update_cluster,
            cluster=cluster["clusterArn"],
            settings=[s for s in after if s["name"] == "containerInsights"],
        )
    return changed, after


def main() -> None:
    argument_spec = {
        "cluster": {"type": "str", "required": True},
        "container_insights": {"type": "bool"},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
        "create": {"type": "bool", "default": False},
        "capacity_providers": {"type": "list", "elements": "str"},
        "capacity_provider_strategy": {"type": "list", "elements": "dict"},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = retrying_client(module, "ecs")
    outcome = Outcome(module, diff_always=True)
    if module.params["create"] and find(client, module, module.params["cluster"]) is None:
        create(client, module, outcome)
    cluster = describe(client, module, module.params["cluster"])
    arn = cluster["clusterArn"]
    before = {
        "settings": cluster.get("settings", []),
        "tags": boto3_tag_list_to_ansible_dict(cluster.get("tags", []), "key", "value"),
    }

    insights_changed, settings = reconcile_insights(client, module, cluster)
    outcome.record(insights_changed)
    tags_changed, tags = ensure_ecs_tags(client, module, arn, before["tags"], "Could not tag the cluster")
    outcome.record(tags_changed)

    if outcome.changed and not module.check_mode:
        cluster = describe(client, module, arn)
    outcome.exit(
        before,
        {"settings": settings, "tags": tags},
        cluster=snake_resource(cluster, "tags", "key", "value"),
    )


if __name__ == "__main__":
    main()
