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


def describe(client, module, cluster):
    try:
        found = client.describe_clusters(clusters=[cluster], include=["SETTINGS", "TAGS"], aws_retry=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not describe ECS cluster {cluster}")
    clusters = [c for c in found.get("clusters", []) if c.get("status") != "INACTIVE"]
    if not clusters:
        module.fail_json(msg=f"ECS cluster {cluster} does not exist; create it first")
    return clusters[0]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            container_insights=dict(type="bool"),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    cluster = describe(client, module, module.params["cluster"])
    arn = cluster["clusterArn"]
    changed = False
    before = {
        "settings": cluster.get("settings", []),
        "tags": boto3_tag_list_to_ansible_dict(cluster.get("tags", []), "key", "value"),
    }
    after = {"settings": list(before["settings"]), "tags": dict(before["tags"])}

    insights = module.params["container_insights"]
    if insights is not None:
        wanted = "enabled" if insights else "disabled"
        current = {s["name"]: s["value"] for s in cluster.get("settings", [])}.get("containerInsights", "disabled")
        if current != wanted:
            changed = True
            after["settings"] = [s for s in after["settings"] if s["name"] != "containerInsights"]
            after["settings"].append({"name": "containerInsights", "value": wanted})
            if not module.check_mode:
                try:
                    # UpdateCluster takes settings too, and the emulator implements it.
                    client.update_cluster(
                        cluster=arn, settings=[{"name": "containerInsights", "value": wanted}], aws_retry=True
                    )
                except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                    module.fail_json_aws(e, msg="Could not update the cluster settings")

    if module.params["tags"] is not None:
        to_add, to_remove = compare_aws_tags(before["tags"], module.params["tags"], module.params["purge_tags"])
        if to_add or to_remove:
            changed = True
            after["tags"] = {k: v for k, v in before["tags"].items() if k not in to_remove}
            after["tags"].update(to_add)
            if not module.check_mode:
                try:
                    if to_remove:
                        client.untag_resource(resourceArn=arn, tagKeys=to_remove, aws_retry=True)
                    if to_add:
                        client.tag_resource(
                            resourceArn=arn, tags=ansible_dict_to_boto3_tag_list(to_add, "key", "value"), aws_retry=True
                        )
                except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                    module.fail_json_aws(e, msg="Could not tag the cluster")

    if changed and not module.check_mode:
        cluster = describe(client, module, arn)
    result = camel_dict_to_snake_dict(cluster, ignore_list=["tags"])
    result["tags"] = boto3_tag_list_to_ansible_dict(cluster.get("tags", []), "key", "value")
    module.exit_json(changed=changed, cluster=result, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
