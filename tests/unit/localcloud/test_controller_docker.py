"""The local cloud follows the emulator by itself: a real server (python -m localcloud.server), plain
boto3 calls, and containers, load balancer listeners and task exits that follow, with no command
from anyone. Needs the Docker engine and the base image (scripts/dataplane-setup.sh, run by make test)."""

from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from localcloud import dataplane
from localcloud.ecs import ECS_LABEL
from tests.integration.helpers import client

ROOT = Path(__file__).resolve().parents[3]
# A task image from the test hosts' base image: python3 without the test host's entrypoint.
PROBE_IMAGE = "resume-localcloud/task-probe"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _localcloud(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    base, _ = dataplane.ensure_image()
    subprocess.run(
        ["docker", "build", "-q", "-t", PROBE_IMAGE, "-"],
        input=f"FROM {base}\nENTRYPOINT []\n",
        text=True,
        check=True,
        capture_output=True,
    )
    state = tmp_path_factory.mktemp("controller")
    state.chmod(0o755)
    port = _free_port()
    env = dict(
        os.environ,
        LOCALCLOUD_PORT=str(port),
        LOCALCLOUD_STATE_DIR=str(state / "server"),
        LOCALCLOUD_DATAPLANE_DIR=str(state / "dataplane"),
    )
    started = _localcloud(env, "start")
    assert started.returncode == 0, started.stderr
    try:
        yield f"http://127.0.0.1:{port}", env
    finally:
        _localcloud(env, "down")
        _localcloud(env, "stop")


def wait(what: str, probe: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe.internal")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem


@pytest.fixture(scope="module")
def service(cloud: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """An ECS service behind an ALB (HTTP redirect, HTTPS forward), created with plain API calls."""
    url, _ = cloud
    ec2, ecs, elb, acm = (client(s, url) for s in ("ec2", "ecs", "elbv2", "acm"))
    vpc = ec2.create_vpc(CidrBlock="10.71.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.71.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="probe", Description="probe", VpcId=vpc)["GroupId"]
    # The load balancer and the tasks share the group: it admits itself on the tasks' port, or the
    # enforced security groups drop the load balancer's health checks and traffic, as on AWS.
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "UserIdGroupPairs": [{"GroupId": group}]}
        ],
    )
    cert, key = self_signed()
    cert_arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    tg = elb.create_target_group(
        Name="probe-api",
        Protocol="HTTP",
        Port=8000,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/",
        HealthCheckIntervalSeconds=15,
        UnhealthyThresholdCount=3,
    )["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name="probe-alb", Subnets=subnets, SecurityGroups=[group])["LoadBalancers"][0]
    redirect = {"Protocol": "HTTPS", "Port": "443", "Host": "#{host}", "Path": "/#{path}", "Query": "#{query}"}
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": {**redirect, "StatusCode": "HTTP_301"}}],
    )
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    ecs.create_cluster(clusterName="probe", capacityProviders=["FARGATE"])

    def revision(command: list[str]) -> str:
        return str(
            ecs.register_task_definition(
                family="probe-api",
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="256",
                memory="512",
                containerDefinitions=[
                    {"name": "api", "image": PROBE_IMAGE, "command": command, "portMappings": [{"containerPort": 8000}]}
                ],
            )["taskDefinition"]["taskDefinitionArn"]
        )

    network = {"awsvpcConfiguration": {"subnets": subnets[:1], "securityGroups": [group], "assignPublicIp": "DISABLED"}}
    good = revision(["python3", "-m", "http.server", "8000"])
    ecs.create_service(
        cluster="probe",
        serviceName="api",
        taskDefinition=good,
        desiredCount=2,
        networkConfiguration=network,
        loadBalancers=[{"targetGroupArn": tg, "containerName": "api", "containerPort": 8000}],
        healthCheckGracePeriodSeconds=5,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    return {"ecs": ecs, "url": url, "dns": lb["DNSName"], "good": good, "revision": revision, "network": network}


def describe(service: dict[str, Any]) -> dict[str, Any]:
    return dict(service["ecs"].describe_services(cluster="probe", services=["api"])["services"][0])


def containers(url: str, name: str) -> list[str]:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-q",
            "--filter",
            f"label={ECS_LABEL}.endpoint={url}",
            "--filter",
            f"label={ECS_LABEL}.service={name}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def test_a_service_runs_its_tasks_and_its_deployment_completes(service: dict[str, Any]) -> None:
    done = wait(
        "the first deployment completes",
        lambda: (s := describe(service))["deployments"][0]["rolloutState"] == "COMPLETED" and s,
    )
    assert done["runningCount"] == 2 and len(done["deployments"]) == 1
    assert len(containers(service["url"], "api")) == 2
    assert any("steady state" in e["message"] for e in done["events"])


def test_the_load_balancer_answers_https_under_its_dns_name_and_redirects_http(service: dict[str, Any]) -> None:
    wait("the first deployment completes", lambda: describe(service)["deployments"][0]["rolloutState"] == "COMPLETED")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the self-signed certificate ACM holds
    with urllib.request.urlopen(f"https://{service['dns']}/", context=context, timeout=10) as resp:
        assert resp.status == 200
    conn = HTTPConnection(service["dns"], 80, timeout=10)
    conn.request("GET", "/some/path?q=1")
    answer = conn.getresponse()
    assert (answer.status, answer.getheader("Location")) == (301, f"https://{service['dns']}/some/path?q=1")


def test_a_revision_that_never_turns_healthy_is_rolled_back_by_the_circuit_breaker(service: dict[str, Any]) -> None:
    wait("the first deployment completes", lambda: describe(service)["deployments"][0]["rolloutState"] == "COMPLETED")
    broken = service["revision"](["sleep", "600"])  # never listens: the target group check fails
    service["ecs"].update_service(cluster="probe", service="api", taskDefinition=broken)
    assert [d["rolloutState"] for d in describe(service)["deployments"]] == ["IN_PROGRESS", "COMPLETED"]
    failed = wait(
        "the deployment fails and rolls back",
        lambda: (
            (s := describe(service))["taskDefinition"] == service["good"]
            and any(d["rolloutState"] == "FAILED" for d in s["deployments"])
            and s
        ),
    )
    assert any(d["taskDefinition"] == broken and d["rolloutState"] == "FAILED" for d in failed["deployments"])
    back = wait(
        "the rollback completes",
        lambda: (s := describe(service))["deployments"][0]["rolloutState"] == "COMPLETED" and s,
    )
    assert back["deployments"][0]["taskDefinition"] == service["good"] and back["runningCount"] == 2


def test_a_one_off_task_stops_with_the_exit_code_of_its_container(service: dict[str, Any]) -> None:
    ecs = service["ecs"]
    started = ecs.run_task(
        cluster="probe",
        taskDefinition=service["good"],
        count=1,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration=service["network"],
        overrides={"containerOverrides": [{"name": "api", "command": ["sh", "-c", "exit 3"]}]},
    )
    arn = started["tasks"][0]["taskArn"]
    task = wait(
        "the task stops",
        lambda: (t := ecs.describe_tasks(cluster="probe", tasks=[arn])["tasks"][0])["lastStatus"] == "STOPPED" and t,
    )
    assert task["containers"][0]["exitCode"] == 3
    assert task["stoppedReason"] == "Essential container in task exited"


def unreadable_secret_revision(service: dict[str, Any]) -> tuple[str, str]:
    """(task definition, secret ARN): a revision of the API whose secret its execution role may not read."""
    if "unreadable" not in service:
        url = service["url"]
        secret = client("secretsmanager", url).create_secret(Name="probe-db", SecretString="pw")["ARN"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        iam = client("iam", url)
        role = iam.create_role(RoleName="probe-exec", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        definition = service["ecs"].register_task_definition(
            family="probe-api",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            executionRoleArn=role["Arn"],
            containerDefinitions=[
                {
                    "name": "api",
                    "image": PROBE_IMAGE,
                    "command": ["python3", "-m", "http.server", "8000"],
                    "portMappings": [{"containerPort": 8000}],
                    "secrets": [{"name": "DB_PASSWORD", "valueFrom": secret}],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        service["unreadable"] = (definition, secret)
    definition, secret = service["unreadable"]
    return str(definition), str(secret)


REFUSED_REASON = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
    "unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret {secret}"
    " from secrets manager: AccessDeniedException: User: arn:aws:sts::"
)


def test_a_one_off_task_whose_secret_its_execution_role_cannot_read_stops_without_running(
    service: dict[str, Any],
) -> None:
    """ECS reads the task's secrets with the execution role before the container starts: refused, the
    task stops with ECS's reason and its container has no exit code (the migrations' module fails)."""
    ecs = service["ecs"]
    definition, secret = unreadable_secret_revision(service)
    started = ecs.run_task(
        cluster="probe",
        taskDefinition=definition,
        count=1,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration=service["network"],
    )
    arn = started["tasks"][0]["taskArn"]
    task = wait(
        "the task stops",
        lambda: (t := ecs.describe_tasks(cluster="probe", tasks=[arn])["tasks"][0])["lastStatus"] == "STOPPED" and t,
    )
    assert task["stoppedReason"].startswith(REFUSED_REASON.format(secret=secret))
    assert task["containers"][0].get("exitCode") is None


def test_a_revision_whose_secret_cannot_be_read_fails_its_deployment_with_ecss_reason(
    service: dict[str, Any],
) -> None:
    wait("the deployment is settled", lambda: describe(service)["deployments"][0]["rolloutState"] == "COMPLETED")
    serving = describe(service)["taskDefinition"]
    definition, secret = unreadable_secret_revision(service)
    service["ecs"].update_service(cluster="probe", service="api", taskDefinition=definition)
    failed = wait(
        "the deployment fails and rolls back",
        lambda: (
            (s := describe(service))["taskDefinition"] == serving
            and any(d["rolloutState"] == "FAILED" for d in s["deployments"])
            and s
        ),
    )
    assert any(d["taskDefinition"] == definition and d["rolloutState"] == "FAILED" for d in failed["deployments"])
    assert any(REFUSED_REASON.format(secret=secret) in e["message"] for e in failed["events"])
    wait("the rollback completes", lambda: describe(service)["deployments"][0]["rolloutState"] == "COMPLETED")


def test_deleting_the_service_stops_its_tasks(service: dict[str, Any]) -> None:
    ecs = service["ecs"]
    ecs.update_service(cluster="probe", service="api", desiredCount=0)
    ecs.delete_service(cluster="probe", service="api")
    wait("the tasks stop", lambda: containers(service["url"], "api") == [])
