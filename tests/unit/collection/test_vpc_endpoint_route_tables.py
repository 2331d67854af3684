"""resumestack.cloud.vpc_endpoint_route_tables run for real (ansible CLI) against an in-process moto server."""

import pytest


@pytest.fixture
def gateway(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    tables = [ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(3)]
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.eu-west-1.s3", VpcEndpointType="Gateway", RouteTableIds=tables[:1]
    )["VpcEndpoint"]["VpcEndpointId"]
    return endpoint, tables


def route_tables(aws, endpoint):
    return sorted(aws("ec2").describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"][0]["RouteTableIds"])


def test_check_mode_reports_the_route_tables_to_add_and_changes_nothing(run_module, aws, gateway):
    endpoint, tables = gateway
    result = run_module(
        "vpc_endpoint_route_tables", {"vpc_endpoint_id": endpoint, "route_table_ids": tables}, check=True
    )
    assert result["changed"] is True
    assert result["added"] == sorted(tables[1:])
    assert route_tables(aws, endpoint) == tables[:1]


def test_a_new_route_table_is_added_once_then_left_alone(run_module, aws, gateway):
    endpoint, tables = gateway
    args = {"vpc_endpoint_id": endpoint, "route_table_ids": tables[:2]}
    first = run_module("vpc_endpoint_route_tables", args)
    assert first["changed"] is True, first
    assert route_tables(aws, endpoint) == sorted(tables[:2])
    assert run_module("vpc_endpoint_route_tables", args)["changed"] is False


def test_other_route_tables_stay_unless_purged(run_module, aws, gateway):
    endpoint, tables = gateway
    kept = run_module("vpc_endpoint_route_tables", {"vpc_endpoint_id": endpoint, "route_table_ids": tables[1:2]})
    assert route_tables(aws, endpoint) == sorted(tables[:2]) and kept["removed"] == []
    purged = run_module(
        "vpc_endpoint_route_tables",
        {"vpc_endpoint_id": endpoint, "route_table_ids": tables[1:2], "purge_route_tables": True},
    )
    assert purged["changed"] is True and purged["removed"] == [tables[0]]
    assert route_tables(aws, endpoint) == [tables[1]]


def test_a_missing_endpoint_fails_clearly(run_module):
    result = run_module(
        "vpc_endpoint_route_tables", {"vpc_endpoint_id": "vpce-0000000000000000", "route_table_ids": []}
    )
    assert result.get("failed") is True
    assert "vpce-0000000000000000" in result["msg"]
