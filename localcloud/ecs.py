"""The local cloud's ECS and ALB data plane: ECS services become containers, an ALB a local listener.

``python -m localcloud.ecs push|sync|run-task|down ...`` (see ``--help``):

* ``push``: "pushing" an image locally means two things, since there is no registry: the
  image built into the project's Docker engine is tagged ``<repositoryUri>:<tag>`` there (the
  name the task definition uses), and its manifest is recorded in the emulator's ECR
  repository with PutImage, so ECR lists it with its digest and tag rules (immutable tags) apply.
* ``sync``: for every service of the cluster, run the service's desired count of tasks of its
  current task definition as containers on the Docker network of the service's VPC (the one
  ``localcloud.dataplane`` creates for the test hosts), with exactly the environment and
  secrets the task definition names, secrets resolved from Secrets Manager / SSM as the ECS
  agent would. Rolling update: new tasks start, must pass their health check (the target
  group's health path for a service behind a target group, else the container health check),
  then join the listener and the old tasks stop. When a new revision fails, its tasks are
  removed, the old ones keep serving and the service is rolled back to the previous revision
  in the emulator (the deployment circuit breaker's rollback); sync then exits 3.
  A service behind a target group gets a local listener (``localcloud.alb``) on 127.0.0.1.
* ``run-task``: one task of a task definition with a command override, in the foreground;
  its exit code is ours (the one-off migration task; the emulator's RunTask fails for awsvpc).
* ``down``: remove the cluster's containers and listeners.

Every line that reports a change starts with ``changed:``. Only containers labelled with this
emulator's endpoint are touched.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.dataplane import EMULATOR_HOSTNAME, LABEL, DataPlane, live_pid, network_gateway, run, spawn
from localcloud.emulator import Emulator, LocalCloudError

ROOT = Path(__file__).resolve().parent.parent
ECS_LABEL = f"{LABEL}.ecs"
ROLLED_BACK = 3


class DeploymentFailed(LocalCloudError):
    """A new revision failed its health checks (the old one, if any, keeps serving)."""


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
        f"{check.get('interval', 30)}s",
        "--health-timeout",
        f"{check.get('timeout', 5)}s",
        "--health-retries",
        str(check.get("retries", 3)),
        "--health-start-period",
        f"{check.get('startPeriod', 0)}s",
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
    plane: DataPlane
    cluster: str
    listen_port: int = 0
    timeout: float = 180.0
    changes: list[str] = field(default_factory=list)
    # What tasks started by one command share (the network of their subnets, the database names
    # and forwarders): set up once per command, not once per task.
    _networks: dict[tuple[str, ...], tuple[str, str, str]] = field(default_factory=dict, repr=False)
    _database_hosts: dict[str, list[str]] = field(default_factory=dict, repr=False)

    # -- helpers -------------------------------------------------------------
    def changed(self, message: str) -> None:
        self.changes.append(message)
        print(f"changed: {message}", flush=True)

    def client(self, service: str) -> Any:
        return self.plane._client(service)

    @property
    def run_dir(self) -> Path:
        return self.plane.run_dir

    def labels(self, **extra: str) -> list[str]:
        # Labels of our own: localcloud.dataplane removes every container carrying its endpoint label
        # that is not a test host.
        labels = {f"{ECS_LABEL}.endpoint": self.plane.endpoint, f"{ECS_LABEL}.cluster": self.cluster, **extra}
        return [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]

    def tasks(self) -> list[Task]:
        """The task containers of this cluster (of every cluster of the emulator without one)."""
        filters = ["--filter", f"label={ECS_LABEL}.endpoint={self.plane.endpoint}"]
        if self.cluster:
            filters += ["--filter", f"label={ECS_LABEL}.cluster={self.cluster}"]
        out = run(["docker", "ps", "-a", "--no-trunc", "--format", "{{.Names}}", *filters])
        names = [n for n in out.split() if n]
        if not names:
            return []
        found = json.loads(run(["docker", "inspect", *names]))
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
        """What the ECS agent gives the container: its environment, its secrets, credentials, region."""
        env = {e["name"]: str(e["value"]) for e in container.get("environment", [])}
        for secret in container.get("secrets", []):
            env[secret["name"]] = self.resolve_secret(secret["valueFrom"])
        # The task role's credentials (the agent's credentials endpoint on AWS) and the region.
        env.setdefault("AWS_ACCESS_KEY_ID", os.environ.get("LOCALCLOUD_ACCESS_KEY", "testing"))
        env.setdefault("AWS_SECRET_ACCESS_KEY", os.environ.get("LOCALCLOUD_SECRET_KEY", "testing"))
        env.setdefault("AWS_REGION", self.plane.region)
        env.setdefault("AWS_DEFAULT_REGION", self.plane.region)
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
        """--add-host flags and forwarders for every database of the project (names → gateway)."""
        if gateway in self._database_hosts:
            return self._database_hosts[gateway]
        databases = self.plane.desired_databases()
        flags: list[str] = []
        if databases:
            pg_env = self.plane.pg_env()
            pg_port = int(pg_env.get("PGPORT", "55432"))
            for db in databases:
                # The master secret may name a role another stack's secret also names: make sure it
                # takes this emulator's password before the command's first task starts.
                self.plane.ensure_database(pg_env, db)
                self.plane.ensure_proxy(gateway, db.port, pg_port)
                for name in db.names:
                    flags += ["--add-host", f"{name}:{gateway}"]
        self._database_hosts[gateway] = flags
        return flags

    def docker_run(
        self,
        taskdef: dict[str, Any],
        subnets: list[str],
        *,
        service: str,
        command: list[str] | None = None,
        detach: bool = True,
        container_name: str = "",
    ) -> tuple[str, str, int]:
        """Run the task's (first essential) container; return (container name, ip, exit code if not detached)."""
        container = next(
            (c for c in taskdef["containerDefinitions"] if c.get("essential", True)), taskdef["containerDefinitions"][0]
        )
        if container_name:
            container = next(c for c in taskdef["containerDefinitions"] if c["name"] == container_name)
        network, gateway, cidr = self.network_for(subnets)
        used = {t.ip for t in self.tasks()}
        inspect = json.loads(run(["docker", "network", "inspect", network]))[0]
        used |= {c["IPv4Address"].split("/")[0] for c in inspect.get("Containers", {}).values()}
        ip = free_address(cidr, used)
        family_rev = taskdef["taskDefinitionArn"].rsplit("/", 1)[1].replace(":", "-")
        name = f"lc{self.plane.scope}-ecs-{family_rev}-{secrets.token_hex(3)}"
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
        env_dir = self.run_dir / "env"
        env_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        env_file = env_dir / f"{name}.env"
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            for key, value in self.container_env(container).items():
                out.write(f"{key}={value}\n")
        # A service task that exits is replaced by the scheduler: the restart policy stands in for it.
        argv = [
            "docker",
            "run",
            *(["--detach", "--restart", "on-failure"] if detach else ["--rm"]),
            "--env-file",
            str(env_file),
            *flags,
            container["image"],
        ]
        argv += command if command is not None else list(container.get("command") or [])
        try:
            if detach:
                run(argv)
                return name, ip, 0
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
            if proc.returncode != 0:
                sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
            return name, ip, proc.returncode
        finally:
            env_file.unlink(missing_ok=True)

    # -- health ----------------------------------------------------------------
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

    def wait_healthy(self, tasks: list[Task], health_url: str | None) -> str:
        """'' when every task is healthy, else why not (a container log tail)."""
        deadline = time.monotonic() + self.timeout
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
                return f"tasks {', '.join(t.container for t in pending)} not healthy within {self.timeout:.0f}s"
            if pending:
                time.sleep(1)
        return ""

    # -- listener ----------------------------------------------------------------
    def alb_state_file(self, target_group: str) -> Path:
        return self.run_dir / f"alb-{target_group}.json"

    def alb_pid_file(self) -> Path:
        return self.run_dir / f"alb-{self.listen_port}.pid"

    def alb_pid(self) -> int | None:
        return live_pid(self.alb_pid_file(), b"localcloud.alb")

    def write_targets(self, target_group: str, targets: list[str], health_path: str) -> None:
        path = self.alb_state_file(target_group)
        path.parent.mkdir(parents=True, exist_ok=True)
        wanted = {"targets": sorted(targets), "healthy": sorted(targets), "health_path": health_path}
        current = json.loads(path.read_text()) if path.exists() else None
        if current != wanted:
            path.write_text(json.dumps(wanted) + "\n")
            self.changed(f"listener targets of {target_group}: {', '.join(sorted(targets)) or 'none'}")

    def ensure_listener(self, target_group: str) -> None:
        if self.listen_port <= 0 or self.alb_pid() is not None:
            return
        pid = spawn(
            "localcloud.alb",
            ["127.0.0.1", str(self.listen_port), str(self.alb_state_file(target_group))],
            self.alb_pid_file(),
            f"the local listener on 127.0.0.1:{self.listen_port}",
            settle=0.5,
        )
        self.changed(f"listener http://127.0.0.1:{self.listen_port} for {target_group} (pid {pid})")

    def register_targets(self, tg_arn: str, port: int, ips: list[str]) -> None:
        elb = self.client("elbv2")
        current = {
            d["Target"]["Id"] for d in elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
        }
        if stale := sorted(current - set(ips)):
            elb.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": ip, "Port": port} for ip in stale])
        if new := sorted(set(ips) - current):
            elb.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": ip, "Port": port} for ip in new])

    # -- verbs -------------------------------------------------------------------
    def stop(self, tasks: list[Task], why: str) -> None:
        for task in tasks:
            run(["docker", "rm", "-f", task.container])
            self.changed(f"stopped task {task.container} ({why})")

    def sync_service(self, svc: dict[str, Any]) -> str:
        """Reconcile one service; return '' or the reason its deployment failed."""
        ecs = self.client("ecs")
        name = svc["serviceName"]
        wanted_td = svc["taskDefinition"]
        mine = [t for t in self.tasks() if t.service == name]
        dead = [t for t in mine if t.state != "running"]
        self.stop(dead, "exited; the service replaces it")
        current = [t for t in mine if t.state == "running" and t.task_definition == wanted_td]
        old = [t for t in mine if t.state == "running" and t.task_definition != wanted_td]
        taskdef = ecs.describe_task_definition(taskDefinition=wanted_td)["taskDefinition"]
        subnets = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("subnets", [])
        lbs = svc.get("loadBalancers", [])
        health_url = None
        tg: dict[str, Any] = {}
        if lbs:
            tg = self.client("elbv2").describe_target_groups(TargetGroupArns=[lbs[0]["targetGroupArn"]])[
                "TargetGroups"
            ][0]
            health_url = f"http://{{ip}}:{lbs[0]['containerPort']}{tg.get('HealthCheckPath', '/')}"
        desired = int(svc["desiredCount"])
        if len(current) > desired:
            self.stop(current[desired:], f"scale in to {desired}")
            current = current[:desired]
        if len(current) < desired:
            started = []
            for _ in range(desired - len(current)):
                cname, ip, _rc = self.docker_run(taskdef, subnets, service=name)
                started.append(Task(cname, name, wanted_td, ip, "running", time.time()))
                self.changed(f"started task {cname} of {wanted_td.rsplit('/', 1)[1]} at {ip}")
            failure = self.wait_healthy(started, health_url)
            if failure:
                self.stop(started, "failed deployment")
                if old:
                    previous = old[0].task_definition
                    ecs.update_service(cluster=self.cluster, service=name, taskDefinition=previous)
                    self.changed(f"rolled {name} back to {previous.rsplit('/', 1)[1]}")
                    return (
                        f"deployment of {wanted_td.rsplit('/', 1)[1]} to {name} failed ({failure}); "
                        f"rolled back to {previous.rsplit('/', 1)[1]}, which keeps serving"
                    )
                return f"deployment of {wanted_td.rsplit('/', 1)[1]} to {name} failed: {failure}"
            current += started
        if lbs:
            ips = [t.ip for t in current]
            self.write_targets(
                tg["TargetGroupName"], [f"{ip}:{lbs[0]['containerPort']}" for ip in ips], tg.get("HealthCheckPath", "/")
            )
            self.register_targets(lbs[0]["targetGroupArn"], int(lbs[0]["containerPort"]), ips)
            self.ensure_listener(tg["TargetGroupName"])
            if old:
                time.sleep(1)  # the listener re-reads its targets before the old tasks go
        self.stop(old, "replaced by the new revision")
        return ""

    def sync(self) -> list[str]:
        ecs = self.client("ecs")
        arns = [
            a for page in ecs.get_paginator("list_services").paginate(cluster=self.cluster) for a in page["serviceArns"]
        ]
        services = ecs.describe_services(cluster=self.cluster, services=arns)["services"] if arns else []
        services = [s for s in services if s.get("status") == "ACTIVE"]
        failures = [f for f in (self.sync_service(s) for s in services) if f]
        wanted = {s["serviceName"] for s in services}
        self.stop([t for t in self.tasks() if t.service not in wanted and t.service], "service deleted")
        if not any(s.get("loadBalancers") for s in services):
            self.stop_listener()
        if failures:
            raise DeploymentFailed("; ".join(failures))
        return self.changes

    def stop_listener(self, pid_file: Path | None = None) -> None:
        """Stop this cluster's listener (or the one ``pid_file`` names)."""
        pid_file = pid_file or self.alb_pid_file()
        pid = live_pid(pid_file, b"localcloud.alb")
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            self.changed(f"stopped listener 127.0.0.1:{pid_file.stem.split('-', 1)[1]} (pid {pid})")
        pid_file.unlink(missing_ok=True)

    def run_task(self, task_definition: str, container: str, command: list[str], subnets: list[str]) -> int:
        taskdef = self.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
        name, _ip, code = self.docker_run(
            taskdef, subnets, service="", command=command, detach=False, container_name=container
        )
        print(
            f"changed: one-off task {name} ({task_definition.rsplit('/', 1)[1]} {' '.join(command)}) exited {code}",
            flush=True,
        )
        return code

    def down(self) -> list[str]:
        """Stop the cluster's tasks and its listener; without a cluster, every task and listener
        of the emulator (what an interrupted run left, too)."""
        self.stop(self.tasks(), "teardown")
        if self.cluster:
            self.stop_listener()
        else:
            for pid_file in sorted(self.run_dir.glob("alb-*.pid")) if self.run_dir.is_dir() else []:
                self.stop_listener(pid_file)
        for state in self.run_dir.glob("alb-*.json") if self.run_dir.is_dir() else []:
            state.unlink()
        return self.changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud.ecs",
        epilog="run-task: the command override follows --",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=["push", "sync", "run-task", "down"])
    parser.add_argument("--endpoint", default="", help="emulator URL (default: from LOCALCLOUD_PORT)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "eu-west-1"))
    parser.add_argument("--project", default="resume")
    parser.add_argument("--cluster", default="", help="ECS cluster name (sync, run-task, down)")
    parser.add_argument("--listen-port", type=int, default=0, help="local port of the ALB's stand-in (sync, down)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds new tasks get to become healthy (sync)")
    parser.add_argument("--repository", default="", help="ECR repository name (push)")
    parser.add_argument("--image", default="", help="local image to push (push)")
    parser.add_argument("--tag", default="", help="image tag (push)")
    parser.add_argument("--task-definition", default="", help="family:revision or ARN (run-task)")
    parser.add_argument("--container", default="", help="container name (run-task)")
    parser.add_argument("--subnets", default="", help="comma-separated subnet ids (run-task)")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.command = command
    state_dir = Path(os.environ.get("LOCALCLOUD_DATAPLANE_DIR", ROOT / ".state" / "dataplane"))
    try:
        endpoint = args.endpoint or Emulator.from_env(ROOT).endpoint
        plane = DataPlane(endpoint=endpoint.rstrip("/"), region=args.region, project=args.project, state_dir=state_dir)
        if args.action == "push":
            print(push(plane, args.repository, args.image, args.tag))
            return 0
        ecs = Ecs(plane, args.cluster, listen_port=args.listen_port, timeout=args.timeout)
        if args.action == "sync":
            ecs.sync()
        elif args.action == "run-task":
            return ecs.run_task(
                args.task_definition, args.container, args.command, [s for s in args.subnets.split(",") if s]
            )
        else:
            ecs.down()
        print(f"localcloud ecs {args.action}: {len(ecs.changes)} change(s)")
    except DeploymentFailed as exc:
        print(f"failed: {exc}", flush=True)
        print(f"localcloud ecs: {exc}", file=sys.stderr)
        return ROLLED_BACK
    except LocalCloudError as exc:
        print(f"localcloud ecs: {exc}", file=sys.stderr)
        return 2
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
