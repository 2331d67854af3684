# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS calls that end the run with ``fail_json_aws`` when boto3 raises.

Every AWS call of the collection's modules goes through ``aws_call``/``aws_paginate`` or sits in an ``aws_errors``
block, so a ``ClientError``/``BotoCoreError`` always fails the task with the error code, message and request id that
``fail_json_aws`` adds, behind the module's own message.
"""

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from typing import Any

with suppress(ImportError):  # AnsibleAWSModule reports a missing botocore before a module gets here
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    is_boto3_error_code,
    paginated_query_with_retries,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def retrying_client(module: AnsibleAWSModule, service: str) -> Any:
    """A boto3 client whose methods retry throttling and transient errors when called with ``aws_retry=True``."""
    return module.client(service, retry_decorator=AWSRetry.jittered_backoff())


@contextmanager
def aws_errors(module: AnsibleAWSModule, msg: str) -> Iterator[None]:
    """Fails the module with ``msg`` (plus the AWS error) when a boto3 call in the block raises."""
    try:
        yield
    except (ClientError, BotoCoreError) as e:
        module.fail_json_aws(e, msg=msg)
        # fail_json_aws exits; re-raising keeps a stand-in module (unit tests) from silently going on.
        raise


def aws_call(
    module: AnsibleAWSModule,
    msg: str,
    method: Callable[..., Any],
    /,
    *args: Any,
    ignore_codes: Collection[str] = (),
    **kwargs: Any,
) -> Any:
    """Calls a method of a ``retrying_client`` with retries; fails the module with ``msg`` on an AWS error.

    ``ignore_codes`` are error codes that mean there is nothing to do (the resource is already gone, the target is
    already registered, ...): the call then returns None instead of failing.
    """
    with aws_errors(module, msg):
        try:
            return method(*args, aws_retry=True, **kwargs)
        except is_boto3_error_code(list(ignore_codes)):
            return None


def aws_paginate(
    module: AnsibleAWSModule,
    msg: str,
    client: Any,
    operation: str,
    /,
    *,
    ignore_codes: Collection[str] = (),
    **kwargs: Any,
) -> dict[str, Any]:
    """The full result of a paginated operation (amazon.aws retries each page); ``{}`` for an ``ignore_codes`` error."""
    with aws_errors(module, msg):
        try:
            return paginated_query_with_retries(client, operation, **kwargs)
        except is_boto3_error_code(list(ignore_codes)):
            return {}
