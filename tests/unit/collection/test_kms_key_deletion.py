"""resumestack.cloud.kms_key_deletion run for real (ansible CLI) against an in-process moto server."""

import pytest
from conftest import unique


@pytest.fixture
def key(aws):
    alias = f"alias/{unique('db')}"
    key_id = aws("kms").create_key(Description="test")["KeyMetadata"]["KeyId"]
    aws("kms").create_alias(AliasName=alias, TargetKeyId=key_id)
    return alias, key_id


def state(aws, key_id):
    return aws("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def aliases(aws):
    return {a["AliasName"] for a in aws("kms").list_aliases()["Aliases"]}


def test_check_mode_schedules_nothing(run_module, aws, key):
    alias, key_id = key
    result = run_module("kms_key_deletion", {"key": alias, "pending_window": 7}, check=True)
    assert result["changed"] is True and result["key_id"] == key_id
    assert state(aws, key_id) == "Enabled"
    assert alias in aliases(aws)


def test_deletion_by_alias_schedules_the_key_and_frees_the_alias_once(run_module, aws, key):
    alias, key_id = key
    first = run_module("kms_key_deletion", {"key": alias, "pending_window": 7})
    assert first["changed"] is True
    assert state(aws, key_id) == "PendingDeletion"
    assert alias not in aliases(aws)
    assert run_module("kms_key_deletion", {"key": alias, "pending_window": 7})["changed"] is False
    assert run_module("kms_key_deletion", {"key": key_id})["changed"] is False


def test_a_pending_window_out_of_range_is_refused(run_module, key):
    result = run_module("kms_key_deletion", {"key": key[0], "pending_window": 3})
    assert result.get("failed") is True
    assert "pending_window" in result["msg"]
