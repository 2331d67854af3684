#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: elb_application_lb_settings
version_added: 1.1.0
short_description: Attributes and the WAFv2 web ACL of an existing Application Load Balancer
description:
  - Sets only the load balancer attributes given (access logs, deletion protection, header handling, ...) and
    associates a regional WAFv2 web ACL with the load balancer (or removes the association).
  - M(amazon.aws.elb_application_lb) fails with KeyError on the attributes against emulators that return only
    some of them, and M(community.aws.wafv2_resources) needs ListResourcesForWebACL; this module reads the
    attributes it sets and the association with GetWebACLForResource only.
  - "IAM permissions needed: C(elasticloadbalancing:DescribeLoadBalancerAttributes),
    C(elasticloadbalancing:ModifyLoadBalancerAttributes), C(wafv2:GetWebACLForResource), C(wafv2:AssociateWebACL),
    C(wafv2:DisassociateWebACL)."
author:
  - ResumeStack maintainers (@resumestack)
options:
  load_balancer_arn:
    description: ARN of the load balancer.
    type: str
    required: true
  attributes:
    description: Attribute keys and values (strings, as the API takes them). Attributes not named are left alone.
    type: dict
    default: {}
  web_acl_arn:
    description: ARN of the regional web ACL to associate; an empty string removes the association; not given leaves it.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Log to S3 and protect the ALB with the web ACL
  resumestack.cloud.elb_application_lb_settings:
    load_balancer_arn: "{{ alb.load_balancer_arn }}"
    attributes:
      access_logs.s3.enabled: "true"
      access_logs.s3.bucket: my-alb-logs
      routing.http.drop_invalid_header_fields.enabled: "true"
    web_acl_arn: "{{ acl.arn }}"
"""

RETURN = r"""
attributes:
  description: The attributes named in I(attributes), after the change.
  returned: success
  type: dict
web_acl_arn:
  description: The associated web ACL after the change (empty when none).
  returned: success
  type: str
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, retrying_client
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome


def as_api_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def reconcile_attributes(module: AnsibleAWSModule, arn: str) -> tuple[bool, dict[str, str | None], dict[str, str]]:
    """Sets the attributes named in the options; returns (changed, their values before, after)."""
    wanted = {k: as_api_string(v) for k, v in module.params["attributes"].items()}
    elb = retrying_client(module, "elbv2")
    found = aws_call(
        module,
        f"Could not read the attributes of {arn}",
        elb.describe_load_balancer_attributes,
        LoadBalancerArn=arn,
    )["Attributes"]
    current = {a["Key"]: a["Value"] for a in found}
    to_set = {k: v for k, v in wanted.items() if current.get(k) != v}
    if to_set and not module.check_mode:
        aws_call(
            module,
            f"Could not set the attributes of {arn}",
            elb.modify_load_balancer_attributes,
            LoadBalancerArn=arn,
            Attributes=[{"Key": k, "Value": v} for k, v in sorted(to_set.items())],
        )
    return bool(to_set), {k: current.get(k) for k in wanted}, wanted


def reconcile_web_acl(module: AnsibleAWSModule, arn: str, wanted: str) -> tuple[bool, str]:
    """Associates the web ACL (``""``: none); returns (changed, the ACL before)."""
    waf = retrying_client(module, "wafv2")
    found = aws_call(module, f"Could not read the web ACL of {arn}", waf.get_web_acl_for_resource, ResourceArn=arn)
    current = found.get("WebACL", {}).get("ARN", "")
    if current != wanted and not module.check_mode:
        msg = f"Could not change the web ACL of {arn}"
        if wanted:
            aws_call(module, msg, waf.associate_web_acl, WebACLArn=wanted, ResourceArn=arn)
        else:
            aws_call(module, msg, waf.disassociate_web_acl, ResourceArn=arn)
    return current != wanted, current


def main() -> None:
    argument_spec = {
        "load_balancer_arn": {"type": "str", "required": True},
        "attributes": {"type": "dict", "default": {}},
        "web_acl_arn": {"type": "str"},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    arn = module.params["load_balancer_arn"]
    outcome = Outcome(module, diff_always=True)
    attributes_changed, attributes_before, attributes = reconcile_attributes(module, arn)
    outcome.record(attributes_changed)
    before: dict[str, Any] = {"attributes": attributes_before}
    after: dict[str, Any] = {"attributes": attributes}

    web_acl_arn = module.params["web_acl_arn"]
    if web_acl_arn is not None:
        acl_changed, before["web_acl_arn"] = reconcile_web_acl(module, arn, web_acl_arn)
        outcome.record(acl_changed)
        after["web_acl_arn"] = web_acl_arn
    outcome.exit(before, after, attributes=attributes, web_acl_arn=web_acl_arn or "")


if __name__ == "__main__":
    main()
