"""Switching network_nat_mode adds or removes gateways only; nothing else is replaced or duplicated."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import Stack
from tests.integration.helpers import PROJECT, run_playbook


def _network(stack: Stack) -> dict[str, Any]:
    ec2 = stack.cloud.client("ec2")
    vpc_id = stack.outputs["vpc_id"]
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
    nats = [
        n
        for n in ec2.describe_nat_gateways(Filters=vpc_filter)["NatGateways"]
        if n["State"] in ("pending", "available")
    ]
    return {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag:Project", "Values": [PROJECT]}])["Vpcs"]],
        "subnets": sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=vpc_filter)["Subnets"]),
        "igws": [i["InternetGatewayId"] for i in ec2.describe_internet_gateways()["InternetGateways"]],
        "nats": {n["SubnetId"]: n["NatGatewayId"] for n in nats},
        "eips": sorted(a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]),
    }


def _provision(stack: Stack, mode: str) -> None:
    run = run_playbook("playbooks/provision.yml", "-e", json.dumps({"network_nat_mode": mode}), port=stack.cloud.port)
    assert run.returncode == 0, run.why


def test_switching_nat_mode_keeps_the_vpc_subnets_and_the_remaining_gateway(stack: Stack) -> None:
    before = _network(stack)
    first_public = stack.outputs["public_subnet_ids"][0]
    assert len(before["nats"]) == 2 and len(before["eips"]) == 2

    _provision(stack, "single")
    single = _network(stack)
    assert (single["vpcs"], single["subnets"], single["igws"]) == (before["vpcs"], before["subnets"], before["igws"])
    assert single["nats"] == {first_public: before["nats"][first_public]}
    assert len(single["eips"]) == 1  # the removed gateway's address was released

    _provision(stack, "per_az")
    after = _network(stack)
    assert (after["vpcs"], after["subnets"], after["igws"]) == (before["vpcs"], before["subnets"], before["igws"])
    assert len(after["nats"]) == 2 and after["nats"][first_public] == before["nats"][first_public]
    assert len(after["eips"]) == 2  # never a duplicate gateway or address
