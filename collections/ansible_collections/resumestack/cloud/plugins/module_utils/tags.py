# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Tag reconciliation for the collection's modules, driven by the usual ``tags``/``purge_tags`` options.

EC2 resources go through amazon.aws's ``ensure_ec2_tags`` and RDS resources through amazon.aws's ``rds`` helpers;
ECS, which those do not cover, has its own routine here. Each returns ``(changed, tags afterwards)``: in check mode
nothing is written and the tags afterwards are the planned ones, which is what diff mode shows.
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils import rds
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import ensure_ec2_tags
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    compare_aws_tags,
)
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_errors

Tags = dict[str, str]


def planned_tags(current: Tags, tags: Tags | None, purge_tags: bool) -> Tags:
    """The tags a resource ends up with once ``tags`` is applied; ``None`` leaves them as they are."""
    if tags is None:
        return dict(current)
    to_add, to_remove = compare_aws_tags(current, tags, purge_tags)
    result = {k: v for k, v in current.items() if k not in to_remove}
    result.update(to_add)
    return result


def _wanted(module: AnsibleAWSModule) -> tuple[Tags | None, bool]:
    return module.params["tags"], module.params["purge_tags"]


def ensure_ecs_tags(client: Any, module: AnsibleAWSModule, arn: str, current: Tags, msg: str) -> tuple[bool, Tags]:
    """Reconciles the tags of an ECS resource (its API spells tag keys ``key``/``value``)."""
    tags, purge_tags = _wanted(module)
    if tags is None:
        return False, dict(current)
    to_add, to_remove = compare_aws_tags(current, tags, purge_tags)
    if (to_add or to_remove) and not module.check_mode:
        with aws_errors(module, msg):
            if to_remove:
                client.untag_resource(resourceArn=arn, tagKeys=to_remove, aws_retry=True)
            if to_add:
                client.tag_resource(
                    resourceArn=arn, tags=ansible_dict_to_boto3_tag_list(to_add, "key", "value"), aws_retry=True
                )
    return bool(to_add or to_remove), planned_tags(current, tags, purge_tags)


def ensure_ec2_resource_tags(
    client: Any, module: AnsibleAWSModule, resource_id: str, current: Tags
) -> tuple[bool, Tags]:
    """Reconciles the tags of an EC2 resource with amazon.aws's ``ensure_ec2_tags`` (honours check mode)."""
    tags, purge_tags = _wanted(module)
    # No resource_type filter: moto 5.2.5 files flow-log tags under "flow-logs" rather than "vpc-flow-log", so
    # DescribeTags filtered on the documented type finds none. The resource id alone is unambiguous.
    changed = ensure_ec2_tags(client, module, resource_id, tags=tags, purge_tags=purge_tags)
    return changed, planned_tags(current, tags, purge_tags)


class _WithoutWait:
    """The module as amazon.aws's ``rds.call_method`` should see it when tagging.

    ``call_method`` looks a waiter up whenever ``module.params["wait"]`` is true and raises NotImplementedError for any
    resource but DB instances, clusters and their snapshots (an RDS Proxy, say). Tagging needs no waiter, so the
    helpers get the module's params without ``wait``; everything else (check mode, fail_json_aws) is the module's.
    """

    def __init__(self, module: AnsibleAWSModule) -> None:
        self._module = module
        self.params = {k: v for k, v in module.params.items() if k != "wait"}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def rds_resource_tags(client: Any, module: AnsibleAWSModule, arn: str) -> Tags:
    """The tags of an RDS resource, as a dict (amazon.aws's ``rds.get_tags``)."""
    return rds.get_tags(client, module, arn)


def ensure_rds_resource_tags(client: Any, module: AnsibleAWSModule, arn: str, current: Tags) -> tuple[bool, Tags]:
    """Reconciles the tags of an RDS resource with amazon.aws's ``rds.ensure_tags`` (honours check mode)."""
    tags, purge_tags = _wanted(module)
    changed = rds.ensure_tags(client, _WithoutWait(module), arn, current, tags, purge_tags)
    return changed, planned_tags(current, tags, purge_tags)
