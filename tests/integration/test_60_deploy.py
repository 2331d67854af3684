"""playbooks/deploy.yml on the session's stack: what it creates, read back with boto3, and the service
running for real behind the load balancer's stand-in, under its DNS name (localcloud/ecs.py,
localcloud/elb.py, localcloud/alb.py).

The module deploys once (unless site.yml already did), then proves idempotence, a rolling update to
a new image and the rollback of a broken one, in file order.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any, Self

import pytest

from localcloud.dataplane import DataPlane
from localcloud.ecs import ECS_LABEL
from tests.integration.conftest import LOGS, ROOT, Stack
from tests.integration.helpers import ARTIFACTS, MAIN_PORT, PROJECT, Run, run_playbook, tags_of

PREFIX = f"{PROJECT}-local"
API = f"{PREFIX}-api"
WORKER = f"{PREFIX}-worker"


@dataclass
class Deployed:
    stack: Stack
    outputs: dict[str, Any]
    first_run: Run | None
    revisions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.outputs["app_url"])

    def client(self, service: str) -> Any:
        return self.stack.cloud.client(service)

    def deploy(self, *args: str, log: str) -> Run:
        return run_playbook("playbooks/deploy.yml", *args, port=self.stack.cloud.port, log=LOGS / log)

    def push(self, tag: str, *args: str, log: str) -> Run:
        """playbooks/image.yml: the build-and-push step that deploy.yml no longer does."""
        run = run_playbook(
            "playbooks/image.yml",
            "-e",
            f"app_deploy_image_tag={tag}",
            *args,
            port=self.stack.cloud.port,
            log=LOGS / log,
        )
        assert run.returncode == 0, run.why
        return run


def read_outputs() -> dict[str, Any]:
    return dict(json.loads((ARTIFACTS / "local" / "outputs.json").read_text()))


@pytest.fixture(scope="module")
def deployed(stack: Stack) -> Deployed:
    """The service deployed once on the session's stack (by site.yml, or here by deploy.yml)."""
    first = None
    if "app_url" not in read_outputs():
        first = run_playbook("playbooks/deploy.yml", port=stack.cloud.port, log=LOGS / "deploy-first-run.log")
        assert first.returncode == 0, first.why
    return Deployed(stack=stack, outputs=read_outputs(), first_run=first)


# The listener serves the self-signed certificate the deploy imported into ACM: inventories/local has
# the deploy write it here, and the tests verify the listener against it as the smoke test does.
CA_BUNDLE = ROOT / ".state" / "ca" / f"localcloud-{MAIN_PORT}.pem"


def verified() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(CA_BUNDLE))


def http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10, context=verified()) as resp:  # noqa: S310 - the local listener
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


def revisions(deployed: Deployed, family: str) -> list[str]:
    return list(
        deployed.client("ecs").list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    )


def service(deployed: Deployed, name: str) -> dict[str, Any]:
    found = deployed.client("ecs").describe_services(cluster=PREFIX, services=[name])["services"]
    assert len(found) == 1
    return dict(found[0])


class Poller:
    """Calls ``poll`` every ``interval`` seconds in a thread while the ``with`` block runs."""

    interval = 0.2

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def poll(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            time.sleep(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class DeploymentWatch(Poller):
    """Polls DescribeServices in a thread: (rolloutState, failedTasks) of every deployment of the
    service that is not of the revision ``serving``, as a client of ECS sees them."""

    interval = 0.3

    def __init__(self, deployed: Deployed, name: str, serving: str) -> None:
        super().__init__()
        self.deployed, self.name, self.serving = deployed, name, serving
        self.seen: list[tuple[str, int]] = []

    def poll(self) -> None:
        for deployment in service(self.deployed, self.name).get("deployments", []):
            if deployment["taskDefinition"] != self.serving:
                seen = (deployment.get("rolloutState", ""), int(deployment.get("failedTasks", 0)))
                if not self.seen or self.seen[-1] != seen:
                    self.seen.append(seen)


class HealthProbe(Poller):
    """GET /health every 0.2 s in a thread; counts the answers that were not 200."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url + "/health"
        self.ok = 0
        self.bad: list[int] = []

    def poll(self) -> None:
        status, _ = http("GET", self.url)
        if status == 200:
            self.ok += 1
        else:
            self.bad.append(status)


# --------------------------------------------------------------------------- control plane


def test_load_balancer_redirects_http_to_https_with_the_certificate(deployed: Deployed) -> None:
    elb = deployed.client("elbv2")
    lb = elb.describe_load_balancers(Names=[f"{PREFIX}-alb"])["LoadBalancers"][0]
    assert lb["Scheme"] == "internet-facing"
    public = set(deployed.outputs["public_subnet_ids"])
    assert {az["SubnetId"] for az in lb["AvailabilityZones"]} == public
    listeners = {li["Port"]: li for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert set(listeners) == {80, 443}
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    cert_arn = https["Certificates"][0]["CertificateArn"]
    cert = deployed.client("acm").describe_certificate(CertificateArn=cert_arn)["Certificate"]
    assert cert["Type"] == "IMPORTED"
    assert https["DefaultActions"][0]["Type"] == "forward"
    assert https["DefaultActions"][0]["TargetGroupArn"] == deployed.outputs["target_group_arn"]


def test_self_signed_certificate_is_imported_once(deployed: Deployed) -> None:
    acm = deployed.client("acm")
    ours = [
        c
        for c in acm.list_certificates()["CertificateSummaryList"]
        if tags_of(acm.list_tags_for_certificate(CertificateArn=c["CertificateArn"]).get("Tags")).get("Name")
        == f"{PREFIX}-self-signed"
    ]
    assert len(ours) == 1


def test_target_group_checks_health_of_ip_targets(deployed: Deployed) -> None:
    elb = deployed.client("elbv2")
    tg = elb.describe_target_groups(TargetGroupArns=[deployed.outputs["target_group_arn"]])["TargetGroups"][0]
    assert tg["TargetType"] == "ip"
    assert tg["HealthCheckPath"] == "/health"
    assert tg["Matcher"]["HttpCode"] == "200"
    assert tg["Port"] == 8000
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "30"
    targets = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    assert len(targets) == service(deployed, API)["desiredCount"]


def test_access_logs_go_to_an_encrypted_private_bucket(deployed: Deployed) -> None:
    elb = deployed.client("elbv2")
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=deployed.outputs["alb_arn"])["Attributes"]
    }
    assert attrs["access_logs.s3.enabled"] == "true"
    bucket = attrs["access_logs.s3.bucket"]
    s3 = deployed.client("s3")
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()), block


def test_web_acl_has_managed_rules_and_rate_limit_and_protects_the_alb(deployed: Deployed) -> None:
    waf = deployed.client("wafv2")
    acl = waf.get_web_acl_for_resource(ResourceArn=deployed.outputs["alb_arn"])["WebACL"]
    assert acl["ARN"] == deployed.outputs["web_acl_arn"]
    statements = {r["Name"]: r["Statement"] for r in acl["Rules"]}
    managed = {s["ManagedRuleGroupStatement"]["Name"] for s in statements.values() if "ManagedRuleGroupStatement" in s}
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    rate = [s["RateBasedStatement"] for s in statements.values() if "RateBasedStatement" in s]
    assert rate == [{"Limit": 2000, "AggregateKeyType": "IP"}] or (
        len(rate) == 1 and rate[0]["Limit"] == 2000 and rate[0]["AggregateKeyType"] == "IP"
    )


def test_task_definitions_take_the_password_from_secrets_manager_and_run_locked_down(deployed: Deployed) -> None:
    ecs = deployed.client("ecs")
    for family, container_name in ((API, "api"), (WORKER, "worker")):
        td = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        assert td["requiresCompatibilities"] == ["FARGATE"]
        assert td["networkMode"] == "awsvpc"
        assert (td["cpu"], td["memory"]) == ("256", "512")
        container = td["containerDefinitions"][0]
        assert container["name"] == container_name
        assert container["secrets"] == [
            {"name": "DB_PASSWORD", "valueFrom": f"{deployed.outputs['db_secret_arn']}:password::"}
        ]
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert "DB_PASSWORD" not in env
        assert env["DB_HOST"] == deployed.outputs["db_dns_name"]
        assert env["QUEUE_URL"].endswith(f"/{PREFIX}-jobs")
        assert container["readonlyRootFilesystem"] is True
        assert container["user"] == "10001:10001"
        # Scratch space: task storage on /tmp (the image declares /tmp a VOLUME, so Fargate copies its
        # owner and mode in); without the mount point the image's VOLUME would hide its absence here.
        assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
        assert td["volumes"] == [{"name": "tmp"}]
        assert container["healthCheck"]["command"][:1] == ["CMD"]
        assert container["logConfiguration"]["options"]["awslogs-group"] == deployed.outputs["ecs_log_group"]
        assert container["image"] == deployed.outputs["image"]


def task_containers(deployed: Deployed, name: str) -> list[str]:
    """The containers of the running tasks of service ``name`` on this stack's cloud."""
    mine = f"label={ECS_LABEL}.endpoint={deployed.stack.cloud.endpoint}"
    return subprocess.run(
        ["docker", "ps", "-q", "--filter", mine, "--filter", f"label={ECS_LABEL}.service={name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def test_the_running_tasks_have_scratch_space_in_tmp_under_a_read_only_root(deployed: Deployed) -> None:
    """The task definitions mount task storage on /tmp for the non-root user. Fargate mounts it root-owned
    0755 unless the image declares /tmp a VOLUME (localcloud.ecs.task_storage_flags): the image must."""
    for name in (API, WORKER):
        found = task_containers(deployed, name)
        assert found, f"no running task of {name}"
        probe = "import tempfile, pathlib; tempfile.TemporaryFile().write(b'x'); pathlib.Path('/app/x').touch()"
        result = subprocess.run(
            ["docker", "exec", found[0], "python3", "-c", probe], capture_output=True, text=True, check=False
        )
        assert "Read-only file system" in result.stderr, f"{name}: {result.stderr[-600:]}"
        assert "No usable temporary directory" not in result.stderr, f"{name}: /tmp is not writable"


def test_image_is_in_an_immutable_scanned_repository_with_a_lifecycle(deployed: Deployed) -> None:
    ecr = deployed.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[f"{PREFIX}/api"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=f"{PREFIX}/api")["lifecyclePolicyText"])
    rules = sorted(policy["rules"], key=lambda r: r["rulePriority"])
    # Untagged leftovers and builds of uncommitted changes by age; every other tagged image by count only.
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "tagged", "any"]
    assert rules[1]["selection"]["tagPatternList"] == ["*-dirty-*"]
    assert rules[-1]["selection"]["countType"] == "imageCountMoreThan"
    tag = deployed.outputs["image"].rsplit(":", 1)[1]
    assert ecr.batch_get_image(repositoryName=f"{PREFIX}/api", imageIds=[{"imageTag": tag}])["images"]


def test_services_use_fargate_spot_and_the_circuit_breaker(deployed: Deployed) -> None:
    api = service(deployed, API)
    worker = service(deployed, WORKER)
    assert api["loadBalancers"][0]["targetGroupArn"] == deployed.outputs["target_group_arn"]
    assert worker["loadBalancers"] == []
    for svc in (api, worker):
        providers = {s["capacityProvider"] for s in svc["capacityProviderStrategy"]}
        assert providers == {"FARGATE", "FARGATE_SPOT"}
        assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert svc["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert api["desiredCount"] == 2


def test_autoscaling_covers_cpu_memory_and_queue_depth(deployed: Deployed) -> None:
    aas = deployed.client("application-autoscaling")
    targets = {t["ResourceId"]: t for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]}
    assert (targets[f"service/{PREFIX}/{API}"]["MinCapacity"], targets[f"service/{PREFIX}/{API}"]["MaxCapacity"]) == (
        2,
        4,
    )
    assert f"service/{PREFIX}/{WORKER}" in targets
    policies = {
        p["PolicyName"]: p["TargetTrackingScalingPolicyConfiguration"]
        for p in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    }
    assert policies[f"{API}-cpu"]["TargetValue"] == 70.0
    assert (
        policies[f"{API}-cpu"]["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "ECSServiceAverageCPUUtilization"
    )
    assert policies[f"{API}-memory"]["TargetValue"] == 80.0
    backlog = {q["Id"]: q for q in policies[f"{WORKER}-backlog-per-task"]["CustomizedMetricSpecification"]["Metrics"]}
    assert backlog["visible"]["MetricStat"]["Metric"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert backlog["visible"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "QueueName", "Value": f"{PREFIX}-jobs"}
    ]
    assert backlog["running"]["MetricStat"]["Metric"]["MetricName"] == "RunningTaskCount"
    assert backlog["backlog_per_task"]["ReturnData"] is True


def test_alarms_on_5xx_and_unhealthy_hosts_notify_the_topic(deployed: Deployed) -> None:
    alarms = {
        a["AlarmName"]: a
        for a in deployed.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{PREFIX}-alb-")["MetricAlarms"]
    }
    assert alarms[f"{PREFIX}-alb-5xx"]["MetricName"] == "HTTPCode_Target_5XX_Count"
    assert alarms[f"{PREFIX}-alb-elb-5xx"]["MetricName"] == "HTTPCode_ELB_5XX_Count"  # the ALB's own 502/503/504
    assert alarms[f"{PREFIX}-alb-unhealthy-hosts"]["MetricName"] == "UnHealthyHostCount"
    none_healthy = alarms[f"{PREFIX}-alb-no-healthy-hosts"]
    assert (none_healthy["MetricName"], none_healthy["ComparisonOperator"]) == ("HealthyHostCount", "LessThanThreshold")
    assert {d["Name"] for d in none_healthy["Dimensions"]} == {"LoadBalancer", "TargetGroup"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [deployed.outputs["alarm_topic_arn"]]


# --------------------------------------------------------------------------- data plane


def test_the_service_answers_https_under_the_load_balancers_dns_name(deployed: Deployed) -> None:
    lb = deployed.client("elbv2").describe_load_balancers(Names=[f"{PREFIX}-alb"])["LoadBalancers"][0]
    assert deployed.url == f"https://{lb['DNSName']}"
    assert http("GET", deployed.url + "/health") == (200, {"status": "ok", "failing": []})


def test_plain_http_is_redirected_to_https_as_the_listener_says(deployed: Deployed) -> None:
    host = deployed.url.removeprefix("https://")
    conn = HTTPConnection(host, 80, timeout=10)
    conn.request("GET", "/health?probe=1", headers={"User-Agent": "tests"})  # none: NoUserAgent_HEADER
    resp = conn.getresponse()
    assert resp.status == 301
    assert resp.getheader("Location") == f"https://{host}/health?probe=1"


def test_resume_views_and_export_round_trip_through_the_listener(deployed: Deployed) -> None:
    status, resume = http(
        "POST", deployed.url + "/api/resumes", {"name": "Ada", "contact": {"email": "ada@example.com"}}
    )
    assert status == 201
    for _ in range(10):
        assert http("POST", f"{deployed.url}/api/resumes/{resume['id']}/views")[0] == 200
    assert http("GET", f"{deployed.url}/api/resumes/{resume['id']}/views")[1]["views"] == 10
    status, job = http("POST", f"{deployed.url}/api/resumes/{resume['id']}/exports", {"format": "markdown"})
    assert status == 202
    deadline = time.monotonic() + 60
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = http("GET", f"{deployed.url}/api/jobs/{job['job_id']}")[1]
        if state["status"] in ("done", "failed"):
            break
        time.sleep(1)
    assert state["status"] == "done", state
    assert "Ada" in state["result"]


def pg_superuser_env(deployed: Deployed) -> dict[str, str]:
    """psql settings for the PostgreSQL cluster that backs this emulator's databases."""
    plane = DataPlane(
        endpoint=deployed.stack.cloud.endpoint,
        region="eu-west-1",
        project=PROJECT,
        state_dir=Path(os.environ.get("LOCALCLOUD_DATAPLANE_DIR", ROOT / ".state" / "dataplane")),
    )
    return plane.pg_env()


def test_poison_export_ends_failed_with_the_message_in_the_dlq(deployed: Deployed) -> None:
    status, resume = http(
        "POST", deployed.url + "/api/resumes", {"name": "Poison", "contact": {"email": "p@example.com"}}
    )
    assert status == 201
    job_id = str(uuid.uuid4())
    env = pg_superuser_env(deployed)
    psql = str(Path(env.get("PG_LOCAL_BINDIR", "/usr/bin")) / "psql")
    insert = "INSERT INTO export_jobs (id, resume_id, format, status) VALUES (%s, %d, 'pdf', 'queued')" % (  # noqa: S608, UP031
        f"'{job_id}'",
        int(resume["id"]),
    )
    subprocess.run(
        [
            psql,
            "-X",
            "-d",
            deployed.outputs["db_name"],
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            insert,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    sqs = deployed.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=f"{PREFIX}-jobs")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=f"{PREFIX}-jobs-dlq")["QueueUrl"]
    original = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    # Three receives at the queue's 60 s visibility take minutes: shorten it for this test only.
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "2"})
    try:
        sqs.send_message(
            QueueUrl=queue_url, MessageBody=json.dumps({"job_id": job_id, "resume_id": resume["id"], "format": "pdf"})
        )
        deadline = time.monotonic() + 120
        in_dlq = False
        state: dict[str, Any] = {}
        while time.monotonic() < deadline and not (in_dlq and state.get("status") == "failed"):
            state = http("GET", f"{deployed.url}/api/jobs/{job_id}")[1]
            msgs = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
                "Messages", []
            )
            in_dlq = in_dlq or any(json.loads(m["Body"]).get("job_id") == job_id for m in msgs)
            time.sleep(1)
    finally:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=original)
    assert state["status"] == "failed", state
    assert state["error"], state
    assert in_dlq


# --------------------------------------------------------------------------- redeploys (in this order)


def test_redeploying_the_same_image_changes_nothing(deployed: Deployed) -> None:
    before = {f: revisions(deployed, f) for f in (API, WORKER)}
    run = deployed.deploy(log="deploy-rerun.log")
    assert run.returncode == 0, run.why
    assert run.changed == 0, run.output[-3000:]
    assert {f: revisions(deployed, f) for f in (API, WORKER)} == before


def test_autoscaled_desired_count_survives_a_redeploy(deployed: Deployed) -> None:
    ecs = deployed.client("ecs")
    ecs.update_service(cluster=PREFIX, service=WORKER, desiredCount=2)  # as autoscaling would
    try:
        run = deployed.deploy(log="deploy-after-scale-out.log")
        assert run.returncode == 0, run.why
        assert service(deployed, WORKER)["desiredCount"] == 2
    finally:
        ecs.update_service(cluster=PREFIX, service=WORKER, desiredCount=1)
        assert deployed.deploy(log="deploy-after-scale-in.log").returncode == 0


def docker_tag(source: str, target: str) -> None:
    subprocess.run(["docker", "tag", source, target], check=True)


def test_a_new_image_gives_one_new_revision_and_a_rolling_update_without_downtime(deployed: Deployed) -> None:
    before = {f: revisions(deployed, f) for f in (API, WORKER)}
    current_tag = deployed.outputs["image"].rsplit(":", 1)[1]
    new_tag = f"test-{uuid.uuid4().hex[:8]}"
    docker_tag(f"resume-service:{current_tag}", f"resume-service:{new_tag}")
    deployed.push(new_tag, "-e", "image_build=false", log="image-new.log")
    with HealthProbe(deployed.url) as probe:
        run = deployed.deploy("-e", f"app_deploy_image_tag={new_tag}", log="deploy-new-image.log")
    assert run.returncode == 0, run.why
    after = {f: revisions(deployed, f) for f in (API, WORKER)}
    for family in (API, WORKER):
        assert len(after[family]) == len(before[family]) + 1
    assert service(deployed, API)["taskDefinition"] == after[API][-1]
    assert probe.ok > 0
    assert probe.bad == [], f"/health failed {len(probe.bad)} times during the rolling update"
    deployed.outputs = read_outputs()
    assert deployed.outputs["image"].endswith(f":{new_tag}")


def test_a_tag_already_in_ecr_is_neither_built_nor_pushed_again(deployed: Deployed) -> None:
    """ECR's tags are immutable: playbooks/image.yml asks ECR first. The tag here is in ECR but no
    longer in the local engine: looking only there, the step would build it again."""
    current_tag = deployed.outputs["image"].rsplit(":", 1)[1]
    alias = f"alias-{uuid.uuid4().hex[:8]}"
    docker_tag(f"resume-service:{current_tag}", f"resume-service:{alias}")
    deployed.push(alias, "-e", "image_build=false", log="image-alias.log")
    subprocess.run(["docker", "image", "rm", f"resume-service:{alias}"], check=True, capture_output=True)
    again = deployed.push(alias, log="image-alias-again.log")
    assert again.changed == 0, again.output[-3000:]
    found = subprocess.run(
        ["docker", "image", "inspect", f"resume-service:{alias}"], capture_output=True, text=True, check=False
    )
    assert found.returncode != 0, "the image was built again"


def test_a_broken_image_rolls_back_and_the_previous_revision_keeps_serving(deployed: Deployed) -> None:
    good_tag = deployed.outputs["image"].rsplit(":", 1)[1]
    serving = service(deployed, API)["taskDefinition"]
    broken_tag = f"broken-{uuid.uuid4().hex[:8]}"
    # Same code, but the API listens on another port: /health on the container port never answers.
    subprocess.run(
        ["docker", "build", "-t", f"resume-service:{broken_tag}", "-"],
        input=f"FROM resume-service:{good_tag}\nENV API_PORT=8999\n",
        text=True,
        check=True,
        capture_output=True,
    )
    deployed.push(broken_tag, "-e", "image_build=false", log="image-broken.log")
    with HealthProbe(deployed.url) as probe, DeploymentWatch(deployed, API, serving) as watch:
        run = deployed.deploy(
            "-e",
            f"app_deploy_image_tag={broken_tag}",
            "-e",
            "app_deploy_steady_state_timeout=180",
            log="deploy-broken-image.log",
        )
    assert run.returncode != 0
    assert "rolled back" in run.output and "keeps serving" in run.output, run.output[-3000:]
    api = service(deployed, API)
    assert api["taskDefinition"] == serving
    # ECS counts each failed task of the deployment and replaces it until the circuit breaker's
    # threshold (half the desired count, at least 3): the first failures do not trip it.
    assert api["desiredCount"] == 2
    assert any(state == "IN_PROGRESS" and 1 <= failed < 3 for state, failed in watch.seen), watch.seen
    assert ("FAILED", 3) in watch.seen, watch.seen
    assert probe.ok > 0
    assert probe.bad == [], f"/health failed {len(probe.bad)} times while the broken revision was tried"
    assert http("GET", deployed.url + "/health")[0] == 200


def running_environment(deployed: Deployed, name: str) -> list[dict[str, str]]:
    """The environment of each running task of service ``name``, read from its container."""
    environments = []
    for container in task_containers(deployed, name):
        raw = subprocess.run(
            ["docker", "inspect", "--format", "{{json .Config.Env}}", container],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        environments.append(dict(item.split("=", 1) for item in json.loads(raw)))
    return environments


def test_a_changed_setting_gives_a_new_revision_that_the_services_run(deployed: Deployed) -> None:
    """LOG_LEVEL alone changes (same image): exactly one new revision per family and a rollout onto it;
    the same deploy again registers nothing. community.aws.ecs_taskdefinition reuses an ACTIVE revision
    whose lists (environment, secrets) have the same length as the requested ones, whatever they hold,
    so this change was silently not deployed (resumestack.cloud.ecs_task_definition compares all)."""
    before = {f: revisions(deployed, f) for f in (API, WORKER)}
    tag = deployed.outputs["image"].rsplit(":", 1)[1]
    args = ("-e", f"app_deploy_image_tag={tag}", "-e", "app_deploy_log_level=DEBUG")
    run = deployed.deploy(*args, log="deploy-new-setting.log")
    assert run.returncode == 0, run.why
    ecs = deployed.client("ecs")
    for family in (API, WORKER):
        after = revisions(deployed, family)
        assert len(after) == len(before[family]) + 1, family
        definition = ecs.describe_task_definition(taskDefinition=after[-1])["taskDefinition"]
        environment = {e["name"]: e["value"] for e in definition["containerDefinitions"][0]["environment"]}
        assert environment["LOG_LEVEL"] == "DEBUG"
        assert service(deployed, family)["taskDefinition"] == after[-1]
        deployments = service(deployed, family)["deployments"]
        assert [(d["taskDefinition"], d["rolloutState"]) for d in deployments] == [(after[-1], "COMPLETED")]
        running = running_environment(deployed, family)
        assert running, f"no running task of {family}"
        assert {env.get("LOG_LEVEL") for env in running} == {"DEBUG"}, family

    settled = {f: revisions(deployed, f) for f in (API, WORKER)}
    again = deployed.deploy(*args, log="deploy-same-setting.log")
    assert again.returncode == 0, again.why
    assert again.changed == 0, again.output[-3000:]
    assert {f: revisions(deployed, f) for f in (API, WORKER)} == settled


def test_a_worker_scaled_to_zero_rolls_out_at_once(deployed: Deployed) -> None:
    """app_deploy_worker_min_tasks: 0 lets autoscaling take the worker to no task: a new revision of a
    service that runs none completes without a task to wait for, and the deploy does not spin."""
    ecs = deployed.client("ecs")
    tag = deployed.outputs["image"].rsplit(":", 1)[1]
    ecs.update_service(cluster=PREFIX, service=WORKER, desiredCount=0)  # as autoscaling would
    try:
        run = deployed.deploy(
            "-e", f"app_deploy_image_tag={tag}", "-e", "app_deploy_log_level=WARNING",
            "-e", "app_deploy_worker_min_tasks=0", "-e", "app_deploy_steady_state_timeout=300",
            log="deploy-worker-at-zero.log",
        )  # fmt: skip
        # A wait that spun would end at its timeout with the deploy failed ("did not reach steady state").
        assert run.returncode == 0, run.why
        worker = service(deployed, WORKER)
        assert worker["desiredCount"] == 0
        assert [(d["taskDefinition"], d["rolloutState"]) for d in worker["deployments"]] == [
            (revisions(deployed, WORKER)[-1], "COMPLETED")
        ]
    finally:
        ecs.update_service(cluster=PREFIX, service=WORKER, desiredCount=1)
