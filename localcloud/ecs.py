"""The local cloud's ECS: services and one-off tasks as containers, run the way ECS runs them.

The controller calls in here when an API call changed ECS (``localcloud.controller``):

* a service: one worker thread per service keeps the service's desired count of tasks of its
  PRIMARY deployment running as containers on the Docker network of the service's VPC (the one
  ``localcloud.dataplane`` gives the test hosts), with exactly the environment and secrets the task
  definition names. The execution role's session makes the ECS agent's calls before the container
  starts: the registry auth and image pull (GetAuthorizationToken, BatchGetImage,
  GetDownloadUrlForLayer) of an image in the emulator's ECR, the secrets from Secrets Manager / SSM,
  the awslogs log stream (CreateLogStream ``<prefix>/<container>/<task-id>``, one PutLogEvents);
  the container gets the task role's own session (``localcloud.iam``; both assumed with the task's
  ARN as aws:SourceArn) and the endpoint. A refusal stops the task with ECS's
  ResourceInitializationError or CannotPullContainerError and counts as a failed task. A
  rolling update starts the new tasks, waits until they pass the target group's health check (the
  container health check for a service without one), registers them as targets, then stops the
  old tasks: the deployment goes IN_PROGRESS -> COMPLETED in DescribeServices, with running and
  pending counts. When new tasks fail, replacements are launched until the deployment's failed
  tasks reach the circuit breaker's threshold (half the desired count, 3 to 200); then the breaker
  (if the service has it) marks the deployment FAILED and rolls the service back to the previous
  revision, which keeps serving.
* task storage as Fargate mounts it: a task volume is root-owned 0755 unless the image declares
  the path a ``VOLUME`` (then the image's directory is copied in); ``readonlyRootFilesystem`` holds.
* a one-off task (RunTask, e.g. the migrations): its container runs with the command override;
  DescribeTasks shows it PROVISIONING, RUNNING, then STOPPED with the container's exit code.

Health checks run at AWS's intervals scaled by ``localcloud.timing``. Only containers labelled with
this local cloud's endpoint are touched. ``push`` records a locally built image in the emulator's
ECR (there is no registry here): ``python -m localcloud push``.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import math
import os
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from localcloud import fidelity, firewall, iam, models, timing
from localcloud.dataplane import EMULATOR_HOSTNAME, LABEL, DataPlane, network_gateway, run
from localcloud.elb import deregistration_delay
from localcloud.emulator import LocalCloudError

LOG = logging.getLogger("localcloud.ecs")
ECS_LABEL = f"{LABEL}.ecs"
# Addresses handed to tasks whose container is not running yet: two services starting tasks at once
# (each in its own thread) must not pick the same one.
RESERVED: set[str] = set()
RESERVED_LOCK = threading.Lock()
NETWORK_LOCK = threading.Lock()


class TaskStartError(LocalCloudError):
    """The task cannot start, with ECS's stopped reason (a role it cannot assume, a secret it cannot read)."""


def secret_reference(value_from: str) -> tuple[str, str, str]:
    """(kind, id, json key) of a task definition's ``valueFrom``.

    ``arn:aws:secretsmanager:<region>:<acct>:secret:<name>[:<json-key>[:<stage>[:<version>]]]``
    or an SSM parameter ARN / name.
    """
    if value_from.startswith("arn:aws:secretsmanager:"):
        parts = value_from.split(":")
        return "secretsmanager", ":".join(parts[:7]), parts[7] if len(parts) > 7 else ""
    return "ssm", value_from, ""


# An image in an ECR private repository: <registry>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag][@digest]
ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$"
)


def ecr_image(image: str) -> tuple[str, str, str, str] | None:
    """(registry id, region, repository, tag or digest) of an ECR repository URI, else None."""
    found = ECR_IMAGE.match(image)
    if found is None:
        return None
    reference = found["digest"] or found["tag"] or "latest"
    return found["registry"], found["region"], found["repository"], reference


def awslogs_stream(container: dict[str, Any], task_id: str) -> tuple[str, str, str] | None:
    """(log group, region, stream) the awslogs driver writes the container's output to: ECS names
    the stream <prefix>/<container>/<task-id>. None for another log driver."""
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = config.get("options") or {}
    prefix = str(options.get("awslogs-stream-prefix") or "")
    stream = f"{prefix}/{container.get('name', '')}/{task_id}" if prefix else task_id
    return str(options.get("awslogs-group") or ""), str(options.get("awslogs-region") or ""), stream


def _refusal(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', '')}"


def health_command(check: dict[str, Any]) -> list[str]:
    """docker run flags for an ECS container health check."""
    command = list(check.get("command") or [])
    if not command or command[0] == "NONE":
        return ["--no-healthcheck"] if command else []
    shell = " ".join(command[1:]) if command[0] in ("CMD", "CMD-SHELL") else " ".join(command)
    return [
        "--health-cmd",
        shell,
        "--health-interval",
        f"{timing.scaled(check.get('interval', 30), floor=3):g}s",
        "--health-timeout",
        f"{check.get('timeout', 5)}s",
        "--health-retries",
        str(check.get("retries", 3)),
        "--health-start-period",
        f"{timing.scaled(check.get('startPeriod', 0)):g}s",
    ]


def breaker_threshold(desired: int, breaker: dict[str, Any]) -> int:
    """How many failed tasks the deployment circuit breaker tolerates before it fails a deployment.

    ECS: ``thresholdConfiguration`` (type, value) when the service has one, else BOUNDED_PERCENT 50:
    half the desired count, rounded up, never under 3 nor over 200 (ECS API Reference,
    ServiceDeploymentCircuitBreaker.threshold and ThresholdConfiguration).
    """
    config = breaker.get("thresholdConfiguration") or {}
    kind = str(config.get("type", "BOUNDED_PERCENT"))
    value = int(config.get("value", 50))
    if kind == "COUNT":
        return max(value, 1)
    count = math.ceil(value * max(desired, 0) / 100)
    return max(count, 1) if kind == "UNBOUNDED_PERCENT" else min(max(count, 3), 200)


def task_storage_flags(path: str, image_volumes: set[str]) -> list[str]:
    """docker run flags for a Fargate bind mount (a task volume without a host path) at ``path``.

    Fargate mounts an empty directory owned by root with mode 0755; when the image declares the same
    path as a ``VOLUME``, the image's directory (contents, owner, mode) is copied in instead (ECS
    Developer Guide, "Use bind mounts with Amazon ECS"). An anonymous Docker volume does both: empty
    and root 0755 with ``volume-nocopy``, else a copy of the image's directory. (A tmpfs would not do:
    runc copies the image directory's mode onto it, so /tmp would stay 1777.)
    """
    if path in image_volumes:
        return ["--mount", f"type=volume,destination={path}"]
    return ["--mount", f"type=volume,destination={path},volume-nocopy"]


def probe(url: str, source: str = "") -> int:
    """The status of a GET of ``url`` (http), sent from ``source`` when given."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname or "", parts.port or 80, timeout=2, source_address=(source, 0) if source else None
    )
    try:
        conn.request("GET", parts.path or "/")
        return conn.getresponse().status
    finally:
        conn.close()


def free_address(cidr: str, used: set[str]) -> str:
    """The highest free host address of a subnet (the emulator hands out instance IPs from the bottom)."""
    for addr in reversed(list(ipaddress.ip_network(cidr).hosts())[4:]):
        if str(addr) not in used:
            return str(addr)
    raise LocalCloudError(f"no free address left in {cidr}")


@dataclass
class Task:
    container: str
    service: str
    task_definition: str
    ip: str
    state: str
    started: float


@dataclass
class Ecs:
    """Task containers of one cluster (of every cluster of the local cloud without one)."""

    plane: DataPlane
    cluster: str
    # What tasks started together share (the network of their subnets, the database names and
    # forwarders): set up once, not once per task.
    _networks: dict[tuple[str, ...], tuple[str, str, str]] = field(default_factory=dict, repr=False)
    _database_hosts: dict[str, list[str]] = field(default_factory=dict, repr=False)
    changes: list[str] = field(default_factory=list)
    # The load balancer's address: its target health checks come from there, and the task's
    # security group admits the load balancer's group, not this host.
    health_source: str = ""

    def changed(self, message: str) -> None:
        self.changes.append(message)
        LOG.info("changed: %s", message)

    def client(self, service: str) -> Any:
        return self.plane._client(service)

    def labels(self, **extra: str) -> list[str]:
        # Labels of our own: localcloud.dataplane removes every container carrying its endpoint label
        # that is not a test host.
        labels = {f"{ECS_LABEL}.endpoint": self.plane.endpoint, f"{ECS_LABEL}.cluster": self.cluster, **extra}
        return [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]

    def tasks(self) -> list[Task]:
        """The task containers of this cluster (of every cluster of the local cloud without one)."""
        filters = ["--filter", f"label={ECS_LABEL}.endpoint={self.plane.endpoint}"]
        if self.cluster:
            filters += ["--filter", f"label={ECS_LABEL}.cluster={self.cluster}"]
        out = run(["docker", "ps", "-a", "--no-trunc", "--format", "{{.Names}}", *filters])
        names = [n for n in out.split() if n]
        if not names:
            return []
        found = json.loads(run(["docker", "inspect", *names], check=False) or "[]")
        result = []
        for item in found:
            labels = item["Config"]["Labels"]
            nets = item["NetworkSettings"]["Networks"]
            ip = (
                next(
                    (n.get("IPAMConfig", {}) or {}).get("IPv4Address") or n.get("IPAddress", "") for n in nets.values()
                )
                if nets
                else ""
            )
            result.append(
                Task(
                    container=item["Name"].lstrip("/"),
                    service=labels.get(f"{ECS_LABEL}.service", ""),
                    task_definition=labels.get(f"{ECS_LABEL}.taskdef", ""),
                    ip=ip,
                    state=item["State"]["Status"],
                    started=float(labels.get(f"{ECS_LABEL}.started", "0")),
                )
            )
        return sorted(result, key=lambda t: t.container)

    def role_credentials(self, role_arn: str, purpose: str, task_arn: str = "") -> dict[str, str]:
        """Credentials of a task's role, as ECS obtains them: AssumeRole through the emulator's STS,
        which the role's trust policy must admit ecs-tasks.amazonaws.com to (``localcloud.iam``), with
        the task's ARN as aws:SourceArn and its account as aws:SourceAccount. ECS serves a task role's
        credentials through the container credentials endpoint and renews them; here they are set
        once at start, for 12 hours."""
        if task_arn.count(":") >= 5:
            account = task_arn.split(":")[4]
        elif role_arn.count(":") >= 5:
            account = role_arn.split(":")[4]
        else:
            account = self.plane_account()
        try:
            return iam.assume_for_service(
                self.client("iam"),
                self.client("sts"),
                role_arn,
                "ecs-tasks.amazonaws.com",
                f"ecs-{purpose}-{secrets.token_hex(8)}",
                account=account,
                source_arn=task_arn,
            )
        except (iam.TrustError, ClientError) as exc:
            LOG.warning("assuming %s failed: %s", role_arn, exc)
            raise TaskStartError(
                f"ECS was unable to assume the role '{role_arn}' that was provided for this task. Please verify "
                "that the role being passed has the proper trust relationship and permissions and that your IAM "
                "user has permissions to pass this role."
            ) from exc

    def plane_account(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def new_task_arn(self, account: str = "") -> str:
        """A task's ARN as ECS makes it (a service's tasks are not in moto's model):
        arn:aws:ecs:<region>:<account>:task/<cluster>/<32 hex digits>."""
        account = account or self.plane_account()
        cluster = self.cluster.rsplit("/", 1)[-1] or "default"  # the cluster's name, or its ARN's
        return f"arn:aws:ecs:{self.plane.region}:{account}:task/{cluster}/{uuid.uuid4().hex}"

    def session_client(self, service: str, credentials: dict[str, str], region: str = "") -> Any:
        """A client of the emulator signed with a role session's credentials (the agent's calls)."""
        make_client: Any = boto3.client
        return make_client(
            service,
            region_name=region or self.plane.region,
            endpoint_url=self.plane.endpoint,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
        )

    def registry_auth(self, image: str, credentials: dict[str, str]) -> None:
        """The agent's ecr:GetAuthorizationToken for an image in ECR (with the secrets: one step on Fargate)."""
        found = ecr_image(image)
        if found is None:
            return
        try:
            self.session_client("ecr", credentials, found[1]).get_authorization_token()
        except ClientError as exc:
            raise TaskStartError(
                "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                "retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 "
                f"time(s): {_refusal(exc)}"
            ) from exc

    def pull_image(self, image: str, credentials: dict[str, str]) -> None:
        """The image pull from ECR: the manifest (ecr:BatchGetImage), then the blobs
        (ecr:GetDownloadUrlForLayer), with the execution role's session. The image itself is in the
        local engine already (``push``)."""
        found = ecr_image(image)
        if found is None:
            return
        registry, region, repository, reference = found
        host = image.split("/", 1)[0]
        ecr = self.session_client("ecr", credentials, region)
        image_id = {"imageDigest": reference} if reference.startswith("sha256:") else {"imageTag": reference}
        failed_manifest = (
            f"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {image}"
        )
        try:
            images = ecr.batch_get_image(registryId=registry, repositoryName=repository, imageIds=[image_id])["images"]
        except ClientError as exc:
            LOG.warning("pulling %s: %s", image, _refusal(exc))
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "RepositoryNotFoundException":
                raise TaskStartError(f"{failed_manifest}: {image}: not found") from exc
            raise TaskStartError(
                f"{failed_manifest}: pulling from host {host} failed with status code [manifests {reference}]: "
                "403 Forbidden"
            ) from exc
        if not images:
            raise TaskStartError(f"{failed_manifest}: {image}: not found")
        manifest = json.loads(images[0]["imageManifest"])
        blob = str((manifest.get("config") or {}).get("digest") or "")
        blob = blob or next((str(layer["digest"]) for layer in manifest.get("layers", [])), "")
        if not blob:
            return
        try:
            ecr.get_download_url_for_layer(registryId=registry, repositoryName=repository, layerDigest=blob)
        except ClientError as exc:
            LOG.warning("pulling %s: %s", image, _refusal(exc))
            raise TaskStartError(
                "CannotPullContainerError: failed to copy: httpReadSeeker: failed open: unexpected status code "
                f"https://{host}/v2/{repository}/blobs/{blob}: 403 Forbidden"
            ) from exc

    def open_log_stream(self, container: dict[str, Any], credentials: dict[str, str], task_arn: str) -> None:
        """The awslogs driver's setup, with the execution role's session: CreateLogStream
        <prefix>/<container>/<task-id> in the group (a refusal, or a missing group, stops the task
        before it runs), then one event. A refused PutLogEvents does not stop the task on AWS (the
        driver drops its lines): it is logged here."""
        found = awslogs_stream(container, task_arn.rsplit("/", 1)[-1])
        if found is None:
            return
        group, region, stream = found
        logs = self.session_client("logs", credentials, region)
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as exc:
            raise TaskStartError(
                "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 "
                f"times: failed to create Cloudwatch log stream: {_refusal(exc)} : exit status 1"
            ) from exc
        try:
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[
                    {
                        "timestamp": int(time.time() * 1000),
                        "message": f"localcloud: task {task_arn} started; its output stays in the local container",
                    }
                ],
            )
        except ClientError as exc:
            LOG.warning("task %s: the awslogs driver cannot write to %s: %s", task_arn, group, _refusal(exc))

    def resolve_secret(self, value_from: str, credentials: dict[str, str]) -> str:
        """A secret's value, read with the execution role's credentials (the agent's calls)."""
        kind, ident, key = secret_reference(value_from)
        prefix = (
            "ResourceInitializationError: unable to pull secrets or registry auth: "
            "execution resource retrieval failed: "
        )
        client = self.session_client("ssm" if kind == "ssm" else "secretsmanager", credentials)
        try:
            if kind == "ssm":
                return str(client.get_parameters(Names=[ident], WithDecryption=True)["Parameters"][0]["Value"])
            raw = client.get_secret_value(SecretId=ident)["SecretString"]
        except (ClientError, IndexError) as exc:
            error = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
            detail = f"{error.get('Code', 'ParameterNotFound')}: {error.get('Message', ident)}"
            if kind == "ssm":
                where = f"unable to retrieve secrets from ssm: service call has been retried 1 time(s): {detail}"
            else:
                where = (
                    "unable to retrieve secret from asm: service call has been retried 1 time(s): "
                    f"failed to fetch secret {ident} from secrets manager: {detail}"
                )
            raise TaskStartError(prefix + where) from exc
        if not key:
            return str(raw)
        value = json.loads(raw).get(key)
        if value is None:
            raise TaskStartError(
                f"{prefix}unable to retrieve secret from asm: retrieved secret from Secrets Manager "
                f"did not contain json key {key}"
            )
        return str(value)

    def container_env(self, container: dict[str, Any], taskdef: dict[str, Any], task_arn: str = "") -> dict[str, str]:
        """What the ECS agent does before the container starts, and gives it: with the execution
        role's session the registry auth, the secrets, the image pull and the log stream; then the
        container's environment, its secrets, its task role's credentials (none without a task role:
        the SDK finds none, as on AWS), the region. The endpoint too: on AWS the SDK finds the
        regional endpoint by itself. Without an execution role the log stream is not checked (on
        EC2 the instance role writes the logs; Fargate refuses such a task definition)."""
        task_arn = task_arn or self.new_task_arn()
        env = {e["name"]: str(e["value"]) for e in container.get("environment", [])}
        wanted = container.get("secrets", [])
        image = str(container.get("image") or "")
        execution_role = str(taskdef.get("executionRoleArn") or "")
        if not execution_role and wanted:
            raise TaskStartError(
                "ResourceInitializationError: unable to pull secrets or registry auth: the task definition "
                "has secrets and no execution role to read them with"
            )
        in_ecr = ecr_image(image)
        if not execution_role and in_ecr is not None:
            raise TaskStartError(
                f"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref "
                f"{image}: pulling from host {image.split('/', 1)[0]} failed with status code "
                f"[manifests {in_ecr[3]}]: 401 Unauthorized: no basic auth credentials"
            )
        if execution_role and (wanted or in_ecr is not None or awslogs_stream(container, "")):
            credentials = self.role_credentials(execution_role, "execution", task_arn)
            self.registry_auth(image, credentials)
            for secret in wanted:
                env[secret["name"]] = self.resolve_secret(secret["valueFrom"], credentials)
            self.pull_image(image, credentials)
            self.open_log_stream(container, credentials, task_arn)
        if taskdef.get("taskRoleArn"):
            for name, value in self.role_credentials(str(taskdef["taskRoleArn"]), "task", task_arn).items():
                env.setdefault(name, value)
        env.setdefault("AWS_REGION", self.plane.region)
        env.setdefault("AWS_DEFAULT_REGION", self.plane.region)
        env.setdefault("AWS_ENDPOINT_URL", f"http://{EMULATOR_HOSTNAME}:{self.plane.emulator_port}")
        return env

    def image_volumes(self, image: str) -> set[str]:
        """The paths the image declares as ``VOLUME``."""
        found = run(["docker", "image", "inspect", "--format", "{{json .Config.Volumes}}", image], check=False)
        return set(json.loads(found or "null") or {})

    def network_for(self, subnet_ids: list[str]) -> tuple[str, str, str]:
        """(docker network, gateway, subnet CIDR) of the task's first subnet; creates the network and forwarders."""
        key = tuple(subnet_ids[:1])
        with NETWORK_LOCK:  # a one-off task and a service's tasks may start together: one creates it
            return self._network_for(key, subnet_ids)

    def _network_for(self, key: tuple[str, ...], subnet_ids: list[str]) -> tuple[str, str, str]:
        if key not in self._networks:
            ec2 = self.client("ec2")
            subnet = ec2.describe_subnets(SubnetIds=subnet_ids[:1])["Subnets"][0]
            vpc_cidr = ec2.describe_vpcs(VpcIds=[subnet["VpcId"]])["Vpcs"][0]["CidrBlock"]
            name = self.plane.ensure_network(subnet["VpcId"], vpc_cidr, self.plane.existing_networks())
            gateway = network_gateway(vpc_cidr)
            self.plane.ensure_proxy(gateway, self.plane.emulator_port, self.plane.emulator_port)
            self._networks[key] = (name, gateway, subnet["CidrBlock"])
        return self._networks[key]

    def database_hosts(self, gateway: str) -> list[str]:
        """--add-host flags for every database of the project (each name -> its endpoint's address),
        with the endpoints' addresses and forwarders in place."""
        if gateway in self._database_hosts:
            return self._database_hosts[gateway]
        services = self.plane.database_services()
        databases = self.plane.desired_databases(services)
        self.plane.ensure_database_endpoints(databases, services)
        flags: list[str] = []
        if any(not db.addresses for db in databases):  # a secret with no RDS resource: the gateway
            pg_port = int(self.plane.pg_env().get("PGPORT", "55432"))
            for db in databases:
                if not db.addresses:
                    self.plane.ensure_proxy(gateway, db.port, pg_port)
        for db in databases:
            for name in db.names:
                flags += ["--add-host", f"{name}:{db.address_of(name, gateway)}"]
        self._database_hosts[gateway] = flags
        return flags

    def docker_argv(
        self,
        taskdef: dict[str, Any],
        subnets: list[str],
        *,
        service: str,
        name: str,
        container_name: str = "",
        command: list[str] | None = None,
        detach: bool = True,
        security_groups: list[str] | None = None,
        task_arn: str = "",
    ) -> tuple[list[str], str, dict[str, str]]:
        """(docker run argv, task IP, environment) of the task's (first essential or named) container."""
        definitions = taskdef["containerDefinitions"]
        container = next((c for c in definitions if c.get("essential", True)), definitions[0])
        if container_name:
            container = next(c for c in definitions if c["name"] == container_name)
        # The agent assumes the roles and pulls the secrets first: a refusal stops the task before
        # anything of it exists (ResourceInitializationError).
        env = self.container_env(container, taskdef, task_arn)
        network, gateway, cidr = self.network_for(subnets)
        used = {t.ip for t in self.tasks()}
        inspect = json.loads(run(["docker", "network", "inspect", network]))[0]
        used |= {c["IPv4Address"].split("/")[0] for c in inspect.get("Containers", {}).values()}
        used |= self.plane.bridge_addresses(self.plane.bridge(network))  # DB endpoints, proxies, load balancers
        with RESERVED_LOCK:
            ip = free_address(cidr, used | RESERVED)
            RESERVED.add(ip)
        volumes = {v["name"] for v in taskdef.get("volumes", []) if not v.get("host", {}).get("sourcePath")}
        flags = ["--name", name, "--network", network, "--ip", ip, "--hostname", "ip-" + ip.replace(".", "-")]
        flags += ["--add-host", f"{EMULATOR_HOSTNAME}:{gateway}", *self.database_hosts(gateway)]
        if container.get("readonlyRootFilesystem"):
            flags.append("--read-only")
        for mount in container.get("mountPoints", []):
            if mount.get("sourceVolume") in volumes:  # Fargate task storage: per task
                flags += task_storage_flags(mount["containerPath"], self.image_volumes(container["image"]))
        if container.get("user"):
            flags += ["--user", str(container["user"])]
        if taskdef.get("cpu"):
            flags += ["--cpus", f"{int(taskdef['cpu']) / 1024:g}"]
        if taskdef.get("memory"):
            flags += ["--memory", f"{int(taskdef['memory'])}m"]
        flags += ["--stop-timeout", str(container.get("stopTimeout", 30))]
        flags += health_command(container.get("healthCheck", {}))
        flags += self.labels(
            **{
                f"{ECS_LABEL}.service": service,
                f"{ECS_LABEL}.taskdef": taskdef["taskDefinitionArn"],
                f"{ECS_LABEL}.started": f"{time.time():.0f}",
                # The task's ENI's groups: localcloud.firewall enforces them on its address.
                f"{ECS_LABEL}.security-groups": ",".join(sorted(security_groups or [])),
            }
        )
        # A service task that exits is replaced by the scheduler: the restart policy stands in for it.
        argv = ["docker", "run", *(["--detach", "--restart", "on-failure"] if detach else ["--rm"]), *flags]
        argv += [container["image"], *(command if command is not None else list(container.get("command") or []))]
        return argv, ip, env

    def start(
        self,
        taskdef: dict[str, Any],
        subnets: list[str],
        *,
        service: str,
        container_name: str = "",
        command: list[str] | None = None,
        detach: bool = True,
        security_groups: list[str] | None = None,
        task_arn: str = "",
    ) -> tuple[str, str, int]:
        """Run a task's container; return (container name, ip, exit code when not detached)."""
        time.sleep(fidelity.fargate_start_delay())  # PROVISIONING, PENDING: an ENI, the image pull
        family_rev = taskdef["taskDefinitionArn"].rsplit("/", 1)[1].replace(":", "-")
        name = f"lc{self.plane.scope}-ecs-{family_rev}-{secrets.token_hex(3)}"
        argv, ip, env = self.docker_argv(
            taskdef,
            subnets,
            service=service,
            name=name,
            container_name=container_name,
            command=command,
            detach=detach,
            security_groups=security_groups,
            task_arn=task_arn,
        )
        env_dir = self.plane.run_dir / "env"
        env_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        env_file = env_dir / f"{name}.env"
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(f"{key}={value}\n" for key, value in env.items())
        argv[2:2] = ["--env-file", str(env_file)]
        try:
            # As on AWS the task's network interface, with its groups, exists before the task starts.
            self.plane.sync_firewall(extra=[firewall.Party(ip, frozenset(security_groups or []), name)])
            if detach:
                run(argv)
                return name, ip, 0
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
            if proc.returncode != 0:
                LOG.warning("task %s exited %d: %s", name, proc.returncode, (proc.stdout + proc.stderr)[-2000:])
            return name, ip, proc.returncode
        finally:
            env_file.unlink(missing_ok=True)
            with RESERVED_LOCK:
                RESERVED.discard(ip)

    def healthy(self, task: Task, health_url: str | None) -> bool | None:
        """True healthy, False failed for good, None not yet."""
        state = json.loads(run(["docker", "inspect", "--format", "{{json .State}}", task.container]))
        if state["Status"] != "running":
            return False
        health = (state.get("Health") or {}).get("Status")
        if health == "unhealthy":
            return False
        if health_url is not None:
            try:
                return True if probe(health_url.format(ip=task.ip), self.health_source) == 200 else None
            except OSError:
                return None
        return True if health in ("healthy", None) else None

    def wait_healthy(
        self,
        tasks: list[Task],
        health_url: str | None,
        timeout: float,
        on_failure: Callable[[Task, str], bool],
        on_healthy: Callable[[Task], None] | None = None,
    ) -> list[Task]:
        """The tasks that became healthy. Each task that fails (stops, or fails its health check within
        ``timeout``) is stopped and reported to ``on_failure`` with why (a log tail), one at a time as
        ECS counts them; when that answers True (the circuit breaker tripped) the rest are stopped."""
        deadline = time.monotonic() + timeout
        pending, healthy = list(tasks), []

        def fail(task: Task, why: str) -> bool:
            pending.remove(task)
            self.stop([task], "failed its health check")
            if on_failure(task, why):
                self.stop(pending, "its deployment failed")
                pending.clear()
                return True
            return False

        while pending:
            for task in list(pending):
                verdict = self.healthy(task, health_url)
                if verdict is True:
                    pending.remove(task)
                    healthy.append(task)
                    if on_healthy is not None:
                        on_healthy(task)
                elif verdict is False:
                    logs = subprocess.run(  # noqa: S603
                        ["docker", "logs", "--tail", "5", task.container],  # noqa: S607
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    tail = (logs.stdout + logs.stderr).strip()[-600:]
                    if fail(task, f"task {task.container} stopped or failed its health check: {tail}"):
                        return healthy
            if pending and time.monotonic() > deadline:
                for task in list(pending):
                    if fail(task, f"task {task.container} failed the health check for {timeout:.0f}s"):
                        return healthy
            if pending:
                time.sleep(0.5)
        return healthy

    def stop(self, tasks: list[Task], why: str) -> None:
        for task in tasks:
            run(["docker", "rm", "-f", "--volumes", task.container], check=False)
            self.changed(f"stopped task {task.container} ({why})")

    def down(self) -> list[str]:
        """Stop the cluster's tasks; without a cluster, every task of the local cloud."""
        self.stop(self.tasks(), "teardown")
        return self.changes


# --------------------------------------------------------------------------- the scheduler


@dataclass(frozen=True)
class ServiceKey:
    account: str
    region: str
    cluster: str
    name: str


class ServiceWorker(threading.Thread):
    """Keeps one service's tasks as its deployments say, until the service is deleted."""

    def __init__(self, scheduler: Scheduler, key: ServiceKey) -> None:
        super().__init__(name=f"ecs-{key.cluster}-{key.name}", daemon=True)
        self.scheduler = scheduler
        self.key = key
        self.wake = threading.Event()
        self.wake.set()

    def run(self) -> None:
        while not self.scheduler.stopping.is_set():
            self.wake.wait(timeout=30)
            self.wake.clear()
            if self.scheduler.stopping.is_set():
                return
            try:
                if not self.reconcile():
                    return
            except Exception:
                LOG.exception("service %s: reconcile failed; retrying", self.key.name)
                time.sleep(2)
                self.wake.set()

    # -- model ---------------------------------------------------------------
    def describe(self) -> dict[str, Any] | None:
        ecs = self.scheduler.plane(self.key.region)._client("ecs")
        found = ecs.describe_services(cluster=self.key.cluster, services=[self.key.name])["services"]
        return found[0] if found else None

    def update(self, change: Any) -> None:
        """Apply ``change(svc)`` to moto's service under the shared lock."""
        with models.LOCK:
            svc = models.service(self.key.account, self.key.region, self.key.cluster, self.key.name)
            if svc is not None:
                change(svc)

    def drain_left(self) -> float:
        """Seconds a deleted service still drains (0 without the fidelity)."""
        with models.LOCK:
            svc = models.service(self.key.account, self.key.region, self.key.cluster, self.key.name)
            until = float(getattr(svc, "_lc_drained_at", 0.0)) if svc is not None else 0.0
        return max(until - fidelity.now(), 0.0)

    # -- reconcile -----------------------------------------------------------
    def reconcile(self) -> bool:
        """One pass; False when the service is gone (its tasks stopped)."""
        ecs = Ecs(self.scheduler.plane(self.key.region), self.key.cluster)
        svc = self.describe()
        mine = [t for t in ecs.tasks() if t.service == self.key.name]
        if svc is None or svc.get("status") != "ACTIVE":
            ecs.stop(mine, "service deleted")
            self.scheduler.targets_changed(self.key.region)
            left = self.drain_left()
            if left > 0:  # DRAINING for as long as AWS takes to stop the tasks
                timer = threading.Timer(left, self.wake.set)
                timer.daemon = True
                timer.start()
                return True
            self.update(lambda s: setattr(s, "status", "INACTIVE") if s.status == "DRAINING" else None)
            return False
        wanted_td = svc["taskDefinition"]
        desired = int(svc["desiredCount"])
        dead = [t for t in mine if t.state not in ("running", "restarting")]
        ecs.stop(dead, "exited; the service replaces it")
        current = [t for t in mine if t.state in ("running", "restarting") and t.task_definition == wanted_td]
        old = [t for t in mine if t.state in ("running", "restarting") and t.task_definition != wanted_td]
        settled = [d.get("rolloutState") for d in svc.get("deployments", [])] == ["COMPLETED"]
        if settled and not dead and not old and len(current) == desired:
            return True  # a periodic look with nothing to do: no more calls
        primary = next((d for d in svc.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        if primary.get("rolloutState") == "FAILED":
            return True  # a failed deployment launches no more tasks (and no rollback was possible)
        lbs = svc.get("loadBalancers", [])
        health_url, verdict_after = self.health_rule(svc, lbs)
        ecs.health_source = self.health_source(ecs.plane, lbs)
        if len(current) > desired:
            ecs.stop(current[desired:], f"scale in to {desired}")
            current = current[:desired]
        if len(current) < desired:
            taskdef = ecs.client("ecs").describe_task_definition(taskDefinition=wanted_td)["taskDefinition"]
            vpc_config = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
            subnets, groups = vpc_config.get("subnets", []), vpc_config.get("securityGroups", [])
            target_group = lbs[0]["targetGroupArn"] if lbs else ""
            tripped = False

            def failure(task: Task | None, why: str) -> bool:
                nonlocal tripped
                tripped = self.task_failed(svc, old, task, why, target_group)
                return tripped

            started = []
            for _ in range(desired - len(current)):
                try:
                    name, ip, _rc = ecs.start(
                        taskdef,
                        subnets,
                        service=self.key.name,
                        security_groups=groups,
                        task_arn=ecs.new_task_arn(self.key.account),
                    )
                except TaskStartError as exc:  # STOPPED before it ran: a failed task of the deployment
                    LOG.warning("service %s: task failed to start: %s", self.key.name, exc)
                    if failure(None, str(exc)):
                        ecs.stop(started, "its deployment failed")
                        self.update(lambda s: self.counts(s, len(current), len(old)))
                        return self.after_failures(svc, old, tripped=True)
                    continue
                started.append(Task(name, self.key.name, wanted_td, ip, "running", time.time()))
                ecs.changed(f"started task {name} of {wanted_td.rsplit('/', 1)[1]} at {ip}")
            # ECS counts a task as running once its container runs, before the load balancer finds it
            # healthy: counts alone never prove a rollout done (its rolloutState does).
            self.update(lambda s: self.counts(s, len(current) + len(started), len(old)))
            healthy = ecs.wait_healthy(
                started, health_url, verdict_after, failure, lambda _task: self.task_healthy(svc)
            )
            current += healthy
            if len(current) < desired:  # some failed: replaced on the next pass, as ECS does
                self.update(lambda s: self.counts(s, len(current), len(old)))
                return self.after_failures(svc, old, tripped=tripped)
        if lbs:
            draining = self.scheduler.register_targets(self.key.region, lbs[0], [t.ip for t in current])
            if old and draining:  # ECS stops a replaced task once its target has drained
                time.sleep(draining)
        ecs.stop(old, "replaced by the new revision")
        self.update(lambda s: self.completed(s, len(current)))
        return True

    @staticmethod
    def health_source(plane: DataPlane, lbs: list[dict[str, Any]]) -> str:
        """The source address of the load balancer in front of the service ('' without one)."""
        if not lbs:
            return ""
        elb = plane._client("elbv2")
        tg = elb.describe_target_groups(TargetGroupArns=[lbs[0]["targetGroupArn"]])["TargetGroups"][0]
        arns = tg.get("LoadBalancerArns", [])
        names = {lb["LoadBalancerName"] for lb in elb.describe_load_balancers(LoadBalancerArns=arns)["LoadBalancers"]}
        for lb in plane.balancer_addresses() if arns else []:
            if lb.key.split(":", 1)[1] in names:
                plane.ensure_address(lb.vpc_id, lb.vpc_cidr, lb.address, lb.key)
                return lb.address
        return ""

    def health_rule(self, svc: dict[str, Any], lbs: list[dict[str, Any]]) -> tuple[str | None, float]:
        """The health URL of a service behind a target group, and how long a task gets to pass:
        the grace period, then the target group's unhealthy threshold of intervals (scaled)."""
        if not lbs:
            return None, timing.scaled(120, floor=30)
        elb = self.scheduler.plane(self.key.region)._client("elbv2")
        tg = elb.describe_target_groups(TargetGroupArns=[lbs[0]["targetGroupArn"]])["TargetGroups"][0]
        url = f"http://{{ip}}:{lbs[0]['containerPort']}{tg.get('HealthCheckPath', '/')}"
        grace = float(svc.get("healthCheckGracePeriodSeconds") or 0)
        window = grace + float(tg.get("HealthCheckIntervalSeconds", 30)) * int(tg.get("UnhealthyThresholdCount", 2))
        return url, timing.scaled(window, floor=10)

    @staticmethod
    def counts(svc: Any, running: int, others: int) -> None:
        """``running`` tasks of the PRIMARY deployment, ``others`` of the older ones."""
        deployment = models.primary(svc)
        if deployment is not None:
            pending = max(svc.desired_count - running, 0)
            deployment.update(runningCount=running, pendingCount=pending, desiredCount=svc.desired_count)
            deployment["updatedAt"] = models.now()
        svc.running_count = running + others
        svc.pending_count = max(svc.desired_count - running, 0)

    def completed(self, svc: Any, running: int) -> None:
        deployment = models.primary(svc)
        was_done = deployment is not None and deployment.get("rolloutState") == "COMPLETED"
        if deployment is not None:
            deployment.update(runningCount=running, pendingCount=0, desiredCount=svc.desired_count)
            if not was_done:
                deployment["rolloutState"] = "COMPLETED"
                deployment["rolloutStateReason"] = f"ECS deployment {deployment['id']} completed."
                deployment["updatedAt"] = models.now()
        # Drained deployments leave the list, as on AWS (a failed one after a short while, so a
        # client polling the rollout can see it).
        svc.deployments = [
            d
            for d in svc.deployments
            if d.get("status") == "PRIMARY"
            or (d.get("rolloutState") == "FAILED" and (models.now() - d["updatedAt"]).total_seconds() < 30)
        ]
        svc.running_count = running
        svc.pending_count = 0
        if not was_done:
            models.event(svc, "has reached a steady state.")

    @staticmethod
    def breaker(svc: dict[str, Any]) -> dict[str, Any]:
        return dict((svc.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {})

    def task_failed(self, svc: dict[str, Any], old: list[Task], task: Task | None, why: str, target_group: str) -> bool:
        """One task of the PRIMARY deployment failed (``task`` None: it never started). ECS counts each
        in the deployment's ``failedTasks``; at the circuit breaker's threshold (``breaker_threshold``)
        the deployment is FAILED and, with rollback, the service goes back to the revision still
        running. True when the breaker tripped. Events in ECS's words; why, in the local cloud's log
        (and, for a task that could not start, its stopped reason in the event, as ECS gives it)."""
        breaker = self.breaker(svc)
        previous = old[0].task_definition if old else ""
        threshold = breaker_threshold(int(svc.get("desiredCount", 0)), breaker)
        tripped = False

        def change(model: Any) -> None:
            nonlocal tripped
            deployment = models.primary(model)
            if deployment is None:
                return
            count = int(deployment.get("failedTasks", 0)) + 1
            deployment["failedTasks"] = count
            deployment["updatedAt"] = models.now()
            if task is None:
                models.event(model, f"failed to launch a task: {why[:1000]}")
            elif target_group:
                models.event(
                    model, f"(task {task.container}) failed ELB health checks in (target-group {target_group})"
                )
            else:
                models.event(model, f"(task {task.container}) failed container health checks.")
            if not breaker.get("enable") or count < threshold:
                return
            tripped = True
            deployment["rolloutState"] = "FAILED"
            deployment["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
            models.event(model, f"(deployment {deployment['id']}) deployment failed: tasks failed to start.")
            if breaker.get("rollback") and previous:
                model.task_definition = previous
                rollback = models.start_deployment(
                    model,
                    reason="ECS deployment circuit breaker: rolling back to the revision before "
                    f"deployment {deployment['id']}.",
                )
                deployment["status"] = "ACTIVE"
                models.event(model, f"rolling back to {previous.rsplit('/', 1)[1]} (deployment {rollback['id']}).")

        self.update(change)
        LOG.warning("service %s: a task failed (threshold %d, tripped %s): %s", self.key.name, threshold, tripped, why)
        return tripped

    def task_healthy(self, svc: dict[str, Any]) -> None:
        """A new task passed its health checks: with ``resetOnHealthyTask`` (ECS's default) the
        deployment's failed task count starts again from 0."""
        if self.breaker(svc).get("resetOnHealthyTask", True) is False:
            return

        def change(model: Any) -> None:
            deployment = models.primary(model)
            if deployment is not None and deployment.get("failedTasks"):
                deployment["failedTasks"] = 0

        self.update(change)

    def after_failures(self, svc: dict[str, Any], old: list[Task], *, tripped: bool) -> bool:
        """Next pass after failed tasks: at once onto a rollback, else after ECS's back-off."""
        if tripped and self.breaker(svc).get("rollback") and old:
            self.wake.set()  # converge on the rollback deployment at once
        else:
            time.sleep(timing.scaled(30, floor=2) if tripped or not self.breaker(svc).get("enable") else 1.0)
            self.wake.set()
        return True


class Scheduler:
    """The ECS scheduler and the one-off task runner of one local cloud."""

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self.stopping = threading.Event()
        self.workers: dict[ServiceKey, ServiceWorker] = {}
        self.lock = threading.Lock()
        self.checked_targets: set[str] = set()  # ip:port the scheduler health-checked before registering

    def plane(self, region: str) -> DataPlane:
        return self.controller.plane(region)

    def service_changed(self, key: ServiceKey) -> None:
        with self.lock:
            worker = self.workers.get(key)
            if worker is None or not worker.is_alive():
                worker = ServiceWorker(self, key)
                self.workers[key] = worker
                worker.start()
            worker.wake.set()

    def sweep(self) -> None:
        """Wake every worker: crashed tasks are replaced, deleted services cleaned up."""
        with self.lock:
            for worker in self.workers.values():
                worker.wake.set()

    def register_targets(self, region: str, lb: dict[str, Any], ips: list[str]) -> float:
        """Point the service's target group at exactly these task IPs, then let the listener follow;
        the seconds the deregistered targets drain (the target group's deregistration delay, scaled)."""
        elb = self.plane(region)._client("elbv2")
        arn, port = lb["targetGroupArn"], int(lb["containerPort"])
        current = {
            d["Target"]["Id"] for d in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        }
        if new := sorted(set(ips) - current):
            # The scheduler checked these tasks' health itself: the listener puts them in rotation at once.
            self.checked_targets.update(f"{ip}:{port}" for ip in new)
            elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": ip, "Port": port} for ip in new])
            self.targets_changed(region, wait=True)
        if stale := sorted(current - set(ips)):
            elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": ip, "Port": port} for ip in stale])
            self.targets_changed(region, wait=True)
            attributes = elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
            return deregistration_delay({a["Key"]: a["Value"] for a in attributes})
        return 0.0

    def targets_changed(self, region: str, *, wait: bool = False) -> None:
        self.controller.balancers_changed(region, wait=wait)

    def run_tasks(self, account: str, region: str, cluster: str, arns: list[str], params: dict[str, Any]) -> None:
        for arn in arns:
            threading.Thread(
                target=self.one_off, args=(account, region, cluster, arn, params), name=f"task-{arn[-8:]}", daemon=True
            ).start()

    def one_off(self, account: str, region: str, cluster: str, arn: str, params: dict[str, Any]) -> None:
        """Run a RunTask task's container to its end; DescribeTasks follows it."""
        ecs = Ecs(self.plane(region), cluster.rsplit("/", 1)[-1])

        def status(value: str, **kwargs: Any) -> None:
            with models.LOCK:
                tsk = models.task(account, region, cluster, arn)
                if tsk is not None:
                    models.set_task_status(tsk, value, **kwargs)

        try:
            taskdef = ecs.client("ecs").describe_task_definition(taskDefinition=params["taskDefinition"])[
                "taskDefinition"
            ]
            vpc_config = params.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
            subnets = vpc_config.get("subnets", [])
            overrides = (params.get("overrides") or {}).get("containerOverrides") or [{}]
            override = overrides[0]
            status("PENDING")
            status("RUNNING")
            _name, _ip, code = ecs.start(
                taskdef,
                subnets,
                service="",
                container_name=override.get("name", ""),
                command=override.get("command"),
                detach=False,
                security_groups=vpc_config.get("securityGroups", []),
                task_arn=arn,
            )
            status("STOPPED", exit_code=code, reason="Essential container in task exited")
            LOG.info("one-off task %s exited %d", arn.rsplit("/", 1)[-1], code)
        except TaskStartError as exc:
            LOG.warning("one-off task %s failed to start: %s", arn, exc)
            status("STOPPED", reason=str(exc))
        except Exception as exc:
            LOG.exception("one-off task %s could not run", arn)
            status("STOPPED", exit_code=1, reason=f"CannotStartContainerError: {str(exc)[:200]}")

    def stop(self) -> None:
        self.stopping.set()
        self.sweep()


def push(plane: DataPlane, repository: str, image: str, tag: str) -> str:
    """Record the local image in the emulator's ECR repository and tag it with the repository URI."""
    info = json.loads(run(["docker", "image", "inspect", image]))[0]
    ecr = plane._client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
    target = f"{repo['repositoryUri']}:{tag}"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": int(info["Size"]),
                "digest": info["Id"],
            },
            "layers": [
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "size": 0, "digest": layer}
                for layer in info.get("RootFS", {}).get("Layers", [])
            ],
        },
        sort_keys=True,
    )
    messages = []
    if target not in json.loads(run(["docker", "image", "inspect", "--format", "{{json .RepoTags}}", image])):
        run(["docker", "tag", image, target])
        messages.append(f"changed: tagged {image} as {target} in the local engine")
    found = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])["images"]
    if found and json.loads(found[0]["imageManifest"]) != json.loads(manifest):
        raise LocalCloudError(
            f"tag {tag} of {repository} already names another image; the repository's tags are immutable"
        )
    if not found:
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
        messages.append(f"changed: recorded {target} in ECR (image {info['Id']})")
    return "\n".join(messages) or f"ok: {target} already in ECR"
