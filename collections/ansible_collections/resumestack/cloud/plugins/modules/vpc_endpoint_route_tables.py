#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: vpc_endpoint_route_tables
version_added: 1.1.0
short_description: Keep the route tables of an existing VPC gateway endpoint
description:
  - M(amazon.aws.ec2_vpc_endpoint) sets a gateway endpoint's route tables when it creates the endpoint and never
    after (with other route tables it matches no endpoint and creates a second one). This module adds the missing
    route tables to an existing endpoint and, with O(purge_route_tables), removes the others (C(ModifyVpcEndpoint));
    AWS then adds or removes the service's prefix-list route in each table.
  - "IAM permissions needed: C(ec2:DescribeVpcEndpoints), C(ec2:ModifyVpcEndpoint)."
author:
  - ResumeStack maintainers (@resumestack)
options:
  vpc_endpoint_id:
    description: The gateway endpoint.
    type: str
    required: true
  route_table_ids:
    description: The route tables the endpoint must serve.
    type: list
    elements: str
    required: true
  purge_route_tables:
    description: Remove the route tables not in O(route_table_ids).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Give the S3 gateway endpoint every private route table
  resumestack.cloud.vpc_endpoint_route_tables:
    vpc_endpoint_id: vpce-0123456789abcdef0
    route_table_ids: [rtb-0123456789abcdef0, rtb-0fedcba9876543210]
    purge_route_tables: true
"""

RETURN = r"""
route_table_ids:
  description: The endpoint's route tables afterwards (planned ones in check mode), sorted.
  returned: success
  type: list
  elements: str
added:
  description: The route tables added (or to add, in check mode).
  returned: success
  type: list
  elements: str
removed:
  description: The route tables removed (or to remove, in check mode).
  returned: success
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, retrying_client
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome


def describe(client: Any, module: AnsibleAWSModule, endpoint_id: str) -> dict[str, Any]:
    found = aws_call(
        module,
        f"Could not describe VPC endpoint {endpoint_id}",
        client.describe_vpc_endpoints,
        VpcEndpointIds=[endpoint_id],
    )
    endpoints = [e for e in (found or {}).get("VpcEndpoints", []) if e.get("State", "").lower() != "deleted"]
    if not endpoints:
        module.fail_json(msg=f"VPC endpoint {endpoint_id} does not exist")
    if endpoints[0].get("VpcEndpointType") != "Gateway":
        module.fail_json(msg=f"VPC endpoint {endpoint_id} is not a gateway endpoint: it has no route tables")
    return dict(endpoints[0])


def plan(current: list[str], wanted: list[str], purge: bool) -> tuple[list[str], list[str]]:
    """(route tables to add, route tables to remove)."""
    add = sorted(set(wanted) - set(current))
    remove = sorted(set(current) - set(wanted)) if purge else []
    return add, remove


def main() -> None:
    argument_spec = {
        "vpc_endpoint_id": {"type": "str", "required": True},
        "route_table_ids": {"type": "list", "elements": "str", "required": True},
        "purge_route_tables": {"type": "bool", "default": False},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = retrying_client(module, "ec2")
    outcome = Outcome(module)
    endpoint_id = module.params["vpc_endpoint_id"]
    current = sorted(describe(client, module, endpoint_id).get("RouteTableIds") or [])
    add, remove = plan(current, module.params["route_table_ids"], module.params["purge_route_tables"])
    outcome.record(bool(add or remove))
    after = sorted((set(current) | set(add)) - set(remove))
    if (add or remove) and not module.check_mode:
        request: dict[str, Any] = {"VpcEndpointId": endpoint_id}
        if add:
            request["AddRouteTableIds"] = add
        if remove:
            request["RemoveRouteTableIds"] = remove
        aws_call(
            module,
            f"Could not change the route tables of VPC endpoint {endpoint_id}",
            client.modify_vpc_endpoint,
            **request,
        )
        after = sorted(describe(client, module, endpoint_id).get("RouteTableIds") or [])
    outcome.exit(
        {"route_table_ids": current}, {"route_table_ids": after}, route_table_ids=after, added=add, removed=remove
    )


if __name__ == "__main__":
    main()
