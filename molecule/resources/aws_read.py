"""Print the JSON answer of one read-only AWS API call, for verify steps that no *_info module covers.

Usage: aws_read.py SERVICE OPERATION [JSON_KEYWORD_ARGUMENTS]

The connection comes from the standard AWS_* environment variables (AWS_ENDPOINT_URL,
AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), as boto3 reads them.
"""

from __future__ import annotations

import json
import sys

import boto3

READ_ONLY_PREFIXES = ("describe_", "get_", "list_")
# Reads that would return a secret or a decrypted parameter: a test never needs to print those.
SECRET_READS = {"get_secret_value", "get_parameter", "get_parameters", "get_parameters_by_path"}


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    service, operation = argv[1], argv[2]
    if not operation.startswith(READ_ONLY_PREFIXES) or operation in SECRET_READS:
        print(f"aws_read.py only reads, and never secret values: {operation!r} refused", file=sys.stderr)
        return 2
    kwargs = json.loads(argv[3]) if len(argv) == 4 else {}
    answer = getattr(boto3.client(service), operation)(**kwargs)
    answer.pop("ResponseMetadata", None)
    json.dump(answer, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
