"""The local cloud's ECS: services and one-off tasks as containers, run the way ECS runs them.

The controller calls in here when an API call changed ECS (``localcloud.controller``):

* a service: one worker thread per service keeps the service's desired count of tasks of its
  PRIMARY deployment running as containers on the Docker network of the service's VPC (the one
  ``localcloud.dataplane`` gives the test hosts), with exactly the environment and secrets the task
  definition names, secrets resolved from Secrets Manager / SSM as the ECS agent would, and the
  task role's stand-in credentials and the endpoint. A rolling update starts the new tasks, waits
  until they pass the target group's health check (the container health check for a service
  without one), registers them as targets, then stops the old tasks: the deployment goes
  IN_PROGRESS -> COMPLETED in DescribeServices, with running and pending counts. When the new
  tasks fail, the deployment circuit breaker (if the service has it) marks the deployment FAILED
  and rolls the service back to the previous revision, which keeps serving.
* a one-off task (RunTask, e.g. the migrations): its container runs with the command override;
  DescribeTasks shows it PROVISIONING, RUNNING, then STOPPED with the container's exit code.

Health checks run at AWS's intervals scaled by ``localcloud.timing``. Only containers labelled with
this local cloud's endpoint are touched. ``push`` records a locally built image in the emulator's
ECR (there is no registry here): ``python -m localcloud push``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from localcloud import fidelity, models, timing
from localcloud.dataplane import EMULATOR_HOSTNAME, LABEL, DataPlane, network_gateway, run
from localcloud.elb import deregistration_delay
from localcloud.emulator import LocalCloudError

LOG = logging.getLogger("localcloud.ecs")
ECS_LABEL = f"{LABEL}.ecs"


def secret_reference(value_from: str) -> tuple[str, str, str]:
    """(kind, id, json key) of a task definition's ``valueFrom``.

    ``arn:aws:secretsmanager:<region>:<acct>:secret:<name>[:<json-key>[:<stage>[:<version>]]]``
    or an SSM parameter ARN / name.
    """
    if value_from.startswith("arn:aws:secretsmanager:"):
        parts = value_from.split(":")
        return "secretsmanager", ":".join(parts[:7]), parts[7] if len(parts) > 7 else ""
    return "ssm", value_from, ""


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

    def resolve_secret(self, value_from: str) -> str:
        kind, ident, key = secret_reference(value_from)
        if kind == "ssm":
            return str(self.client("ssm").get_parameter(Name=ident, WithDecryption=True)["Parameter"]["Value"])
        raw = self.client("secretsmanager").get_secret_value(SecretId=ident)["SecretString"]
        if not key:
            return str(raw)
        value = json.loads(raw).get(key)
        if value is None:
            raise LocalCloudError(f"secret {ident} has no JSON key {key!r}")
        return str(value)

    def container_env(self, container: dict[str, Any]) -> dict[str, str]:
        """What the ECS agent gives the container: its environment, its secrets, credentials, region.
        The endpoint too: on AWS the SDK finds the regional endpoint by itself."""
        env = {e["name"]: str(e["value"]) for e in container.get("environment", [])}
        for secret in container.get("secrets", []):
            env[secret["name"]] = self.resolve_secret(secret["valueFrom"])
        env.setdefault("AWS_ACCESS_KEY_ID", os.environ.get("LOCALCLOUD_ACCESS_KEY", "testing"))
        env.setdefault("AWS_SECRET_ACCESS_KEY", os.environ.get("LOCALCLOUD_SECRET_KEY", "testing"))
        env.setdefault("AWS_REGION", self.plane.region)
        env.setdefault("AWS_DEFAULT_REGION", self.plane.region)
        env.setdefault("AWS_ENDPOINT_URL", f"http://{EMULATOR_HOSTNAME}:{self.plane.emulator_port}")
        return env

    def network_for(self, subnet_ids: list[str]) -> tuple[str, str, str]:
        """(docker network, gateway, subnet CIDR) of the task's first subnet; creates the network and forwarders."""
        key = tuple(subnet_ids[:1])
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
        """--add-host flags and forwarders for every database of the project (names -> gateway)."""
        if gateway in self._database_hosts:
            return self._database_hosts[gateway]
        databases = self.plane.desired_databases()
        flags: list[str] = []
        if databases:
            pg_env = self.plane.pg_env()
            pg_port = int(pg_env.get("PGPORT", "55432"))
            for db in databases:
                # The master secret may name a role another stack's secret also names: make sure it
                # takes this local cloud's password before the first task starts.
                self.plane.ensure_database(pg_env, db)
                self.plane.ensure_proxy(gateway, db.port, pg_port)
                for name in db.names:
                    flags += ["--add-host", f"{name}:{gateway}"]
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
    ) -> tuple[list[str], str, dict[str, str]]:
        """(docker run argv, task IP, environment) of the task's (first essential or named) container."""
        definitions = taskdef["containerDefinitions"]
        container = next((c for c in definitions if c.get("essential", True)), definitions[0])
        if container_name:
            container = next(c for c in definitions if c["name"] == container_name)
        network, gateway, cidr = self.network_for(subnets)
        used = {t.ip for t in self.tasks()}
        inspect = json.loads(run(["docker", "network", "inspect", network]))[0]
        used |= {c["IPv4Address"].split("/")[0] for c in inspect.get("Containers", {}).values()}
        ip = free_address(cidr, used)
        volumes = {v["name"] for v in taskdef.get("volumes", []) if not v.get("host", {}).get("sourcePath")}
        flags = ["--name", name, "--network", network, "--ip", ip, "--hostname", "ip-" + ip.replace(".", "-")]
        flags += ["--add-host", f"{EMULATOR_HOSTNAME}:{gateway}", *self.database_hosts(gateway)]
        if container.get("readonlyRootFilesystem"):
            flags.append("--read-only")
        for mount in container.get("mountPoints", []):
            if mount.get("sourceVolume") in volumes:  # Fargate task storage: empty, per task
                flags += ["--tmpfs", f"{mount['containerPath']}:rw,nosuid,nodev,mode=1777,size=64m"]
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
            }
        )
        # A service task that exits is replaced by the scheduler: the restart policy stands in for it.
        argv = ["docker", "run", *(["--detach", "--restart", "on-failure"] if detach else ["--rm"]), *flags]
        argv += [container["image"], *(command if command is not None else list(container.get("command") or []))]
        return argv, ip, self.container_env(container)

    def start(
        self,
        taskdef: dict[str, Any],
        subnets: list[str],
        *,
        service: str,
        container_name: str = "",
        command: list[str] | None = None,
        detach: bool = True,
    ) -> tuple[str, str, int]:
        """Run a task's container; return (container name, ip, exit code when not detached)."""
        time.sleep(fidelity.fargate_start_delay())  # PROVISIONING, PENDING: an ENI, the image pull
        family_rev = taskdef["taskDefinitionArn"].rsplit("/", 1)[1].replace(":", "-")
        name = f"lc{self.plane.scope}-ecs-{family_rev}-{secrets.token_hex(3)}"
        argv, ip, env = self.docker_argv(
            taskdef, subnets, service=service, name=name, container_name=container_name, command=command, detach=detach
        )
        env_dir = self.plane.run_dir / "env"
        env_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        env_file = env_dir / f"{name}.env"
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(f"{key}={value}\n" for key, value in env.items())
        argv[2:2] = ["--env-file", str(env_file)]
        try:
            if detach:
                run(argv)
                return name, ip, 0
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
            if proc.returncode != 0:
                LOG.warning("task %s exited %d: %s", name, proc.returncode, (proc.stdout + proc.stderr)[-2000:])
            return name, ip, proc.returncode
        finally:
            env_file.unlink(missing_ok=True)

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
                with urllib.request.urlopen(health_url.format(ip=task.ip), timeout=2) as resp:  # noqa: S310 - http to our container
                    return True if resp.status == 200 else None
            except (OSError, urllib.error.URLError):
                return None
        return True if health in ("healthy", None) else None

    def wait_healthy(self, tasks: list[Task], health_url: str | None, timeout: float) -> str:
        """'' when every task is healthy, else why not (a container log tail)."""
        deadline = time.monotonic() + timeout
        pending = list(tasks)
        while pending:
            for task in list(pending):
                verdict = self.healthy(task, health_url)
                if verdict is True:
                    pending.remove(task)
                elif verdict is False:
                    logs = subprocess.run(  # noqa: S603
                        ["docker", "logs", "--tail", "5", task.container],  # noqa: S607
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    tail = (logs.stdout + logs.stderr).strip()[-600:]
                    return f"task {task.container} stopped or failed its health check: {tail}"
            if pending and time.monotonic() > deadline:
                return f"tasks {', '.join(t.container for t in pending)} failed the health check for {timeout:.0f}s"
            if pending:
                time.sleep(0.5)
        return ""

    def stop(self, tasks: list[Task], why: str) -> None:
        for task in tasks:
            run(["docker", "rm", "-f", task.container], check=False)
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
        lbs = svc.get("loadBalancers", [])
        health_url, verdict_after = self.health_rule(svc, lbs)
        if len(current) > desired:
            ecs.stop(current[desired:], f"scale in to {desired}")
            current = current[:desired]
        if len(current) < desired:
            taskdef = ecs.client("ecs").describe_task_definition(taskDefinition=wanted_td)["taskDefinition"]
            subnets = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("subnets", [])
            started = []
            for _ in range(desired - len(current)):
                name, ip, _rc = ecs.start(taskdef, subnets, service=self.key.name)
                started.append(Task(name, self.key.name, wanted_td, ip, "running", time.time()))
                ecs.changed(f"started task {name} of {wanted_td.rsplit('/', 1)[1]} at {ip}")
            # ECS counts a task as running once its container runs, before the load balancer finds it
            # healthy: counts alone never prove a rollout done (its rolloutState does).
            self.update(lambda s: self.counts(s, len(current) + len(started), len(old)))
            failure = ecs.wait_healthy(started, health_url, verdict_after)
            if failure:
                ecs.stop(started, "failed its health check")
                self.update(lambda s: self.counts(s, len(current), len(old)))
                self.failed(svc, old, failure, len(started))
                return True
            current += started
        if lbs:
            draining = self.scheduler.register_targets(self.key.region, lbs[0], [t.ip for t in current])
            if old and draining:  # ECS stops a replaced task once its target has drained
                time.sleep(draining)
        ecs.stop(old, "replaced by the new revision")
        self.update(lambda s: self.completed(s, len(current)))
        return True

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

    def failed(self, svc: dict[str, Any], old: list[Task], failure: str, failed_tasks: int) -> None:
        """The new tasks failed: with the circuit breaker, roll back to the revision still running."""
        breaker = (svc.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
        previous = old[0].task_definition if old else ""

        def change(model: Any) -> None:
            deployment = models.primary(model)
            if deployment is None:
                return
            deployment["failedTasks"] = int(deployment.get("failedTasks", 0)) + failed_tasks
            deployment["updatedAt"] = models.now()
            if not breaker.get("enable"):
                models.event(model, f"task failed to start: {failure[:300]}")
                return
            deployment["rolloutState"] = "FAILED"
            deployment["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
            models.event(model, f"deployment {deployment['id']} failed: tasks failed to start. {failure[:300]}")
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
        LOG.warning("service %s: deployment failed: %s", self.key.name, failure)
        if breaker.get("enable") and breaker.get("rollback") and previous:
            self.wake.set()  # converge on the rollback deployment at once
        else:
            time.sleep(timing.scaled(30, floor=2))  # ECS retries failed tasks, not in a tight loop
            self.wake.set()


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
            subnets = params.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("subnets", [])
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
            )
            status("STOPPED", exit_code=code, reason="Essential container in task exited")
            LOG.info("one-off task %s exited %d", arn.rsplit("/", 1)[-1], code)
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
