"""The optional RDS Proxy: turned on, it fronts the cluster with the master secret, and a rerun changes nothing."""

from __future__ import annotations

import json

from tests.integration.conftest import Stack
from tests.integration.helpers import PROJECT, role_policy, run_playbook

PREFIX = f"{PROJECT}-local"
PROXY_ON = json.dumps({"database_proxy_enabled": True})


def test_enabling_the_proxy_registers_the_cluster_behind_it(stack: Stack) -> None:
    first = run_playbook("playbooks/provision.yml", "-e", PROXY_ON, port=stack.cloud.port)
    assert first.returncode == 0, first.why
    rds = stack.cloud.client("rds")
    proxy = rds.describe_db_proxies(DBProxyName=f"{PREFIX}-proxy")["DBProxies"][0]
    assert proxy["EngineFamily"] == "POSTGRESQL" and proxy["RequireTLS"] is True
    assert [a["SecretArn"] for a in proxy["Auth"]] == [stack.outputs["db_secret_arn"]]
    assert sorted(proxy["VpcSubnetIds"]) == sorted(stack.outputs["private_subnet_ids"])
    # Its own group, which the db group admits (in the db group it could not reach its database).
    proxy_group = stack.cloud.client("ec2").describe_security_groups(
        Filters=[
            {"Name": "group-name", "Values": [f"{PREFIX}-db-proxy"]},
            {"Name": "vpc-id", "Values": [stack.outputs["vpc_id"]]},
        ]
    )["SecurityGroups"]
    assert proxy["VpcSecurityGroupIds"] == [g["GroupId"] for g in proxy_group] and len(proxy_group) == 1
    # The clients' name leads through the proxy while it is on.
    name = stack.outputs["db_dns_name"]
    route53 = stack.cloud.client("route53")
    zone_name = name.split(".", 1)[1]
    zones = route53.list_hosted_zones_by_name(DNSName=zone_name)["HostedZones"]
    zone = next(z for z in zones if z["Name"].rstrip(".") == zone_name)
    records = route53.list_resource_record_sets(
        HostedZoneId=zone["Id"], StartRecordName=name, StartRecordType="CNAME", MaxItems="1"
    )["ResourceRecordSets"]
    assert [(r["Name"].rstrip("."), r["Type"]) for r in records] == [(name, "CNAME")], records
    assert [v["Value"].rstrip(".") for v in records[0]["ResourceRecords"]] == [proxy["Endpoint"]]
    targets = rds.describe_db_proxy_targets(DBProxyName=proxy["DBProxyName"])["Targets"]
    assert [t["RdsResourceId"] for t in targets if t["Type"] == "TRACKED_CLUSTER"] == [PREFIX]
    statements = role_policy(stack.cloud.client("iam"), f"{PREFIX}-rds-proxy", "read-master-secret")["Statement"]
    assert statements[0]["Resource"] == stack.outputs["db_secret_arn"]

    again = run_playbook("playbooks/provision.yml", "-e", PROXY_ON, port=stack.cloud.port)
    assert again.returncode == 0 and again.changed == 0, again.why
