"""The database key stays while a snapshot it encrypts remains (roles/database/tasks/delete.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[3]
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k-1"


def kept_for(snapshots: list[dict[str, Any]], cluster_snapshots: list[dict[str, Any]]) -> list[str]:
    """The snapshot identifiers the role's expression finds for the key (plain Jinja: its filters and
    tests are Jinja's own)."""
    tasks = yaml.safe_load((ROOT / "roles/database/tasks/delete.yml").read_text())
    (task,) = [t for t in tasks if t["name"] == "delete | Keep the key while snapshots need it"]
    expression = task["ansible.builtin.set_fact"]["__database_key_snapshots"].strip()
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - not HTML
    rendered = environment.from_string(expression).render(
        __database_snapshots={"snapshots": snapshots, "cluster_snapshots": cluster_snapshots},
        __database_key_arns=[KEY],
    )
    return list(yaml.safe_load(rendered))


def test_manual_and_aws_backup_snapshots_hold_the_key_automated_ones_do_not() -> None:
    """AWS Backup's RDS recovery points (SnapshotType awsbackup) use the source's key like a manual
    snapshot; automated ones go with their cluster."""
    cluster = [
        {"db_cluster_snapshot_identifier": "final", "snapshot_type": "manual", "kms_key_id": KEY},
        {"db_cluster_snapshot_identifier": "backup", "snapshot_type": "awsbackup", "kms_key_id": KEY},
        {"db_cluster_snapshot_identifier": "rds:auto", "snapshot_type": "automated", "kms_key_id": KEY},
        {"db_cluster_snapshot_identifier": "other-key", "snapshot_type": "manual", "kms_key_id": "arn:other"},
    ]
    instance = [{"db_snapshot_identifier": "old", "snapshot_type": "awsbackup", "kms_key_id": KEY}]
    assert kept_for(instance, cluster) == ["old", "final", "backup"]
    assert kept_for([], [cluster[2]]) == []


def test_the_snapshot_query_is_not_limited_to_manual_ones() -> None:
    """rds_snapshot_info's snapshot_type has no awsbackup choice: the query takes every type."""
    tasks = yaml.safe_load((ROOT / "roles/database/tasks/delete.yml").read_text())
    (task,) = [t for t in tasks if t["name"] == "delete | Find the snapshots the key encrypts"]
    assert "snapshot_type" not in (task["amazon.aws.rds_snapshot_info"] or {})
