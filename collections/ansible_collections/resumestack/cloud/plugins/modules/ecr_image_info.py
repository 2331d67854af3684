#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecr_image_info
version_added: 1.2.0
short_description: Whether an image tag is in an ECR repository, and its digest
description:
  - Looks up one tag of an ECR repository (DescribeImages). An absent tag, or an absent repository, is not an error
    (I(exists) is false); the caller decides what it means (a deploy refuses, a build pushes).
  - Needs neither Docker nor the AWS CLI, so it runs in an AWX execution environment.
  - "IAM permissions needed: C(ecr:DescribeImages)."
author:
  - ResumeStack maintainers (@resumestack)
options:
  repository:
    description: Name of the repository.
    type: str
    required: true
  tag:
    description: The image tag.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Look for the image to deploy
  resumestack.cloud.ecr_image_info:
    repository: resume-dev/api
    tag: 0123456789ab
  register: found
"""

RETURN = r"""
exists:
  description: Whether the repository holds an image under the tag.
  returned: always
  type: bool
repository_exists:
  description: Whether the repository exists.
  returned: always
  type: bool
image:
  description: The image (DescribeImages' detail, snake_case) when it exists, else an empty dict.
  returned: always
  type: dict
  sample: {"image_digest": "sha256:...", "image_tags": ["0123456789ab"]}
"""

from typing import Any

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_errors, retrying_client


def describe(client: Any, module: AnsibleAWSModule) -> tuple[bool, dict[str, Any] | None]:
    """(repository exists, the image under the tag or None)."""
    params = module.params
    with aws_errors(module, f"Could not look up {params['repository']}:{params['tag']} in ECR"):
        try:
            found = client.describe_images(
                repositoryName=params["repository"], imageIds=[{"imageTag": params["tag"]}], aws_retry=True
            )
        except is_boto3_error_code("RepositoryNotFoundException"):
            return False, None
        except is_boto3_error_code("ImageNotFoundException"):
            return True, None
    images = found.get("imageDetails", [])
    return True, images[0] if images else None


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={"repository": {"type": "str", "required": True}, "tag": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    repository_exists, image = describe(retrying_client(module, "ecr"), module)
    module.exit_json(
        changed=False,
        exists=image is not None,
        repository_exists=repository_exists,
        image=camel_dict_to_snake_dict(image) if image else {},
    )


if __name__ == "__main__":
    main()
