#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: vpc_flow_log
version_added: 1.0.0
short_description: Manage a VPC flow log delivered to CloudWatch Logs
description:
  - Create, update (replace) or delete the flow log of one VPC that delivers to one CloudWatch Logs log group.
  - The flow log is identified by O(vpc_id) + O(log_group_name) (C(DescribeFlowLogs) filtered on C(resource-id),
    destination type C(cloud-watch-logs)). The module manages exactly one flow log per VPC and log group.
  - Traffic type, delivery role and aggregation interval are immutable in EC2. When an existing flow log differs in
    one of them, the module B(replaces) it (delete, then create), which leaves a gap of a few seconds in the
    captured traffic and yields a new flow log ID.
  - Should several flow logs of the VPC deliver to the same log group, the one matching the requested settings is kept
    and the others are deleted.
  - Tags are reconciled in place (they do not cause a replacement).
  - "IAM permissions needed by the caller: C(ec2:DescribeFlowLogs), C(ec2:CreateFlowLogs), C(ec2:DeleteFlowLogs),
    C(ec2:CreateTags), C(ec2:DeleteTags), C(iam:PassRole) on O(deliver_logs_permission_arn) and
    C(logs:CreateLogDelivery)/C(logs:DeleteLogDelivery). The delivery role itself needs C(logs:CreateLogGroup),
    C(logs:CreateLogStream), C(logs:PutLogEvents), C(logs:DescribeLogGroups) and C(logs:DescribeLogStreams), and must
    trust C(vpc-flow-logs.amazonaws.com)."
author:
  - ResumeStack maintainers (@resumestack)
options:
  vpc_id:
    description:
      - ID of the VPC whose traffic is captured.
    type: str
    required: true
  state:
    description:
      - V(present) ensures the flow log exists with the given settings.
      - V(absent) deletes every flow log of O(vpc_id) that delivers to O(log_group_name).
    type: str
    choices: ['present', 'absent']
    default: present
  log_group_name:
    description:
      - Name of the CloudWatch Logs log group the flow log delivers to.
      - The log group is created by the service on first delivery if the delivery role may do so, but it is better to
        create it beforehand (for example with M(amazon.aws.cloudwatchlogs_log_group)) to control its retention.
    type: str
    required: true
  traffic_type:
    description:
      - Type of traffic to capture. Immutable; a change replaces the flow log.
    type: str
    choices: ['ALL', 'ACCEPT', 'REJECT']
    default: ALL
  deliver_logs_permission_arn:
    description:
      - ARN of the IAM role the flow log service assumes to publish to CloudWatch Logs.
      - Required when O(state=present). Immutable; a change replaces the flow log.
    type: str
    aliases: ['role_arn']
  max_aggregation_interval:
    description:
      - Maximum interval, in seconds, during which a flow of packets is captured and aggregated into a record.
      - Immutable; a change replaces the flow log.
    type: int
    choices: [60, 600]
    default: 600
notes:
  - Supports C(check_mode) (no API writes) and C(diff_mode).
  - Member of the action group C(resumestack.cloud.aws), which extends C(amazon.aws.aws) and C(community.aws.aws);
    use C(module_defaults) on C(group/resumestack.cloud.aws) to share credentials, region and endpoint with every AWS
    module. C(group/amazon.aws.aws) and C(group/aws) do B(not) reach this module.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Capture all traffic of the VPC into CloudWatch Logs
  resumestack.cloud.vpc_flow_log:
    vpc_id: "{{ vpc.vpc.id }}"
    log_group_name: /resumestack/vpc-flow-logs
    deliver_logs_permission_arn: "{{ flow_log_role.iam_role.arn }}"
    traffic_type: ALL
    max_aggregation_interval: 60
    tags:
      Project: resumestack

- name: Remove the flow log(s) of the VPC to that log group
  resumestack.cloud.vpc_flow_log:
    vpc_id: "{{ vpc.vpc.id }}"
    log_group_name: /resumestack/vpc-flow-logs
    state: absent
"""

RETURN = r"""
flow_log:
  description:
    - The flow log as returned by C(DescribeFlowLogs), keys converted to snake_case, tags as a dict.
    - Empty dict when O(state=absent).
    - In check mode, when the flow log would be created, contains the requested settings with C(flow_log_id=null).
  returned: always
  type: dict
  contains:
    flow_log_id:
      description: ID of the flow log.
      type: str
      sample: fl-0123456789abcdef0
    resource_id:
      description: ID of the VPC.
      type: str
      sample: vpc-0123456789abcdef0
    log_group_name:
      description: Destination log group.
      type: str
      sample: /resumestack/vpc-flow-logs
    log_destination_type:
      description: Destination type, always C(cloud-watch-logs) for this module.
      type: str
      sample: cloud-watch-logs
    traffic_type:
      description: Captured traffic type.
      type: str
      sample: ALL
    deliver_logs_permission_arn:
      description: Delivery IAM role.
      type: str
      sample: arn:aws:iam::123456789012:role/flow-logs
    deliver_logs_status:
      description: Status of log delivery (C(SUCCESS) or C(FAILED)).
      type: str
      sample: SUCCESS
    flow_log_status:
      description: Status of the flow log.
      type: str
      sample: ACTIVE
    max_aggregation_interval:
      description: Aggregation interval in seconds.
      type: int
      sample: 600
    log_format:
      description: Record format.
      type: str
    creation_time:
      description: Creation timestamp.
      type: str
    tags:
      description: Tags of the flow log.
      type: dict
      sample: {"Project": "resumestack"}
deleted_flow_log_ids:
  description: IDs of flow logs deleted by this run (replacement, duplicates or O(state=absent)).
  returned: always
  type: list
  elements: str
  sample: ["fl-0123456789abcdef0"]
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, aws_paginate, retrying_client
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome, snake_resource
from ansible_collections.resumestack.cloud.plugins.module_utils.tags import ensure_ec2_resource_tags

FlowLog = dict[str, Any]

IMMUTABLE = (
    # (API key, module option)
    ("TrafficType", "traffic_type"),
    ("DeliverLogsPermissionArn", "deliver_logs_permission_arn"),
    ("MaxAggregationInterval", "max_aggregation_interval"),
)


def describe_flow_logs(client: Any, module: AnsibleAWSModule, vpc_id: str, log_group_name: str) -> list[FlowLog]:
    result = aws_paginate(
        module,
        f"Failed to describe flow logs of {vpc_id}",
        client,
        "describe_flow_logs",
        Filters=[{"Name": "resource-id", "Values": [vpc_id]}],
    )
    return [
        fl
        for fl in result.get("FlowLogs", [])
        if fl.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs"
        and fl.get("LogGroupName") == log_group_name
        and fl.get("ResourceId") == vpc_id
    ]


def matches(flow_log: FlowLog, params: dict[str, Any]) -> bool:
    return all(flow_log.get(api_key) == params[opt] for api_key, opt in IMMUTABLE)


def comparable(flow_log: FlowLog | None) -> dict[str, Any]:
    """Reduced view used for diff output."""
    if not flow_log:
        return {}
    view = {opt: flow_log.get(api_key) for api_key, opt in IMMUTABLE}
    view["log_group_name"] = flow_log.get("LogGroupName")
    view["flow_log_id"] = flow_log.get("FlowLogId")
    view["tags"] = boto3_tag_list_to_ansible_dict(flow_log.get("Tags", []))
    return view


def delete_flow_logs(client: Any, module: AnsibleAWSModule, flow_log_ids: list[str]) -> None:
    if not flow_log_ids or module.check_mode:
        return
    response = aws_call(
        module, f"Failed to delete flow logs {flow_log_ids}", client.delete_flow_logs, FlowLogIds=flow_log_ids
    )
    failed = [
        u for u in response.get("Unsuccessful", []) if u.get("Error", {}).get("Code") != "InvalidFlowLogId.NotFound"
    ]
    if failed:
        module.fail_json(msg=f"Failed to delete flow logs: {failed}", unsuccessful=failed)


def create_flow_log(client: Any, module: AnsibleAWSModule, params: dict[str, Any]) -> FlowLog:
    request = {
        "ResourceIds": [params["vpc_id"]],
        "ResourceType": "VPC",
        "TrafficType": params["traffic_type"],
        "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": params["log_group_name"],
        "DeliverLogsPermissionArn": params["deliver_logs_permission_arn"],
        "MaxAggregationInterval": params["max_aggregation_interval"],
    }
    if params["tags"]:
        request["TagSpecifications"] = [
            {"ResourceType": "vpc-flow-log", "Tags": ansible_dict_to_boto3_tag_list(params["tags"])}
        ]
    response = aws_call(module, f"Failed to create flow log for {params['vpc_id']}", client.create_flow_logs, **request)
    if response.get("Unsuccessful"):
        module.fail_json(
            msg=f"Failed to create flow log for {params['vpc_id']}: {response['Unsuccessful']}",
            unsuccessful=response["Unsuccessful"],
        )
    flow_log_id = response["FlowLogIds"][0]
    described = aws_call(
        module,
        f"Failed to describe created flow log {flow_log_id}",
        client.describe_flow_logs,
        FlowLogIds=[flow_log_id],
    )["FlowLogs"]
    return described[0] if described else {"FlowLogId": flow_log_id}


def planned_flow_log(params: dict[str, Any]) -> FlowLog:
    """What a flow log created by this run will look like (used in check mode)."""
    return {
        "FlowLogId": None,
        "ResourceId": params["vpc_id"],
        "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": params["log_group_name"],
        "TrafficType": params["traffic_type"],
        "DeliverLogsPermissionArn": params["deliver_logs_permission_arn"],
        "MaxAggregationInterval": params["max_aggregation_interval"],
        "Tags": ansible_dict_to_boto3_tag_list(params["tags"] or {}),
    }


def reconcile_tags(client: Any, module: AnsibleAWSModule, flow_log: FlowLog) -> tuple[bool, FlowLog]:
    """Returns (changed, the flow log with the tags it has after this run)."""
    current = boto3_tag_list_to_ansible_dict(flow_log.get("Tags", []))
    changed, tags = ensure_ec2_resource_tags(client, module, flow_log["FlowLogId"], current)
    return changed, dict(flow_log, Tags=ansible_dict_to_boto3_tag_list(tags))


def ensure_present(client: Any, module: AnsibleAWSModule) -> None:
    params = module.params
    outcome = Outcome(module)
    existing = describe_flow_logs(client, module, params["vpc_id"], params["log_group_name"])
    keep = next((fl for fl in existing if matches(fl, params)), None)
    stale_ids = [fl["FlowLogId"] for fl in existing if fl is not keep]
    before = comparable(keep or (existing[0] if existing else None))

    outcome.record(bool(stale_ids))
    delete_flow_logs(client, module, stale_ids)

    if keep is None:
        outcome.record(True)
        flow_log = planned_flow_log(params) if module.check_mode else create_flow_log(client, module, params)
    else:
        tags_changed, flow_log = reconcile_tags(client, module, keep)
        outcome.record(tags_changed)

    outcome.exit(before, comparable(flow_log), flow_log=snake_resource(flow_log), deleted_flow_log_ids=stale_ids)


def ensure_absent(client: Any, module: AnsibleAWSModule) -> None:
    params = module.params
    outcome = Outcome(module)
    existing = describe_flow_logs(client, module, params["vpc_id"], params["log_group_name"])
    ids = [fl["FlowLogId"] for fl in existing]
    outcome.record(bool(ids))
    delete_flow_logs(client, module, ids)
    outcome.exit(
        {"flow_logs": [comparable(fl) for fl in existing]},
        {"flow_logs": []},
        flow_log={},
        deleted_flow_log_ids=ids,
    )


def main() -> None:
    argument_spec = {
        "vpc_id": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "log_group_name": {"type": "str", "required": True},
        "traffic_type": {"type": "str", "default": "ALL", "choices": ["ALL", "ACCEPT", "REJECT"]},
        "deliver_logs_permission_arn": {"type": "str", "aliases": ["role_arn"]},
        "max_aggregation_interval": {"type": "int", "default": 600, "choices": [60, 600]},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ["deliver_logs_permission_arn"])],
        supports_check_mode=True,
    )
    client = retrying_client(module, "ec2")

    if module.params["state"] == "present":
        ensure_present(client, module)
    else:
        ensure_absent(client, module)


if __name__ == "__main__":
    main()
