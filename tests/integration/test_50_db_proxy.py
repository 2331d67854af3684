"""The optional RDS Proxy: turned on, it fronts the cluster with the master secret, and a rerun changes nothing."""

from __future__ import annotations

import json

from tests.integration.conftest import Stack
from tests.integration.helpers import PROJECT, role_policy, run_playbook

PREFIX = f"{PROJECT}-local"
PROXY_ON = json.dumps({"database_proxy_enabled": True})


def test_enabling_the_proxy_registers_the_cluster_behind_it(stack: Stack) -> None:
    first = run_playbook("playbooks/provision.yml", "-e", PROXY_ON, port=stack.cloud.port)
    assert first.returncode == 0, first.output[-3000:]
    rds = stack.cloud.client("rds")
    proxy = rds.describe_db_proxies(DBProxyName=f"{PREFIX}-proxy")["DBProxies"][0]
    assert proxy["EngineFamily"] == "POSTGRESQL" and proxy["RequireTLS"] is True
    assert [a["SecretArn"] for a in proxy["Auth"]] == [stack.outputs["db_secret_arn"]]
    assert sorted(proxy["VpcSubnetIds"]) == sorted(stack.outputs["private_subnet_ids"])
    targets = rds.describe_db_proxy_targets(DBProxyName=proxy["DBProxyName"])["Targets"]
    assert [t["RdsResourceId"] for t in targets if t["Type"] == "TRACKED_CLUSTER"] == [PREFIX]
    statements = role_policy(stack.cloud.client("iam"), f"{PREFIX}-rds-proxy", "read-master-secret")["Statement"]
    assert statements[0]["Resource"] == stack.outputs["db_secret_arn"]

    again = run_playbook("playbooks/provision.yml", "-e", PROXY_ON, port=stack.cloud.port)
    assert again.returncode == 0 and again.changed == 0, again.output[-3000:]
