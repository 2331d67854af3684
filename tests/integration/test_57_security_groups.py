"""Security groups enforced on the local cloud (localcloud/firewall.py), each rule both ways.

The session's stack (site.yml) runs the service's tasks, the bastion and the database; the RDS Proxy
is turned on here as in test_50 (provision.yml, a no-op when test_50 already did). Every connection
is tried from where AWS would see it come from: inside a task or the bastion (docker exec), or from
this host bound to the address of the load balancer or the proxy. A refused connection is dropped,
not rejected: the attempt times out, as on AWS.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud import fidelity, firewall
from localcloud.dataplane import LABEL, DataPlane, ServiceAddress
from tests.integration.conftest import LOGS, ROOT, Stack
from tests.integration.helpers import PROJECT, run_playbook

PREFIX = f"{PROJECT}-local"
API = f"{PREFIX}-api"
PROXY_ON = json.dumps({"database_proxy_enabled": True})
TIMEOUT = 3.0  # seconds before a connection attempt counts as dropped
CONNECTED = "connected"
# A dropped packet leaves the client waiting: only a timeout counts as dropped (a refusal, a reset or
# an address this host lacks would prove nothing about the groups). socket.timeout before Python 3.10.
DROPPED = {"TimeoutError", "timeout"}


def plane(stack: Stack) -> DataPlane:
    return DataPlane(
        endpoint=stack.cloud.endpoint,
        region="eu-west-1",
        project=PROJECT,
        state_dir=Path(os.environ.get("LOCALCLOUD_DATAPLANE_DIR", ROOT / ".state" / "dataplane")),
        access_key=fidelity.INTERNAL_ACCESS_KEY,  # the test's reads are never throttled
    )


def wait(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(1.0)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


# Run inside a container: CONNECTED, or the name of the exception the attempt raised.
ATTEMPT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3])).close()
    print("connected")
except OSError as exc:
    print(type(exc).__name__)
"""


def from_container(container: str, host: str, port: int) -> str:
    """A TCP connection from inside ``container`` to host:port: CONNECTED, or the exception's type name."""
    argv = ["docker", "exec", container, "python3", "-c", ATTEMPT, host, str(port), str(TIMEOUT)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout.strip() or f"no answer from the attempt: {proc.stderr.strip()[-500:]}"


def from_host(host: str, port: int, source: str = "") -> str:
    """A TCP connection from this host (from ``source`` when given): CONNECTED, or the exception's type name."""
    try:
        with socket.create_connection((host, port), TIMEOUT, source_address=(source, 0) if source else None):
            return CONNECTED
    except OSError as exc:
        return type(exc).__name__


def services(stack: Stack) -> dict[str, ServiceAddress]:
    found = [*plane(stack).database_services(), *plane(stack).balancer_addresses()]
    return {svc.key.split(":", 1)[0]: svc for svc in found}


def api_task(stack: Stack) -> tuple[str, str]:
    """(container, address) of a running task of the API service."""
    out = subprocess.run(
        [
            "docker", "ps", "--filter", f"label={LABEL}.ecs.endpoint={stack.cloud.endpoint}",
            "--filter", f"label={LABEL}.ecs.service={API}", "--format", "{{.Names}}",
        ],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert out, "no running task of the API service"
    info = json.loads(subprocess.run(["docker", "inspect", out[0]], capture_output=True, text=True, check=True).stdout)
    nets = info[0]["NetworkSettings"]["Networks"]
    return out[0], next(iter(nets.values()))["IPAddress"]


@pytest.fixture(scope="module", autouse=True)
def enforced(stack: Stack) -> None:
    """The groups are enforced on this host at all (no nft or no br_netfilter now fails the sync,
    which used to turn enforcement off without a word, and every drop test below with it)."""
    assert os.environ.get("LOCALCLOUD_SECURITY_GROUPS", "on").lower() != "off"
    assert firewall.BRIDGE_NF_CALL.read_text().strip() == "1"
    scope = plane(stack).scope
    wait(f"table inet {firewall.table_name(scope)}", lambda: firewall.present(scope))


@pytest.fixture(scope="module")
def proxied(stack: Stack) -> dict[str, ServiceAddress]:
    """The stack with its RDS Proxy on and the db name leading through it (test_50 leaves it so, but a
    later run with the proxy off, test_55's, points the name back at the writer), and the addresses of
    DB, proxy and ALB."""
    proxies = stack.cloud.client("rds").describe_db_proxies().get("DBProxies", [])
    endpoints = {p["Endpoint"] for p in proxies}
    if not endpoints or not set(plane(stack)._dns_records().values()) & endpoints:
        log = LOGS / "sg-proxy-on.log"
        run = run_playbook("playbooks/provision.yml", "-e", PROXY_ON, port=stack.cloud.port, log=log)
        assert run.returncode == 0, run.why

    def ready() -> dict[str, ServiceAddress] | None:
        found = services(stack)
        return found if {"db", "proxy", "alb"} <= set(found) and found["proxy"].target else None

    return dict(wait("the addresses of the database, the proxy and the load balancer", ready))


@pytest.fixture(scope="module")
def bastion(stack: Stack) -> str:
    return plane(stack).container_name(stack.outputs["bastion_instance_id"])


def test_an_app_task_reaches_the_database(stack: Stack, proxied: dict[str, ServiceAddress]) -> None:
    container, _ = api_task(stack)
    assert from_container(container, proxied["db"].address, proxied["db"].port) == CONNECTED


def test_the_bastion_reaches_the_database(stack: Stack, bastion: str, proxied: dict[str, ServiceAddress]) -> None:
    assert from_container(bastion, proxied["db"].address, proxied["db"].port) == CONNECTED


def test_the_proxy_reaches_the_database_from_its_own_address(proxied: dict[str, ServiceAddress]) -> None:
    """The proxy is in a group of its own that the db group admits (on AWS, in the db group it could not)."""
    proxy, db = proxied["proxy"], proxied["db"]
    reached = from_host(db.address, db.port, source=proxy.address)
    assert reached == CONNECTED, (reached, proxy.security_groups, db.security_groups)
    assert set(proxy.security_groups).isdisjoint(db.security_groups)


def test_a_source_the_db_group_does_not_list_is_dropped(proxied: dict[str, ServiceAddress]) -> None:
    """The load balancer's group is nowhere in the db group's rules: its address gets no answer."""
    db, alb = proxied["db"], proxied["alb"]
    assert from_host(db.address, db.port, source=alb.address) in DROPPED


def test_a_revoked_rule_refuses_the_bastion_and_its_return_admits_it_again(
    stack: Stack, bastion: str, proxied: dict[str, ServiceAddress]
) -> None:
    ec2 = stack.cloud.client("ec2")
    db = proxied["db"]
    bastion_group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{PREFIX}-bastion"]}])[
        "SecurityGroups"
    ][0]["GroupId"]
    db_group = ec2.describe_security_groups(GroupIds=list(db.security_groups))["SecurityGroups"][0]
    # The rule exactly as the network role made it (description included): EC2 revokes only a match.
    rule = next(
        {**perm, "UserIdGroupPairs": [pair]}
        for perm in db_group["IpPermissions"]
        for pair in perm.get("UserIdGroupPairs", [])
        if pair["GroupId"] == bastion_group
    )
    ec2.revoke_security_group_ingress(GroupId=db_group["GroupId"], IpPermissions=[rule])
    try:
        wait("the bastion refused", lambda: from_container(bastion, db.address, db.port) in DROPPED)
    finally:
        ec2.authorize_security_group_ingress(GroupId=db_group["GroupId"], IpPermissions=[rule])
    wait("the bastion admitted again", lambda: from_container(bastion, db.address, db.port) == CONNECTED)


def test_the_internet_cannot_reach_an_app_task_directly_only_the_load_balancer_can(
    stack: Stack, proxied: dict[str, ServiceAddress]
) -> None:
    _, address = api_task(stack)
    assert from_host(address, 8000) in DROPPED  # this host: no group names it
    assert from_host(address, 8000, source=proxied["alb"].address) == CONNECTED


def test_the_bastion_cannot_reach_an_app_task_the_app_group_admits_only_the_load_balancer(
    stack: Stack, bastion: str, proxied: dict[str, ServiceAddress]
) -> None:
    """Container to container on one Docker bridge: judged only with br_netfilter loaded and
    bridge-nf-call-iptables=1 (scripts/dataplane-setup.sh), as AWS judges every interface."""
    _, address = api_task(stack)
    assert from_host(address, 8000, source=proxied["alb"].address) == CONNECTED  # it listens
    assert from_container(bastion, address, 8000) in DROPPED


@pytest.fixture(scope="module")
def through_proxy(stack: Stack, proxied: dict[str, ServiceAddress]) -> Iterator[str]:
    """An API task started after the db name moved to the proxy (on AWS, a task resolving it once the
    DNS TTL ran out): the running ones are replaced, as a forced new deployment does on AWS."""
    old, _ = api_task(stack)
    out = subprocess.run(
        [
            "docker", "ps", "-q", "--filter", f"label={LABEL}.ecs.endpoint={stack.cloud.endpoint}",
            "--filter", f"label={LABEL}.ecs.service={API}",
        ],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    subprocess.run(["docker", "rm", "-f", *out], capture_output=True, check=True)
    ecs = stack.cloud.client("ecs")
    ecs.update_service(cluster=PREFIX, service=API, forceNewDeployment=True)

    def replaced() -> str:
        svc = ecs.describe_services(cluster=PREFIX, services=[API])["services"][0]
        if [d.get("rolloutState") for d in svc["deployments"]] != ["COMPLETED"]:
            return ""
        try:
            container, _ = api_task(stack)
        except AssertionError:
            return ""
        return container if container != old else ""

    yield wait("a new task of the API service", replaced, timeout=240)


# A new connection from inside the task, with the task's own settings (DB_HOST is the db name).
QUERY = """
import asyncio, os, asyncpg
async def main():
    conn = await asyncpg.connect(host=os.environ["DB_HOST"], port=int(os.environ["DB_PORT"]),
        user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"], database=os.environ["DB_NAME"], timeout=10)
    print(await conn.fetchval("select 1"))
    await conn.close()
asyncio.run(main())
"""


def test_with_the_proxy_on_the_service_reaches_its_database_through_the_proxy(
    stack: Stack, proxied: dict[str, ServiceAddress], through_proxy: str
) -> None:
    resolve = "import os, socket; print(socket.gethostbyname(os.environ['DB_HOST']))"
    resolved = subprocess.run(
        ["docker", "exec", through_proxy, "python3", "-c", resolve], capture_output=True, text=True, check=True
    ).stdout.strip()
    records = plane(stack)._dns_records()
    assert resolved == proxied["proxy"].address, (resolved, proxied["proxy"], proxied["db"], records)
    queried = subprocess.run(
        ["docker", "exec", through_proxy, "python3", "-c", QUERY], capture_output=True, text=True, timeout=60
    )
    assert queried.stdout.strip() == "1", queried.stderr[-2000:]
    code = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/health/ready', timeout=10).status)"
    ready = subprocess.run(["docker", "exec", through_proxy, "python3", "-c", code], capture_output=True, text=True)
    assert ready.stdout.strip() == "200", ready.stderr[-2000:]


def test_the_database_group_has_no_egress_and_no_group_allows_all_traffic_out(stack: Stack) -> None:
    """AWS gives a new group an allow-all egress rule; the network role replaces it with each tier's
    own (the database opens no connection: its replies pass, groups being stateful). The tests above
    show the connections the tiers need still work with it."""
    groups = {
        g["GroupName"]: g
        for g in stack.cloud.client("ec2").describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [stack.outputs["vpc_id"]]}]
        )["SecurityGroups"]
    }
    assert groups[f"{PREFIX}-db"]["IpPermissionsEgress"] == []
    for name, group in groups.items():
        for rule in group["IpPermissionsEgress"]:
            assert rule["IpProtocol"] != "-1", f"{name} allows all traffic out: {rule}"
