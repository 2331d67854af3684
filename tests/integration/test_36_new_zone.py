"""A zone added to a network that exists gets the S3 gateway endpoint on its private route table.

amazon.aws.ec2_vpc_endpoint gives a gateway endpoint its route tables when it creates it, never
after; the network role keeps them with resumestack.cloud.vpc_endpoint_route_tables. The local
cloud adds the S3 prefix-list route to a route table put on the endpoint, as AWS does. Runs on the
second, empty emulator (no NAT gateway, no flow logs: the endpoint is what is looked at).
"""

from __future__ import annotations

import json

from tests.integration.conftest import LOGS, Cloud
from tests.integration.helpers import PROJECT, VPC_PREFIX, run_playbook

TWO_ZONES = {
    "network_nat_mode": "none",
    "network_flow_logs_enabled": False,
    "network_availability_zones": ["eu-west-1a", "eu-west-1b"],
    "network_public_subnet_cidrs": [f"{VPC_PREFIX}.0.0/20", f"{VPC_PREFIX}.16.0/20"],
    "network_private_subnet_cidrs": [f"{VPC_PREFIX}.128.0/20", f"{VPC_PREFIX}.144.0/20"],
}
THREE_ZONES = {
    **TWO_ZONES,
    "network_availability_zones": [*TWO_ZONES["network_availability_zones"], "eu-west-1c"],
    "network_public_subnet_cidrs": [*TWO_ZONES["network_public_subnet_cidrs"], f"{VPC_PREFIX}.32.0/20"],
    "network_private_subnet_cidrs": [*TWO_ZONES["network_private_subnet_cidrs"], f"{VPC_PREFIX}.160.0/20"],
}


def test_a_new_zones_private_route_table_is_put_on_the_s3_endpoint(empty_cloud: Cloud) -> None:
    for name, layout in (("two-zones", TWO_ZONES), ("three-zones", THREE_ZONES)):
        run = run_playbook(
            "playbooks/network.yml", "-e", json.dumps(layout), port=empty_cloud.port, log=LOGS / f"{name}.log"
        )
        assert run.returncode == 0, run.output[-3000:]
    ec2 = empty_cloud.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Project", "Values": [PROJECT]}])["Vpcs"][0]["VpcId"]
    private = {
        t["RouteTableId"]: {tag["Key"]: tag["Value"] for tag in t.get("Tags", [])}.get("Name", "")
        for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    }
    private = {rt: name for rt, name in private.items() if "-private-" in name}
    assert sorted(private.values()) == [f"{PROJECT}-local-private-eu-west-1{z}" for z in "abc"]
    endpoint = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    assert len(endpoint) == 1
    assert sorted(endpoint[0]["RouteTableIds"]) == sorted(private)
    new_zone = next(rt for rt, name in private.items() if name.endswith("-1c"))
    routes = ec2.describe_route_tables(RouteTableIds=[new_zone])["RouteTables"][0]["Routes"]
    assert [r.get("GatewayId") for r in routes if r.get("DestinationPrefixListId")] == [endpoint[0]["VpcEndpointId"]]
