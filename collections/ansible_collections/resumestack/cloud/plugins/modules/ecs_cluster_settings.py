#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_cluster_settings
version_added: 1.0.0
short_description: Set Container Insights and tags on an existing ECS cluster
description:
  - M(community.aws.ecs_cluster) creates the cluster and its capacity providers but manages neither cluster settings
    nor tags. This module reconciles both on a cluster that already exists.
  - "IAM permissions needed: C(ecs:DescribeClusters), C(ecs:UpdateCluster), C(ecs:TagResource),
    C(ecs:UntagResource)."
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
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
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
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, retrying_client
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome, snake_resource
from ansible_collections.resumestack.cloud.plugins.module_utils.tags import ensure_ecs_tags

Cluster = dict[str, Any]
Setting = dict[str, str]


def describe(client: Any, module: AnsibleAWSModule, cluster: str) -> Cluster:
    found = aws_call(
        module,
        f"Could not describe ECS cluster {cluster}",
        client.describe_clusters,
        clusters=[cluster],
        include=["SETTINGS", "TAGS"],
    )
    clusters = [c for c in found.get("clusters", []) if c.get("status") != "INACTIVE"]
    if not clusters:
        module.fail_json(msg=f"ECS cluster {cluster} does not exist; create it first")
    return clusters[0]


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
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = retrying_client(module, "ecs")
    outcome = Outcome(module, diff_always=True)
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
