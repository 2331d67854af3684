"""What the database layer keeps on its emulator of its own (the empty one): AWS's minor upgrades (AWS
upgrades a minor by itself and refuses to lower it: a run after such an upgrade must leave it alone),
and the KMS key an earlier teardown's snapshot needs. The network the database layer needs is made
through the API and published as the network layer would, then playbooks/database.yml runs as
provision.yml runs it (about a minute, not a whole site.yml)."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.conftest import Cloud
from tests.integration.helpers import PROJECT, REGION, VPC_PREFIX, run_playbook

IDENTIFIER = f"{PROJECT}-local"


def _available(cloud: Cloud) -> dict[str, object]:
    rds = cloud.client("rds")
    deadline = time.monotonic() + 120
    while True:
        cluster = rds.describe_db_clusters(DBClusterIdentifier=IDENTIFIER)["DBClusters"][0]
        if cluster["Status"] == "available" or time.monotonic() > deadline:
            return dict(cluster)
        time.sleep(2)


@pytest.fixture(scope="module")
def database(empty_cloud: Cloud) -> Cloud:
    ec2 = empty_cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=f"{VPC_PREFIX}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{VPC_PREFIX}.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in ((128, "a"), (144, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"{IDENTIFIER}-db", Description="db", VpcId=vpc)["GroupId"]
    outputs = {
        "environment": "local",
        "aws_region": REGION,
        "vpc_id": vpc,
        "private_subnet_ids": subnets,
        "security_group_ids": {"db": group},
    }
    empty_cloud.client("ssm").put_parameter(
        Name=f"/{PROJECT}/local/outputs", Value=json.dumps(outputs), Type="String", Overwrite=True
    )
    run = run_playbook("playbooks/database.yml", port=empty_cloud.port)
    assert run.returncode == 0, run.output[-3000:]
    assert _available(empty_cloud)["EngineVersion"] == "16.4"
    return empty_cloud


def test_a_run_after_awss_minor_upgrade_changes_nothing_and_keeps_the_upgrade(database: Cloud) -> None:
    rds = database.client("rds")
    # What AWS's automatic minor version upgrade does in the maintenance window.
    rds.modify_db_cluster(DBClusterIdentifier=IDENTIFIER, EngineVersion="16.6", ApplyImmediately=True)
    _available(database)
    run = run_playbook("playbooks/database.yml", port=database.port)
    assert run.returncode == 0, run.output[-3000:]
    assert run.changed == 0
    assert _available(database)["EngineVersion"] == "16.6"


def test_another_major_version_is_refused_before_any_change(database: Cloud) -> None:
    run = run_playbook("playbooks/database.yml", "-e", "database_engine_version=17.2", port=database.port)
    assert run.returncode != 0
    failure = " ".join(run.output[run.output.index("fatal:") :].split())
    assert "a major version upgrade is not done by provisioning" in failure
    assert run.changed == 0
    assert _available(database)["EngineVersion"] == "16.6"


def test_teardown_keeps_the_key_that_an_earlier_teardowns_snapshot_needs(database: Cloud) -> None:
    """An earlier teardown kept its final snapshot, and its key under the alias the next provisioning
    reused: a teardown without a final snapshot (the local inventory's) must not schedule that key
    for deletion, or the snapshot could never be restored."""
    rds, kms = database.client("rds"), database.client("kms")
    earlier = f"{IDENTIFIER}-final-20260101000000"
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=earlier, DBClusterIdentifier=IDENTIFIER)
    key = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=earlier)["DBClusterSnapshots"][0]["KmsKeyId"]
    assert kms.describe_key(KeyId=f"alias/{IDENTIFIER}-db")["KeyMetadata"]["Arn"] == key
    run = run_playbook("playbooks/teardown.yml", port=database.port)
    assert run.returncode == 0, run.output[-3000:]
    assert "is kept, not scheduled for deletion" in " ".join(run.output.split()) and earlier in run.output
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert rds.describe_db_clusters()["DBClusters"] == []
    assert [
        s["DBClusterSnapshotIdentifier"]
        for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    ] == [earlier]
