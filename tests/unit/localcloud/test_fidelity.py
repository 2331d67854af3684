"""The local cloud fails where AWS fails (localcloud/fidelity.py): plain boto3 calls against a real
server, each race and state as AWS shows it, and the same calls succeeding once AWS would let them."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.dataplane import DataPlane
from localcloud.fidelity import BEHAVIOURS

ROOT = Path(__file__).resolve().parents[3]
SCALE = 0.01  # Aurora's 10 minutes in 6 s
REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _cloud(tmp: Path, **settings: str) -> Iterator[str]:
    port = _free_port()
    env = dict(
        os.environ,
        LOCALCLOUD_PORT=str(port),
        LOCALCLOUD_STATE_DIR=str(tmp / "server"),
        LOCALCLOUD_DATAPLANE_DIR=str(tmp / "dataplane"),
        LOCALCLOUD_TIME_SCALE=str(SCALE),
        **settings,
    )
    ctl = [sys.executable, "-m", "localcloud"]
    started = subprocess.run([*ctl, "start"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert started.returncode == 0, started.stderr
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([*ctl, "down"], cwd=ROOT, env=env, capture_output=True, check=False)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _cloud(tmp_path_factory.mktemp("fidelity")) as url:
        yield url


def aws(endpoint: str, service: str, retries: int = 0) -> Any:
    """A client that does not retry (unless asked): each refusal is seen as AWS sends it."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": retries + 1, "mode": "standard"}),
    )


def code_of(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return ""


def eventually(probe: Callable[[], Any], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds:.0f}s")


def fargate_task_definition(ecs: Any, family: str) -> str:
    """The ARN of a minimal Fargate task definition (the services here never run a task)."""
    return str(
        ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "f", "image": "f"}],
        )["taskDefinition"]["taskDefinitionArn"]
    )


@pytest.fixture(scope="module")
def network(endpoint: str) -> dict[str, Any]:
    ec2 = aws(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.81.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.81.0.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.81.1.0/24", AvailabilityZone="eu-west-1b")["Subnet"][
        "SubnetId"
    ]
    group = ec2.create_security_group(GroupName="f", Description="f", VpcId=vpc)["GroupId"]
    return {"ec2": ec2, "vpc": vpc, "public": public, "private": private, "group": group}


def test_a_new_nat_gateway_is_pending_without_addresses_and_unknown_to_create_route(network: dict[str, Any]) -> None:
    ec2 = network["ec2"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=network["public"], AllocationId=allocation)["NatGateway"]
    assert nat["State"] == "pending"
    described = ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]
    assert described["State"] == "pending"
    assert described["NatGatewayAddresses"] == [{"AllocationId": allocation}]  # no address nor interface yet
    table = ec2.create_route_table(VpcId=network["vpc"])["RouteTable"]["RouteTableId"]
    route = {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat["NatGatewayId"]}
    assert code_of(lambda: ec2.create_route(**route)) == "InvalidNatGatewayID.NotFound"
    eventually(lambda: not code_of(lambda: ec2.create_route(**route)), BEHAVIOURS["nat_gateway_id"].floor + 5)
    available = eventually(
        lambda: (
            (n := ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0])["State"]
            == "available"
            and n
        ),
        90 * SCALE + 5,
    )
    assert available["NatGatewayAddresses"][0]["AllocationId"] == allocation
    ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
    assert ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]["State"] == "deleting"


def test_an_aurora_cluster_is_creating_and_refuses_proxy_targets_and_changes_until_available(
    endpoint: str, network: dict[str, Any]
) -> None:
    rds = aws(endpoint, "rds")
    rds.create_db_subnet_group(
        DBSubnetGroupName="f", DBSubnetGroupDescription="f", SubnetIds=[network["public"], network["private"]]
    )
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="f",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="password-123",
        DBSubnetGroupName="f",
    )["DBCluster"]
    assert cluster["Status"] == "creating"
    assert rds.describe_db_clusters(DBClusterIdentifier="f")["DBClusters"][0]["Status"] == "creating"
    assert code_of(lambda: rds.modify_db_cluster(DBClusterIdentifier="f", BackupRetentionPeriod=3)) == (
        "InvalidDBClusterStateFault"
    )
    iam = aws(endpoint, "iam")
    role = iam.create_role(RoleName="f-proxy", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    secret = aws(endpoint, "secretsmanager").create_secret(Name="f-secret", SecretString="{}")["ARN"]
    rds.create_db_proxy(
        DBProxyName="f-proxy",
        EngineFamily="POSTGRESQL",
        Auth=[{"SecretArn": secret, "IAMAuth": "DISABLED"}],
        RoleArn=role,
        VpcSubnetIds=[network["public"], network["private"]],
    )
    assert rds.describe_db_proxies(DBProxyName="f-proxy")["DBProxies"][0]["Status"] == "creating"
    assert code_of(lambda: rds.modify_db_proxy(DBProxyName="f-proxy", IdleClientTimeout=600)) == (
        "InvalidDBProxyStateFault"
    )
    assert code_of(lambda: rds.delete_db_proxy(DBProxyName="f-proxy")) == "InvalidDBProxyStateFault"
    register = {"DBProxyName": "f-proxy", "DBClusterIdentifiers": ["f"]}
    assert code_of(lambda: rds.register_db_proxy_targets(**register)) == "InvalidDBClusterStateFault"
    eventually(
        lambda: rds.describe_db_clusters(DBClusterIdentifier="f")["DBClusters"][0]["Status"] == "available",
        max(BEHAVIOURS["aurora_cluster"].seconds * SCALE, BEHAVIOURS["aurora_cluster"].floor) + 5,
    )
    assert code_of(lambda: rds.register_db_proxy_targets(**register)) == ""


def test_an_rds_instance_has_no_endpoint_until_it_is_available(endpoint: str, network: dict[str, Any]) -> None:
    rds = aws(endpoint, "rds")
    created = rds.create_db_instance(
        DBInstanceIdentifier="f-db",
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="password-123",
    )["DBInstance"]
    assert created["DBInstanceStatus"] == "creating" and "Endpoint" not in created
    final = {"DBInstanceIdentifier": "f-db", "FinalDBSnapshotIdentifier": "f-db-final"}
    assert code_of(lambda: rds.delete_db_instance(**final)) == "InvalidDBInstanceState"
    ready = eventually(
        lambda: (
            (i := rds.describe_db_instances(DBInstanceIdentifier="f-db")["DBInstances"][0])["DBInstanceStatus"]
            == "available"
            and i
        ),
        BEHAVIOURS["db_instance"].seconds * SCALE + 5,
    )
    assert ready["Endpoint"]["Address"]


def test_a_new_instance_profile_is_refused_by_run_instances_for_longer_than_one_client_retry(
    endpoint: str, network: dict[str, Any]
) -> None:
    iam, ec2 = aws(endpoint, "iam"), network["ec2"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iam.create_role(RoleName="f-bastion", AssumeRolePolicyDocument="{}")
    # The window opens at the profile's creation (and again when its role is added): count from the
    # last moment before the first of them, so a slow machine cannot make the window look shorter.
    started = time.monotonic()
    profile = iam.create_instance_profile(InstanceProfileName="f-bastion")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="f-bastion", RoleName="f-bastion")
    launch = {
        "ImageId": image,
        "MinCount": 1,
        "MaxCount": 1,
        "SubnetId": network["private"],
        "IamInstanceProfile": {"Arn": profile},
    }
    assert code_of(lambda: ec2.run_instances(**launch)) == "InvalidParameterValue"
    time.sleep(10)  # amazon.aws.ec2_instance's single retry comes 10 s later: still refused
    assert code_of(lambda: ec2.run_instances(**launch)) == "InvalidParameterValue"

    def launched() -> Any:
        try:
            return ec2.run_instances(**launch)["Instances"][0]
        except ClientError:
            return None

    instance = eventually(launched, BEHAVIOURS["instance_profile"].floor + 5)
    assert time.monotonic() - started >= BEHAVIOURS["instance_profile"].floor - 1
    assert instance["State"]["Name"] == "pending"
    eventually(
        lambda: (
            ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]["State"][
                "Name"
            ]
            == "running"
        ),
        5,
    )
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def test_a_web_acl_cannot_protect_a_load_balancer_that_is_still_provisioning(
    endpoint: str, network: dict[str, Any]
) -> None:
    elb, waf = aws(endpoint, "elbv2"), aws(endpoint, "wafv2")
    lb = elb.create_load_balancer(Name="f-alb", Subnets=[network["public"], network["private"]])["LoadBalancers"][0]
    assert lb["State"]["Code"] == "provisioning"
    acl = waf.create_web_acl(
        Name="f-waf",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "f"},
    )["Summary"]["ARN"]
    associate = {"WebACLArn": acl, "ResourceArn": lb["LoadBalancerArn"]}
    assert code_of(lambda: waf.associate_web_acl(**associate)) == "WAFUnavailableEntityException"
    eventually(
        lambda: elb.describe_load_balancers(Names=["f-alb"])["LoadBalancers"][0]["State"]["Code"] == "active",
        150 * SCALE + 5,
    )
    # Active, but the web ACL itself is still new to the association API.
    assert code_of(lambda: waf.associate_web_acl(**associate)) == "WAFUnavailableEntityException"
    eventually(
        lambda: not code_of(lambda: waf.associate_web_acl(**associate)),
        max(30 * SCALE, BEHAVIOURS["web_acl"].floor) + 5,
    )


def test_a_deleted_service_drains_holds_its_cluster_and_its_interfaces_linger(
    endpoint: str, network: dict[str, Any]
) -> None:
    ecs, ec2 = aws(endpoint, "ecs"), network["ec2"]
    group = ec2.create_security_group(GroupName="f-app", Description="f", VpcId=network["vpc"])["GroupId"]
    ecs.create_cluster(clusterName="f", capacityProviders=["FARGATE"])
    task = fargate_task_definition(ecs, "f")
    net = {"awsvpcConfiguration": {"subnets": [network["private"]], "securityGroups": [group]}}
    ecs.create_service(cluster="f", serviceName="f", taskDefinition=task, desiredCount=0, networkConfiguration=net)
    ecs.delete_service(cluster="f", service="f", force=True)
    assert code_of(lambda: ecs.delete_cluster(cluster="f")) == "ClusterContainsServicesException"
    assert code_of(lambda: ec2.delete_security_group(GroupId=group)) == "DependencyViolation"
    assert ecs.describe_services(cluster="f", services=["f"])["services"][0]["status"] == "DRAINING"
    assert code_of(lambda: ecs.update_service(cluster="f", service="f", desiredCount=1)) == (
        "ServiceNotActiveException"
    )
    again = {"cluster": "f", "serviceName": "f", "taskDefinition": task, "networkConfiguration": net}
    assert code_of(lambda: ecs.create_service(**again)) == "InvalidParameterException"
    eventually(
        lambda: ecs.describe_services(cluster="f", services=["f"])["services"][0]["status"] == "INACTIVE",
        max(60 * SCALE, BEHAVIOURS["service_drain"].floor) + 5,
    )
    eventually(lambda: not code_of(lambda: ecs.delete_cluster(cluster="f")), 5)
    eventually(
        lambda: not code_of(lambda: ec2.delete_security_group(GroupId=group)),
        max(120 * SCALE, BEHAVIOURS["eni_release"].floor) + 5,
    )


def test_a_new_capacity_provider_strategy_needs_a_forced_deployment(endpoint: str, network: dict[str, Any]) -> None:
    ecs = aws(endpoint, "ecs")
    ecs.create_cluster(clusterName="cp", capacityProviders=["FARGATE", "FARGATE_SPOT"])
    net = {"awsvpcConfiguration": {"subnets": [network["private"]], "securityGroups": [network["group"]]}}
    strategy = [
        {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
        {"capacityProvider": "FARGATE_SPOT", "weight": 3},
    ]
    service = {"cluster": "cp", "taskDefinition": fargate_task_definition(ecs, "cp"), "desiredCount": 0}
    ecs.create_service(serviceName="cp", networkConfiguration=net, capacityProviderStrategy=strategy, **service)
    # The same strategy in another order, and base 0 spelt out, is no change.
    same = [{"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}, strategy[0]]
    assert not code_of(lambda: ecs.update_service(cluster="cp", service="cp", capacityProviderStrategy=same))
    heavier = [strategy[0], {"capacityProvider": "FARGATE_SPOT", "weight": 5}]
    try:
        ecs.update_service(cluster="cp", service="cp", capacityProviderStrategy=heavier)
        raise AssertionError("a new capacity provider strategy was accepted without forceNewDeployment")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidParameterException"
        assert "you must force a new deployment" in exc.response["Error"]["Message"]
    kept = ecs.describe_services(cluster="cp", services=["cp"])["services"][0]["capacityProviderStrategy"]
    assert {(i["capacityProvider"], i["weight"]) for i in kept} == {("FARGATE", 1), ("FARGATE_SPOT", 3)}
    ecs.update_service(cluster="cp", service="cp", capacityProviderStrategy=heavier, forceNewDeployment=True)
    moved = ecs.describe_services(cluster="cp", services=["cp"])["services"][0]["capacityProviderStrategy"]
    assert {(i["capacityProvider"], i["weight"]) for i in moved} == {("FARGATE", 1), ("FARGATE_SPOT", 5)}


def test_a_client_that_retries_gets_through_a_throttling_cloud(tmp_path: Path) -> None:
    with _cloud(tmp_path, LOCALCLOUD_THROTTLE="0.5") as throttled:
        _throttled(throttled)
        _verbs_get_through(throttled, tmp_path)


def _verbs_get_through(throttled: str, tmp: Path) -> None:
    """`localcloud push` (docker push's stand-in) calls with the caller's keys, so it is throttled
    like the playbooks: its client retries as theirs do (botocore's 3 attempts failed a CI run)."""
    plane = DataPlane(endpoint=throttled, region="eu-west-1", project="f", state_dir=tmp / "plane")
    ecr = plane._client("ecr")
    assert ecr.meta.config.retries == {"mode": "standard", "total_max_attempts": 11}
    for _ in range(3):
        ecr.describe_repositories()


def _throttled(throttled: str) -> None:
    sqs, ec2, iam = aws(throttled, "sqs"), aws(throttled, "ec2"), aws(throttled, "iam")
    sqs_codes = {code_of(sqs.list_queues) for _ in range(12)}
    assert "RequestThrottled" in sqs_codes, sqs_codes
    assert "" in sqs_codes  # and some get through
    assert {code_of(ec2.describe_vpcs) for _ in range(12)} >= {"RequestLimitExceeded", ""}
    assert {code_of(iam.list_roles) for _ in range(12)} >= {"Throttling", ""}
    patient = aws(throttled, "ec2", retries=9)
    for _ in range(3):  # botocore's standard retries see each call through
        patient.describe_vpcs()


def test_with_the_fidelity_off_every_create_is_ready_at_once(tmp_path: Path) -> None:
    with _cloud(tmp_path, LOCALCLOUD_FIDELITY="off") as off:
        _ready_at_once(off)


def _ready_at_once(off: str) -> None:
    ec2 = aws(off, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.82.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.82.0.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    assert ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["State"] == "available"


def test_the_readme_lists_every_behaviour_with_its_aws_duration() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines() if line.startswith("| `")}
    for key, behaviour in BEHAVIOURS.items():
        assert key in rows, f"README has no row for {key}"
        here = max(behaviour.seconds * 0.02, behaviour.floor)
        assert f"| {behaviour.seconds:g} s | {here:g} s |" in rows[key], (key, rows[key])


def test_a_cluster_with_a_one_off_task_still_running_cannot_be_deleted() -> None:
    """DeleteCluster waits for RunTask tasks too (ClusterContainsTasksException), not only for services."""
    from types import SimpleNamespace

    from moto import mock_aws
    from moto.ecs.models import ecs_backends

    from localcloud import fidelity

    with mock_aws():
        boto3.client("ecs", region_name=REGION).create_cluster(clusterName="f")
        task = SimpleNamespace(last_status="RUNNING")  # a one-off task, as the controller runs it
        ecs_backends["123456789012"][REGION].tasks["f"] = {"arn:f": task}
        call = SimpleNamespace(service="ecs", action="DeleteCluster", region=REGION, params={"cluster": "f"})
        refusal = fidelity.rule_delete_ecs_cluster(call, "123456789012")
        assert refusal is not None and refusal.code == "ClusterContainsTasksException"
        task.last_status = "STOPPED"
        assert fidelity.rule_delete_ecs_cluster(call, "123456789012") is None


def run_module(endpoint: str, module: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one of the collection's modules through ansible against the cloud; its JSON result."""
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    args = {**args, "endpoint_url": endpoint, "region": REGION}
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "localhost",
            "-m",
            f"resumestack.cloud.{module}",
            "-a",
            json.dumps(args),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=tempfile.gettempdir(),  # not the project's ansible.cfg
    )
    out = json.loads(proc.stdout)
    return dict(out["plays"][0]["tasks"][0]["hosts"]["localhost"])


def test_the_proxy_module_deletes_a_proxy_that_is_still_being_created(endpoint: str, network: dict[str, Any]) -> None:
    iam, rds = aws(endpoint, "iam"), aws(endpoint, "rds")
    role = iam.create_role(RoleName="f-proxy-2", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    secret = aws(endpoint, "secretsmanager").create_secret(Name="f-secret-2", SecretString="{}")["ARN"]
    rds.create_db_proxy(
        DBProxyName="f-proxy-2",
        EngineFamily="POSTGRESQL",
        Auth=[{"SecretArn": secret, "IAMAuth": "DISABLED"}],
        RoleArn=role,
        VpcSubnetIds=[network["public"], network["private"]],
    )
    result = run_module(endpoint, "rds_db_proxy", {"name": "f-proxy-2", "state": "absent", "wait": True})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert rds.describe_db_proxies()["DBProxies"] == [] or all(
        p["DBProxyName"] != "f-proxy-2" for p in rds.describe_db_proxies()["DBProxies"]
    )


def test_the_service_module_recreates_a_service_that_still_drains(endpoint: str, network: dict[str, Any]) -> None:
    ecs = aws(endpoint, "ecs")
    ecs.create_cluster(clusterName="f-drain", capacityProviders=["FARGATE"])
    task = fargate_task_definition(ecs, "f-drain")
    net = {"awsvpcConfiguration": {"subnets": [network["private"]], "securityGroups": [network["group"]]}}
    ecs.create_service(
        cluster="f-drain", serviceName="f", taskDefinition=task, desiredCount=0, networkConfiguration=net
    )
    ecs.delete_service(cluster="f-drain", service="f", force=True)
    service = {"cluster": "f-drain", "name": "f"}
    gone = run_module(endpoint, "ecs_fargate_service", {**service, "state": "absent"})
    assert not gone.get("failed") and gone["changed"] is False, gone.get("msg")
    created = run_module(
        endpoint,
        "ecs_fargate_service",
        {
            **service,
            "task_definition": task,
            "desired_count": 0,
            "subnets": [network["private"]],
            "security_groups": [network["group"]],
            "circuit_breaker": False,
        },
    )
    assert not created.get("failed"), created.get("msg")
    assert created["changed"] is True
    assert ecs.describe_services(cluster="f-drain", services=["f"])["services"][0]["status"] == "ACTIVE"


def test_the_race_floors_can_be_turned_off_for_the_aws_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """make bench models AWS's time: its windows must be AWS's times the scale, not the floors."""
    boot = BEHAVIOURS["instance_boot"]
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.25")
    assert boot.local_seconds == max(boot.seconds * 0.25, boot.floor)
    monkeypatch.setenv("LOCALCLOUD_RACE_FLOORS", "off")
    assert boot.local_seconds == boot.seconds * 0.25


def test_a_group_another_groups_rule_references_cannot_be_deleted(endpoint: str, network: dict[str, Any]) -> None:
    """DeleteSecurityGroup: DependencyViolation while a rule of another group (ingress or egress)
    references it; once that rule is revoked the group goes."""
    ec2 = network["ec2"]
    db, app = (
        ec2.create_security_group(GroupName=f"f-ref-{n}", Description="f", VpcId=network["vpc"])["GroupId"]
        for n in ("db", "app")
    )
    to_db = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": db}]}]
    ec2.authorize_security_group_egress(GroupId=app, IpPermissions=to_db)
    assert code_of(lambda: ec2.delete_security_group(GroupId=db)) == "DependencyViolation"
    ec2.revoke_security_group_egress(GroupId=app, IpPermissions=to_db)
    assert code_of(lambda: ec2.delete_security_group(GroupId=db)) == ""
