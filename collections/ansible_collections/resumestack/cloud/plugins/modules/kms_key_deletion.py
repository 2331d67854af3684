#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_key_deletion
version_added: 1.0.0
short_description: Schedule the deletion of a KMS key, by its key id
description:
  - Schedules a customer managed KMS key for deletion after a waiting period, and deletes its alias.
  - M(amazon.aws.kms_key) with O(amazon.aws.kms_key#module:state=absent) always passes the key ARN to
    C(ScheduleKeyDeletion); some AWS-compatible endpoints only accept the bare key id. This module resolves the key
    (id, ARN or alias) and passes its id, which every endpoint accepts.
  - A key already pending deletion, or no key at all, is left alone (C(changed=false)).
  - "IAM permissions needed: C(kms:DescribeKey), C(kms:ScheduleKeyDeletion), C(kms:DeleteAlias)."
author:
  - ResumeStack maintainers (@resumestack)
options:
  key:
    description: Key id, key ARN or alias (C(alias/...)) of the key.
    type: str
    required: true
  pending_window:
    description: Days before the key is deleted (7 to 30).
    type: int
    default: 30
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Schedule the database key for deletion in 7 days
  resumestack.cloud.kms_key_deletion:
    key: alias/my-db
    pending_window: 7
"""

RETURN = r"""
key_id:
  description: Id of the key, when one was found.
  returned: when the key exists
  type: str
key_state:
  description: State of the key after the call.
  returned: when the key exists
  type: str
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import aws_call, aws_errors, retrying_client


def describe_key(client: Any, module: AnsibleAWSModule, key: str) -> dict[str, Any] | None:
    found = aws_call(
        module,
        f"Could not describe KMS key {key}",
        client.describe_key,
        KeyId=key,
        ignore_codes=("NotFoundException",),
    )
    return found["KeyMetadata"] if found else None


def schedule_deletion(client: Any, module: AnsibleAWSModule, key_id: str, pending: bool, alias: str | None) -> None:
    with aws_errors(module, f"Could not schedule the deletion of KMS key {key_id}"):
        if not pending:
            client.schedule_key_deletion(
                KeyId=key_id, PendingWindowInDays=module.params["pending_window"], aws_retry=True
            )
        if alias is not None:
            client.delete_alias(AliasName=alias, aws_retry=True)


def main() -> None:
    argument_spec = {
        "key": {"type": "str", "required": True, "no_log": False},
        "pending_window": {"type": "int", "default": 30},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    window = module.params["pending_window"]
    if not 7 <= window <= 30:
        module.fail_json(msg=f"pending_window must be between 7 and 30 days, got {window}")
    client = retrying_client(module, "kms")
    key = module.params["key"]
    meta = describe_key(client, module, key)
    if meta is None:
        module.exit_json(changed=False)

    key_id = meta["KeyId"]
    pending = meta["KeyState"] == "PendingDeletion"
    # A key pending deletion keeps its alias until the alias is deleted: free the name too.
    alias = key if key.startswith("alias/") else None
    if pending and alias is None:
        module.exit_json(changed=False, key_id=key_id, key_state=meta["KeyState"])
    if not module.check_mode:
        schedule_deletion(client, module, key_id, pending, alias)
    module.exit_json(changed=True, key_id=key_id, key_state="PendingDeletion")


if __name__ == "__main__":
    main()
