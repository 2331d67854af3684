"""The local cloud's API layer (localcloud/server.py) and the model corrections the controller makes
after a call (localcloud/controller.py, localcloud/models.py), on an in-process server with the
controller's workers replaced by a recorder: no container starts here (test_controller_docker.py)."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.ec2.models import tags as ec2_tags
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ec2.models.vpcs import VPCBackend
from moto.ecs import models as ecs_models
from moto.elbv2 import models as elbv2_models
from moto.elbv2.responses import ELBV2Response
from moto.kms import responses as kms_responses
from moto.moto_api import state_manager
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.rds.responses import RDSResponse
from moto.wafv2 import models as wafv2_models
from werkzeug.serving import make_server

from localcloud import server
from localcloud.controller import Controller
from localcloud.ecs import ServiceKey
from tests.integration.helpers import client

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20261129/eu-west-1/{service}/aws4_request, SignedHeaders=host, Signature=x"


def test_a_json_protocol_call_is_read_from_the_target_header_and_the_body() -> None:
    environ = {
        "HTTP_AUTHORIZATION": AUTH.format(service="ecs"),
        "HTTP_X_AMZ_TARGET": "AmazonEC2ContainerServiceV20141113.UpdateService",
    }
    call = server.classify(environ, b'{"cluster": "c", "service": "s", "desiredCount": 2}')
    assert (call.service, call.region, call.action, call.access_key) == ("ecs", "eu-west-1", "UpdateService", "testing")
    assert call.params == {"cluster": "c", "service": "s", "desiredCount": 2}


def test_a_query_protocol_call_is_read_from_the_form_body() -> None:
    environ = {
        "HTTP_AUTHORIZATION": AUTH.format(service="elasticloadbalancing"),
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
    }
    call = server.classify(environ, b"Action=CreateLoadBalancer&Name=web&Version=2015-12-01")
    assert (call.service, call.action, call.params["Name"]) == ("elasticloadbalancing", "CreateLoadBalancer", "web")


def test_a_route53_record_change_is_named_from_its_method_and_path() -> None:
    environ = {
        "HTTP_AUTHORIZATION": AUTH.format(service="route53"),
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/2013-04-01/hostedzone/Z123/rrset/",
    }
    assert server.classify(environ, b"<ChangeResourceRecordSetsRequest/>").action == "ChangeResourceRecordSets"
    assert server.classify({**environ, "REQUEST_METHOD": "GET"}, b"").action == ""


def test_an_unsigned_call_names_no_service() -> None:
    assert server.classify({}, b"").service == ""


def _app(status: str, observed: list[tuple[str, int]], fail: bool = False) -> server.LocalCloudApp:
    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        assert environ["wsgi.input"].read() == b'{"a": 1}'  # the body is still there for moto
        start_response(status, [])
        return [b"{}"]

    def observer(call: server.ApiCall, code: int, body: bytes, context: dict[str, Any]) -> None:
        if fail:
            raise RuntimeError("data plane bug")
        observed.append((call.action, code))

    return server.LocalCloudApp(inner, observer)


def _environ() -> dict[str, Any]:
    return {
        "HTTP_AUTHORIZATION": AUTH.format(service="ecs"),
        "HTTP_X_AMZ_TARGET": "X.RunTask",
        "CONTENT_LENGTH": "8",
        "wsgi.input": io.BytesIO(b'{"a": 1}'),
    }


def test_the_controller_sees_a_call_only_after_moto_answered_it_successfully() -> None:
    observed: list[tuple[str, int]] = []
    assert _app("200 OK", observed)(_environ(), lambda *a: None) == [b"{}"]
    assert observed == [("RunTask", 200)]
    _app("400 Bad Request", observed)(_environ(), lambda *a: None)
    assert observed == [("RunTask", 200)]


def test_a_failing_observer_never_fails_the_api_call() -> None:
    assert _app("200 OK", [], fail=True)(_environ(), lambda *a: None) == [b"{}"]


# --------------------------------------------------------------------------- on a real server


class Recorder:
    """Stands in for the ECS scheduler: records what the controller hands it."""

    def __init__(self) -> None:
        self.services: list[ServiceKey] = []
        self.tasks: list[str] = []

    def service_changed(self, key: ServiceKey) -> None:
        self.services.append(key)

    def run_tasks(self, account: str, region: str, cluster: str, arns: list[str], params: dict[str, Any]) -> None:
        self.tasks += arns


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Recorder]]:
    patched = [
        (ecs_models.EC2ContainerServiceBackend, "_calculate_task_resource_requirements"),
        (elbv2_models.ELBv2Backend, "create_load_balancer"),
        (wafv2_models.FakeRule, "__init__"),
        (ec2_tags, "EC2_PREFIX_TO_RESOURCE"),
        (VPCBackend, "modify_vpc_endpoint"),
        (ELBV2Response, "delete_load_balancer"),
        (RDSResponse, "modify_db_cluster"),
        (RDSResponse, "modify_db_instance"),
        (kms_responses.KmsResponse, "_validate_key_policy"),
    ]
    saved = [(owner, name, owner.__dict__[name]) for owner, name in patched]
    server.patch_moto()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    controller = Controller(endpoint=url, state_dir=Path(tmp_path_factory.mktemp("dataplane")))
    recorder = Recorder()
    controller.scheduler = recorder  # type: ignore[assignment]
    app = server.LocalCloudApp(DomainDispatcherApplication(create_backend_app), controller.observe)
    httpd = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield url, recorder
    httpd.shutdown()
    for owner, name, original in saved:
        setattr(owner, name, original)
    del NetworkInterface.private_dns_name  # type: ignore[attr-defined]
    del RDSResponse.modify_db_proxy  # type: ignore[attr-defined]
    state_manager.unset_transition("ecs::task")


@pytest.fixture(scope="module")
def fargate(endpoint: tuple[str, Recorder]) -> dict[str, Any]:
    url, _ = endpoint
    ec2, ecs = client("ec2", url), client("ecs", url)
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="ut", Description="ut", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="ut", capacityProviders=["FARGATE"])

    def register(image: str) -> str:
        return str(
            ecs.register_task_definition(
                family="ut-api",
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="256",
                memory="512",
                containerDefinitions=[{"name": "api", "image": image}],
            )["taskDefinition"]["taskDefinitionArn"]
        )

    return {
        "ecs": ecs,
        "network": {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
        "first": register("img:1"),
        "second": register("img:2"),
    }


def _service(fargate: dict[str, Any]) -> dict[str, Any]:
    return dict(fargate["ecs"].describe_services(cluster="ut", services=["api"])["services"][0])


def test_a_new_service_keeps_what_moto_drops_and_its_first_deployment_is_in_progress(
    endpoint: tuple[str, Recorder], fargate: dict[str, Any]
) -> None:
    breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    fargate["ecs"].create_service(
        cluster="ut",
        serviceName="api",
        taskDefinition=fargate["first"],
        desiredCount=2,
        networkConfiguration=fargate["network"],
        deploymentConfiguration=breaker,
        healthCheckGracePeriodSeconds=30,
    )
    svc = _service(fargate)
    assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == breaker["deploymentCircuitBreaker"]
    assert svc["healthCheckGracePeriodSeconds"] == 30
    assert svc["runningCount"] == 0
    assert [(d["status"], d["rolloutState"]) for d in svc["deployments"]] == [("PRIMARY", "IN_PROGRESS")]
    assert endpoint[1].services[-1] == ServiceKey("123456789012", "eu-west-1", "ut", "api")


def test_a_new_revision_starts_a_deployment_and_a_new_count_does_not(
    endpoint: tuple[str, Recorder], fargate: dict[str, Any]
) -> None:
    ecs = fargate["ecs"]
    ecs.update_service(cluster="ut", service="api", desiredCount=3)
    svc = _service(fargate)
    assert len(svc["deployments"]) == 1 and svc["deployments"][0]["desiredCount"] == 3
    assert svc["runningCount"] == 0  # moto claims the new count runs at once; nothing runs yet
    ecs.update_service(cluster="ut", service="api", taskDefinition=fargate["second"])
    svc = _service(fargate)
    assert [(d["status"], d["taskDefinition"], d["rolloutState"]) for d in svc["deployments"]] == [
        ("PRIMARY", fargate["second"], "IN_PROGRESS"),
        ("ACTIVE", fargate["first"], "IN_PROGRESS"),
    ]
    ecs.update_service(cluster="ut", service="api", forceNewDeployment=True)
    assert len(_service(fargate)["deployments"]) == 3


def test_run_task_works_for_fargate_and_the_task_waits_for_its_container(
    endpoint: tuple[str, Recorder], fargate: dict[str, Any]
) -> None:
    ecs = fargate["ecs"]
    started = ecs.run_task(
        cluster="ut",
        taskDefinition=fargate["first"],
        count=1,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration=fargate["network"],
    )
    arn = started["tasks"][0]["taskArn"]
    assert endpoint[1].tasks == [arn]
    # moto would report it STOPPED at the first look; it stays where the controller put it.
    for _ in range(3):
        assert ecs.describe_tasks(cluster="ut", tasks=[arn])["tasks"][0]["lastStatus"] == "PROVISIONING"


def _vpc_in_two_zones(ec2: Any, prefix: str) -> tuple[str, list[str]]:
    """A VPC <prefix>.0.0/16 and a subnet in each of two zones."""
    vpc = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    zones = ((1, "a"), (2, "b"))
    made = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i}.0/24", AvailabilityZone=f"eu-west-1{z}") for i, z in zones
    ]
    return str(vpc), [m["Subnet"]["SubnetId"] for m in made]


def test_a_load_balancer_gets_a_dns_name_of_its_own_as_on_aws(endpoint: tuple[str, Recorder]) -> None:
    url, _ = endpoint
    ec2, elb = client("ec2", url), client("elbv2", url)
    _, subnets = _vpc_in_two_zones(ec2, "10.62")
    created = elb.create_load_balancer(Name="ut-alb", Subnets=subnets)["LoadBalancers"][0]["DNSName"]
    assert re.fullmatch(r"ut-alb-[1-9][0-9]{9}\.eu-west-1\.elb\.amazonaws\.com", created), created
    assert elb.describe_load_balancers(Names=["ut-alb"])["LoadBalancers"][0]["DNSName"] == created


def test_modify_db_proxy_changes_its_security_groups_in_place_as_on_aws(endpoint: tuple[str, Recorder]) -> None:
    url, _ = endpoint
    ec2, rds = client("ec2", url), client("rds", url)
    vpc, subnets = _vpc_in_two_zones(ec2, "10.63")
    old, new = (ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in ("db", "proxy"))
    rds.create_db_proxy(
        DBProxyName="ut-proxy",
        EngineFamily="POSTGRESQL",
        Auth=[{"SecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", "IAMAuth": "DISABLED"}],
        RoleArn="arn:aws:iam::123456789012:role/ut",
        VpcSubnetIds=subnets,
        VpcSecurityGroupIds=[old],
    )
    changed = rds.modify_db_proxy(DBProxyName="ut-proxy", SecurityGroups=[new])["DBProxy"]
    assert changed["VpcSecurityGroupIds"] == [new]
    assert rds.describe_db_proxies(DBProxyName="ut-proxy")["DBProxies"][0]["VpcSecurityGroupIds"] == [new]


def test_a_rate_based_rule_reads_back_with_awss_default_evaluation_window(endpoint: tuple[str, Recorder]) -> None:
    """AWS fills in EvaluationWindowSec (300) when a request leaves it out (community.aws PR #2427)."""
    waf = client("wafv2", endpoint[0])
    visibility = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}
    rule = {
        "Name": "rate",
        "Priority": 0,
        "Action": {"Block": {}},
        "VisibilityConfig": visibility,
        "Statement": {"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP"}},
    }
    made = waf.create_web_acl(
        Name="window", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=visibility, Rules=[rule]
    )["Summary"]
    read = waf.get_web_acl(Name="window", Scope="REGIONAL", Id=made["Id"])["WebACL"]["Rules"][0]
    assert read["Statement"]["RateBasedStatement"] == {
        "Limit": 100,
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
    }


def test_nat_gateway_and_elastic_ip_tags_are_found_by_awss_resource_types(endpoint: tuple[str, Recorder]) -> None:
    """DescribeTags's resource-type filter takes natgateway and elastic-ip (EC2 API reference), the
    names amazon.aws's ensure_ec2_tags uses: tags given at creation are then found, not re-applied."""
    ec2 = client("ec2", endpoint[0])
    vpc = ec2.create_vpc(CidrBlock="10.64.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.64.1.0/24")["Subnet"]["SubnetId"]
    tags = [{"Key": "Project", "Value": "resume"}]
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": tags}])
    nat = ec2.create_nat_gateway(
        SubnetId=subnet,
        AllocationId=eip["AllocationId"],
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": tags}],
    )["NatGateway"]["NatGatewayId"]
    for resource, kind in ((nat, "natgateway"), (eip["AllocationId"], "elastic-ip")):
        found = ec2.describe_tags(
            Filters=[{"Name": "resource-id", "Values": [resource]}, {"Name": "resource-type", "Values": [kind]}]
        )["Tags"]
        assert [(t["Key"], t["Value"], t["ResourceType"]) for t in found] == [("Project", "resume", kind)]


def test_a_route_table_put_on_a_gateway_endpoint_gets_the_service_route(endpoint: tuple[str, Recorder]) -> None:
    """ModifyVpcEndpoint adds the service's prefix-list route to an added route table and removes it
    from a removed one, as AWS does (moto only edits the endpoint's list)."""
    ec2 = client("ec2", endpoint[0])
    vpc = ec2.create_vpc(CidrBlock="10.65.0.0/16")["Vpc"]["VpcId"]
    first, second = (ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(2))
    made = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.eu-west-1.s3", VpcEndpointType="Gateway", RouteTableIds=[first]
    )["VpcEndpoint"]["VpcEndpointId"]

    def endpoint_routes(table: str) -> list[str]:
        routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        return [r["GatewayId"] for r in routes if r.get("DestinationPrefixListId")]

    ec2.modify_vpc_endpoint(VpcEndpointId=made, AddRouteTableIds=[second], RemoveRouteTableIds=[first])
    assert (endpoint_routes(first), endpoint_routes(second)) == ([], [made])


def test_a_load_balancer_with_deletion_protection_is_not_deleted_as_on_aws(endpoint: tuple[str, Recorder]) -> None:
    """ELB API DeleteLoadBalancer: refused (OperationNotPermitted) while deletion_protection.enabled is true."""
    url, _ = endpoint
    ec2, elb = client("ec2", url), client("elbv2", url)
    _, subnets = _vpc_in_two_zones(ec2, "10.64")
    arn = elb.create_load_balancer(Name="ut-protected", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    with pytest.raises(ClientError) as refused:
        elb.delete_load_balancer(LoadBalancerArn=arn)
    assert refused.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elb.delete_load_balancer(LoadBalancerArn=arn)
    assert not [b for b in elb.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerArn"] == arn]


def test_a_protected_db_cluster_is_not_deleted_as_on_aws(endpoint: tuple[str, Recorder]) -> None:
    """RDS API DeleteDBCluster: InvalidParameterCombination while DeletionProtection is on (moto's own)."""
    rds = client("rds", endpoint[0])
    rds.create_db_cluster(
        DBClusterIdentifier="ut-protected",
        Engine="aurora-postgresql",
        EngineVersion="16.4",
        MasterUsername="admin_user",
        MasterUserPassword="password1234",
        DeletionProtection=True,
    )
    with pytest.raises(ClientError) as refused:
        rds.delete_db_cluster(DBClusterIdentifier="ut-protected", SkipFinalSnapshot=True)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert rds.describe_db_clusters(DBClusterIdentifier="ut-protected")["DBClusters"]


def test_an_engine_version_is_never_lowered_as_on_aws(endpoint: tuple[str, Recorder]) -> None:
    """After AWS's automatic minor upgrade (16.4 -> 16.6) a ModifyDBCluster back to 16.4 is refused;
    a later minor is accepted, a new major only with AllowMajorVersionUpgrade."""
    rds = client("rds", endpoint[0])
    rds.create_db_cluster(
        DBClusterIdentifier="ut-upgraded",
        Engine="aurora-postgresql",
        EngineVersion="16.6",
        MasterUsername="admin_user",
        MasterUserPassword="password1234",
    )
    with pytest.raises(ClientError) as refused:
        rds.modify_db_cluster(DBClusterIdentifier="ut-upgraded", EngineVersion="16.4", ApplyImmediately=True)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "Cannot upgrade aurora-postgresql from 16.6 to 16.4" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        rds.modify_db_cluster(DBClusterIdentifier="ut-upgraded", EngineVersion="17.2", ApplyImmediately=True)
    rds.modify_db_cluster(DBClusterIdentifier="ut-upgraded", EngineVersion="16.10", ApplyImmediately=True)
    assert rds.describe_db_clusters(DBClusterIdentifier="ut-upgraded")["DBClusters"][0]["EngineVersion"] == "16.10"
    rds.create_db_instance(
        DBInstanceIdentifier="ut-instance",
        Engine="postgres",
        EngineVersion="16.6",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="password1234",
    )
    with pytest.raises(ClientError) as instance_refused:
        rds.modify_db_instance(DBInstanceIdentifier="ut-instance", EngineVersion="16.4", ApplyImmediately=True)
    assert "Cannot upgrade postgres from 16.6 to 16.4" in instance_refused.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("current", "requested", "allow_major", "refused"),
    [
        ("16.6", "16.4", False, True),
        ("16.6", "16.10", False, False),
        ("16.6", "16.6", False, False),
        ("16.6", "17.2", False, True),
        ("16.6", "17.2", True, False),
        ("16.6", "", False, False),
    ],
)
def test_engine_version_refusal_follows_aws(current: str, requested: str, allow_major: bool, refused: bool) -> None:
    assert (server.engine_version_refusal("postgres", current, requested, allow_major) is not None) is refused


ROOT_ARN = "arn:aws:iam::123456789012:root"


def test_a_key_policy_deny_applies_only_to_the_principals_it_names_as_on_aws(endpoint: tuple[str, Recorder]) -> None:
    """moto alone refuses DescribeKey to everyone under any Deny on kms:*; AWS (and the local cloud's
    IAM gate) applies the statement to the principals and conditions it names only."""
    kms = client("kms", endpoint[0])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "kms:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/someone-else"}},
            },
        ],
    }
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId="0f0f0f0f-0000-4000-8000-000000000000")
