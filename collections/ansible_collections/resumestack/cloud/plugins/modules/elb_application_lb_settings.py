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

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule


def as_api_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            load_balancer_arn=dict(type="str", required=True),
            attributes=dict(type="dict", default={}),
            web_acl_arn=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    arn = module.params["load_balancer_arn"]
    wanted = {k: as_api_string(v) for k, v in module.params["attributes"].items()}
    elb = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        found = elb.describe_load_balancer_attributes(LoadBalancerArn=arn, aws_retry=True)["Attributes"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not read the attributes of {arn}")
    current = {a["Key"]: a["Value"] for a in found}
    before = {"attributes": {k: current.get(k) for k in wanted}}
    to_set = {k: v for k, v in wanted.items() if current.get(k) != v}
    changed = bool(to_set)
    if to_set and not module.check_mode:
        try:
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=arn,
                Attributes=[{"Key": k, "Value": v} for k, v in sorted(to_set.items())],
                aws_retry=True,
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Could not set the attributes of {arn}")
    after = {"attributes": dict(wanted)}

    acl_after = ""
    if module.params["web_acl_arn"] is not None:
        waf = module.client("wafv2", retry_decorator=AWSRetry.jittered_backoff())
        try:
            acl_before = waf.get_web_acl_for_resource(ResourceArn=arn, aws_retry=True).get("WebACL", {}).get("ARN", "")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Could not read the web ACL of {arn}")
        acl_after = module.params["web_acl_arn"]
        before["web_acl_arn"], after["web_acl_arn"] = acl_before, acl_after
        if acl_before != acl_after:
            changed = True
            if not module.check_mode:
                try:
                    if acl_after:
                        waf.associate_web_acl(WebACLArn=acl_after, ResourceArn=arn, aws_retry=True)
                    else:
                        waf.disassociate_web_acl(ResourceArn=arn, aws_retry=True)
                except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                    module.fail_json_aws(e, msg=f"Could not change the web ACL of {arn}")
    module.exit_json(
        changed=changed, attributes=after["attributes"], web_acl_arn=acl_after, diff={"before": before, "after": after}
    )


if __name__ == "__main__":
    main()
