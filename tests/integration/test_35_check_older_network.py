"""A dry run (--check) of the network layer on a network made before a group it now references existed.

The db group admits the RDS Proxy's group by name; a network made before that group existed has no
such group yet. amazon.aws.ec2_security_group then needs the rule's group_desc to report the group it
would create: without it check mode fails ("not found and would be automatically created ... but no
description was provided"). Runs on the second, empty emulator: the shared stack is left alone.
"""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import LOGS, Cloud
from tests.integration.helpers import PROJECT, run_playbook

PREFIX = f"{PROJECT}-local"


def group(ec2: Any, name: str) -> dict[str, Any]:
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert len(found) == 1, found
    return found[0]


def test_check_mode_on_a_network_made_before_the_proxy_group_completes(empty_cloud: Cloud) -> None:
    made = run_playbook("playbooks/network.yml", port=empty_cloud.port, log=LOGS / "older-network.log")
    assert made.returncode == 0, made.why
    # Back to the network as it was before the proxy's group: no group, no rule naming it.
    ec2 = empty_cloud.client("ec2")
    proxy = group(ec2, f"{PREFIX}-db-proxy")
    # Every rule naming the proxy's group goes first (the db group's ingress, the app's and the
    # bastion's egress): AWS refuses to delete a group another group's rule references.
    for other in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [proxy["VpcId"]]}])[
        "SecurityGroups"
    ]:
        for key, revoke in (
            ("IpPermissions", ec2.revoke_security_group_ingress),
            ("IpPermissionsEgress", ec2.revoke_security_group_egress),
        ):
            rules = [
                {**perm, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": [pair]}
                for perm in other[key]
                for pair in perm.get("UserIdGroupPairs", [])
                if pair["GroupId"] == proxy["GroupId"] and other["GroupId"] != proxy["GroupId"]
            ]
            if rules:
                revoke(GroupId=other["GroupId"], IpPermissions=rules)
    ec2.delete_security_group(GroupId=proxy["GroupId"])

    dry = run_playbook("playbooks/network.yml", "--check", port=empty_cloud.port, log=LOGS / "older-network-check.log")
    assert dry.returncode == 0, dry.why
    assert dry.changed > 0  # the group and the rule it would add
    names = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert f"{PREFIX}-db-proxy" not in names  # a dry run creates nothing
