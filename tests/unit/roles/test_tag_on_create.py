"""Resources are tagged by the call that creates them, never tagged afterwards.

Accounts often require tags at creation (an SCP or IAM condition on ``aws:RequestTag``), and a run
that dies between a create and a later tag leaves an untagged resource that nothing finds again (an
elastic IP, billed). amazon.aws's ec2_eip and ec2_vpc_nat_gateway send ``tags`` as TagSpecifications
of AllocateAddress / CreateNatGateway; community.aws.ecs_cluster sends no tags at all, so the cluster
is created by resumestack.cloud.ecs_cluster_settings (``create: true``) first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def tasks(path: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((ROOT / path).read_text()))


def the_task(path: str, module: str, **where: Any) -> dict[str, Any]:
    found = [t[module] for t in tasks(path) if module in t and all(t[module].get(k) == v for k, v in where.items())]
    assert len(found) == 1, f"{path}: expected one {module} task {where}, found {len(found)}"
    return dict(found[0])


def test_no_role_tags_a_resource_after_creating_it() -> None:
    for path in sorted((ROOT / "roles").rglob("tasks/*.yml")):
        assert "amazon.aws.ec2_tag:" not in path.read_text(), f"{path.relative_to(ROOT)} tags after creating"


def test_the_nat_gateways_elastic_ip_is_allocated_with_its_tags() -> None:
    eip = the_task("roles/network/tasks/nat.yml", "amazon.aws.ec2_eip", state="present")
    assert "__network_tags" in eip["tags"]
    # A tagged address a failed run left unassociated is taken again, not allocated anew.
    assert eip["reuse_existing_ip_allowed"] is True
    assert eip["tag_name"] == "Name"


def test_the_nat_gateway_is_created_with_its_tags_and_its_tagged_address() -> None:
    nat = the_task("roles/network/tasks/nat.yml", "amazon.aws.ec2_vpc_nat_gateway", state="present")
    assert "__network_tags" in nat["tags"]
    assert "__network_nat_eip_for_az" in nat["allocation_id"]


def test_the_ecs_cluster_is_created_with_its_tags_before_community_aws_sees_it() -> None:
    steps = tasks("roles/ecs_cluster/tasks/create.yml")
    modules = [k for t in steps for k in t if k.startswith(("resumestack.", "community.", "amazon."))]
    create = modules.index("resumestack.cloud.ecs_cluster_settings")
    assert create < modules.index("community.aws.ecs_cluster")
    settings = the_task("roles/ecs_cluster/tasks/create.yml", "resumestack.cloud.ecs_cluster_settings")
    assert settings["create"] is True
    assert "__ecs_cluster_tags" in settings["tags"]
