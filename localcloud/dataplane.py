"""The local cloud's data plane: what the emulator only records, made real on this machine.

* Every running EC2 instance tagged with the project becomes a Docker container built
  from the base image of ``localcloud/images/`` (one Docker network per VPC, carrying the
  VPC's CIDR, internal: no route off this machine), reachable over SSH at the private IP the
  emulator gave it, with the public half of the emulator's key pair in ``authorized_keys``.
* Every database master secret of the project (JSON with engine/host/port/dbname/username/
  password) becomes a login role and a database on the local PostgreSQL cluster
  (``scripts/pg-local.sh``). The test hosts reach it under the secret's ``host`` name and the
  RDS endpoints through ``/etc/hosts`` entries pointing at the network's gateway, where a small
  TCP forwarder (``localcloud.dbproxy``) listens on the secret's port.

``sync`` reconciles all of it from the emulator's state and reports one ``changed:`` line per
action; the local cloud's controller (``localcloud.controller``) runs it whenever an API call
changed instances, secrets or databases. Only objects labelled with this emulator's endpoint are
ever touched.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from localcloud import firewall
from localcloud.emulator import DEFAULT_PORT as DEFAULT_EMULATOR_PORT
from localcloud.emulator import LocalCloudError

LOG = logging.getLogger("localcloud.dataplane")

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
IMAGE_DIR = PACKAGE_DIR / "images" / "debian-bookworm"
IMAGE_REPO = "resume-localcloud/debian-bookworm"
LABEL = "io.resume.localcloud"
# The name under which the test hosts reach the emulator (through a forwarder on the gateway).
EMULATOR_HOSTNAME = "aws.localcloud.internal"
HOSTS_BEGIN = "# BEGIN localcloud dataplane"
HOSTS_END = "# END localcloud dataplane"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PG_PORT_BASE = 56000  # clusters of non-default emulators: 56000-59999
PG_PORT_SPAN = 4000
PG_ENV_TTL = 60.0  # seconds a DataPlane trusts that its PostgreSQL cluster still runs
FIREWALL_LOCK = threading.Lock()  # the controller's threads sync the firewall one at a time


def run(
    argv: Sequence[str], *, check: bool = True, input_text: str | None = None, env: dict[str, str] | None = None
) -> str:
    """Run a command (never through a shell); return stdout, raise with stderr on failure."""
    proc = subprocess.run(  # noqa: S603 - argv lists built here, no shell
        list(argv), capture_output=True, text=True, input=input_text, env=env, check=False
    )
    if check and proc.returncode != 0:
        raise LocalCloudError(f"{' '.join(argv[:3])} ... failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    return proc.stdout


# --------------------------------------------------------------------------- image


def recipe_digest(image_dir: Path = IMAGE_DIR) -> str:
    """Hash of every file of the recipe: the image tag, so a changed recipe means a new image."""
    digest = hashlib.sha256()
    for path in sorted(p for p in image_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(image_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def image_tag(image_dir: Path = IMAGE_DIR) -> str:
    return f"{IMAGE_REPO}:{recipe_digest(image_dir)}"


def read_packages(image_dir: Path = IMAGE_DIR) -> list[str]:
    lines = (image_dir / "packages.txt").read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def image_exists(tag: str) -> bool:
    argv = ["docker", "image", "inspect", tag]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0  # noqa: S603 - fixed argv


def ensure_image(image_dir: Path = IMAGE_DIR, mirror: str = DEBIAN_MIRROR) -> tuple[str, bool]:
    """Build the base image unless the image of this recipe exists; return (tag, built)."""
    tag = image_tag(image_dir)
    if image_exists(tag):
        return tag, False
    if os.geteuid() != 0:
        raise LocalCloudError(
            "building the base image needs root (debootstrap); run scripts/dataplane-setup.sh as root"
        )
    with tempfile.TemporaryDirectory(prefix="localcloud-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        print(f"building base image {tag} (debootstrap bookworm, about two minutes)", file=sys.stderr, flush=True)
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror])
        for name in ("setup.sh", "packages.txt"):
            shutil.copy2(image_dir / name, rootfs / "tmp" / name)
        run(["chroot", str(rootfs), "/bin/sh", "/tmp/setup.sh"])  # noqa: S108 - /tmp of the new rootfs
        for name in ("setup.sh", "packages.txt"):
            (rootfs / "tmp" / name).unlink()
        shutil.copy2(image_dir / "entrypoint.sh", rootfs / "usr" / "local" / "sbin" / "localcloud-entrypoint")
        (rootfs / "usr" / "local" / "sbin" / "localcloud-entrypoint").chmod(0o755)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)  # noqa: S603, S607
        run_import = subprocess.run(  # noqa: S603
            [  # noqa: S607
                "docker",
                "import",
                "--change",
                'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/sbin/localcloud-entrypoint"]',
                "--change",
                f"LABEL {LABEL}.recipe={recipe_digest(image_dir)}",
                "-",
                tag,
            ],
            stdin=tar.stdout,
            capture_output=True,
            check=False,
        )
        tar.wait()
        if run_import.returncode != 0 or tar.returncode != 0:
            raise LocalCloudError(f"docker import failed: {run_import.stderr.decode().strip()}")
    return tag, True


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Instance:
    """A running emulated instance that should exist as a test host."""

    instance_id: str
    private_ip: str
    vpc_id: str
    vpc_cidr: str
    environment: str
    public_key: str
    name: str = ""
    security_groups: tuple[str, ...] = ()
    instance_profile_arn: str = ""

    @property
    def hostname(self) -> str:
        return "ip-" + self.private_ip.replace(".", "-")


@dataclass(frozen=True)
class Database:
    """A database master secret of the project, and every name the DB is reached under."""

    environment: str
    dbname: str
    username: str
    password: str = field(repr=False)
    port: int
    names: tuple[str, ...]
    # Where each name points: the endpoint's own address on the VPC network (its forwarder listens
    # there), or the RDS Proxy's. Names without an address point at the network's gateway.
    addresses: tuple[tuple[str, str], ...] = ()

    def address_of(self, name: str, default: str) -> str:
        return dict(self.addresses).get(name, default)


@dataclass(frozen=True)
class ServiceAddress:
    """An address the data plane owns on a VPC's Docker network for an AWS resource that has network
    interfaces of its own (a DB endpoint, an RDS Proxy, a load balancer), with their security groups."""

    key: str  # "db:<cluster>", "proxy:<name>", "alb:<name>"
    vpc_id: str
    vpc_cidr: str
    address: str
    security_groups: tuple[str, ...]
    environment: str = ""
    port: int = 0
    names: tuple[str, ...] = ()
    target: str = ""  # a proxy's database address


# (key, environment, subnet ids, security group ids, port, names) of a resource with an address of its own.
ServiceCandidate = tuple[str, str, list[str], list[str], int, tuple[str, ...]]


def service_address(subnet_cidr: str, key: str, taken: set[str]) -> str:
    """A stable address for ``key`` in the middle of its subnet: the emulator hands instances the
    lowest addresses and the ECS tasks take the highest, so neither reaches these."""
    hosts = list(ipaddress.ip_network(subnet_cidr, strict=False).hosts())
    start, span = len(hosts) // 4, max(len(hosts) // 2, 1)
    first = int(hashlib.sha256(key.encode()).hexdigest(), 16) % span
    for offset in range(span):
        candidate = str(hosts[start + (first + offset) % span])
        if candidate not in taken:
            return candidate
    raise LocalCloudError(f"no free address left in {subnet_cidr} for {key}")


def spawn(module: str, args: list[str], pid_file: Path, what: str, settle: float) -> int:
    """Start ``python -m <module> <args>`` detached, logging next to its pid file; return its PID.

    Fails with the log's path when the process is gone after ``settle`` seconds.
    """
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    log = pid_file.with_suffix(".log")
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", module, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
        )
    time.sleep(settle)
    if proc.poll() is not None:
        raise LocalCloudError(f"{what} exited; see {log}")
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def live_pid(pid_file: Path, marker: bytes) -> int | None:
    """The PID in ``pid_file`` if that process is alive and its command line holds ``marker``
    (a recycled PID belongs to someone else)."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    return pid if cmdline.exists() and marker in cmdline.read_bytes() else None


def network_gateway(cidr: str) -> str:
    """The first host address of the VPC: AWS reserves it for the VPC router, so no instance gets it."""
    return str(next(ipaddress.ip_network(cidr, strict=False).hosts()))


def hosts_block(names_by_ip: dict[str, Iterable[str]]) -> str:
    lines = [HOSTS_BEGIN]
    for ip_addr in sorted(names_by_ip):
        names = sorted(set(names_by_ip[ip_addr]))
        if names:
            lines.append(f"{ip_addr} {' '.join(names)}")
    lines.append(HOSTS_END)
    return "\n".join(lines) + "\n"


def replace_hosts_block(current: str, block: str, begin: str = HOSTS_BEGIN, end: str = HOSTS_END) -> str:
    """``current`` with the managed block (``begin`` .. ``end``) replaced (or appended); everything else kept."""
    out: list[str] = []
    skipping = False
    for line in current.splitlines(keepends=True):
        if line.strip() == begin:
            skipping = True
            continue
        if skipping:
            if line.strip() == end:
                skipping = False
            continue
        out.append(line)
    text = "".join(out)
    if text and not text.endswith("\n"):
        text += "\n"
    return text + block


def parse_db_secret(raw: str) -> dict[str, Any] | None:
    """The secret's JSON when it is a PostgreSQL master secret, else None."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("engine") not in {"postgres", "aurora-postgresql"}:
        return None
    if not all(str(data.get(key, "")) for key in ("host", "dbname", "username", "password")):
        return None
    return data


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


# --------------------------------------------------------------------------- data plane


@dataclass
class DataPlane:
    endpoint: str
    region: str
    project: str
    state_dir: Path
    changes: list[str] = field(default_factory=list)
    # The keys of the local cloud's own calls (localcloud.fidelity never throttles or refuses them).
    access_key: str = "testing"
    _pg_env_cache: tuple[float, dict[str, str]] | None = field(default=None, repr=False)

    # -- names and labels ----------------------------------------------------
    @property
    def scope(self) -> str:
        """Short, stable id of the emulator: several emulators (ports) may run side by side."""
        return hashlib.sha256(self.endpoint.encode()).hexdigest()[:6]

    def container_name(self, instance_id: str) -> str:
        return f"lc{self.scope}-{instance_id}"

    def network_name(self, vpc_id: str) -> str:
        return f"lc{self.scope}-{vpc_id}"

    def _labels(self, **extra: str) -> list[str]:
        labels = {f"{LABEL}.endpoint": self.endpoint, f"{LABEL}.project": self.project, **extra}
        args: list[str] = []
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        return args

    def changed(self, message: str) -> None:
        self.changes.append(message)
        print(f"changed: {message}", flush=True)

    # -- emulator ------------------------------------------------------------
    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        make_client: Any = boto3.client  # the stubs' overloads want a literal service name
        return make_client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=os.environ.get("LOCALCLOUD_SECRET_KEY", "testing"),
            # The verbs run with the caller's keys (`push` stands in for `docker push`), which the
            # fidelity layer may throttle: retry as the playbooks' clients and docker do.
            config=Config(retries={"mode": "standard", "max_attempts": 10}),
        )

    def desired_instances(self) -> list[Instance]:
        ec2 = self._client("ec2")
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[
                {"Name": "tag:Project", "Values": [self.project]},
                {"Name": "instance-state-name", "Values": ["running"]},
            ]
        )
        raw = [inst for page in pages for res in page["Reservations"] for inst in res["Instances"]]
        cidrs: dict[str, str] = {}
        keys: dict[str, str] = {}
        result = []
        for inst in raw:
            tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
            vpc_id = inst.get("VpcId", "")
            if not vpc_id or not inst.get("PrivateIpAddress"):
                continue
            if vpc_id not in cidrs:
                cidrs[vpc_id] = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"]
            key_name = inst.get("KeyName", "")
            if key_name and key_name not in keys:
                pairs = ec2.describe_key_pairs(KeyNames=[key_name], IncludePublicKey=True)["KeyPairs"]
                keys[key_name] = pairs[0].get("PublicKey", "").strip() if pairs else ""
            result.append(
                Instance(
                    instance_id=inst["InstanceId"],
                    private_ip=inst["PrivateIpAddress"],
                    vpc_id=vpc_id,
                    vpc_cidr=cidrs[vpc_id],
                    environment=tags.get("Environment", ""),
                    public_key=keys.get(key_name, ""),
                    name=tags.get("Name", ""),
                    security_groups=tuple(sorted(g["GroupId"] for g in inst.get("SecurityGroups", []))),
                    instance_profile_arn=inst.get("IamInstanceProfile", {}).get("Arn", ""),
                )
            )
        return sorted(result, key=lambda i: i.instance_id)

    def desired_databases(self, services: list[ServiceAddress] | None = None) -> list[Database]:
        sm = self._client("secretsmanager")
        services = self.database_services() if services is None else services
        dns_records = self._dns_records()
        result: list[Database] = []
        for page in sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "tag-key", "Values": ["Project"]}, {"Key": "tag-value", "Values": [self.project]}]
        ):
            for meta in page["SecretList"]:
                tags = {t["Key"]: t["Value"] for t in meta.get("Tags", [])}
                if tags.get("Project") != self.project or meta.get("DeletedDate"):
                    continue
                try:
                    raw = sm.get_secret_value(SecretId=meta["ARN"])["SecretString"]
                except sm.exceptions.ClientError:
                    continue
                data = parse_db_secret(raw)
                if data is None:
                    continue
                env = tags.get("Environment", "")
                # The names clients use resolve only as on AWS: an endpoint once its database is
                # available, the secret's host name once a DNS record gives it.
                mine = [svc for svc in services if svc.environment == env]
                addresses = {name: svc.address for svc in mine for name in svc.names}
                host = str(data["host"])
                if host in dns_records:
                    # A CNAME resolves to its target's address: the writer's, or the RDS Proxy's.
                    db_address = next((svc.address for svc in mine if svc.key.startswith("db:")), "")
                    addresses[host] = addresses.get(dns_records[host], db_address)
                names = set(addresses)
                result.append(
                    Database(
                        environment=env,
                        dbname=str(data["dbname"]),
                        username=str(data["username"]),
                        password=str(data["password"]),
                        port=int(data.get("port") or 5432),
                        names=tuple(sorted(names)),
                        addresses=tuple(sorted((n, a) for n, a in addresses.items() if a)),
                    )
                )
        return result

    def _subnet(self, subnet_id: str, cache: dict[str, tuple[str, str, str]]) -> tuple[str, str, str]:
        """(VPC id, VPC CIDR, subnet CIDR) of a subnet."""
        if subnet_id not in cache:
            ec2 = self._client("ec2")
            subnet = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
            vpc_cidr = ec2.describe_vpcs(VpcIds=[subnet["VpcId"]])["Vpcs"][0]["CidrBlock"]
            cache[subnet_id] = (subnet["VpcId"], vpc_cidr, subnet["CidrBlock"])
        return cache[subnet_id]

    def service_addresses(self) -> list[ServiceAddress]:
        """Each RDS cluster (or instance), RDS Proxy and application load balancer with the address
        that stands for its network interfaces, chosen in one pass so that no two share one (the
        load balancer's used to be chosen apart and could take a database's)."""
        subnets: dict[str, tuple[str, str, str]] = {}
        result: list[ServiceAddress] = []
        taken: set[str] = set()
        for key, env, subnet_ids, groups, port, names in sorted(
            [*self._database_candidates(), *self._balancer_candidates()]
        ):
            if not subnet_ids:
                continue
            vpc_id, vpc_cidr, subnet_cidr = self._subnet(subnet_ids[0], subnets)
            address = service_address(subnet_cidr, key, taken)
            taken.add(address)
            result.append(ServiceAddress(key, vpc_id, vpc_cidr, address, tuple(sorted(groups)), env, port, names))
        # A proxy forwards to the database of its environment, from its own address.
        dbs = {svc.environment: svc for svc in result if svc.key.startswith("db:")}
        return [
            replace(svc, target=dbs[svc.environment].address)
            if svc.key.startswith("proxy:") and svc.environment in dbs
            else svc
            for svc in result
        ]

    def database_services(self) -> list[ServiceAddress]:
        """Each RDS cluster (or instance) and RDS Proxy of the project with the address that stands
        for its network interfaces, its security groups and the names that resolve to it (an
        endpoint once the resource is available, as on AWS)."""
        return [svc for svc in self.service_addresses() if not svc.key.startswith("alb:")]

    def _database_candidates(self) -> list[ServiceCandidate]:
        rds = self._client("rds")
        found: list[ServiceCandidate] = []

        def environment(tag_list: list[dict[str, str]]) -> str | None:
            tags = {t["Key"]: t["Value"] for t in tag_list}
            return tags.get("Environment") if tags.get("Project") == self.project else None

        def group_subnets(name: str) -> list[str]:
            if not name:
                return []
            groups = rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"]
            return sorted(s["SubnetIdentifier"] for g in groups for s in g.get("Subnets", []))

        for cluster in rds.describe_db_clusters().get("DBClusters", []):
            env = environment(cluster.get("TagList", []))
            if env is None:
                continue
            available = cluster.get("Status") == "available"
            names = tuple(h for h in (cluster.get("Endpoint"), cluster.get("ReaderEndpoint")) if h and available)
            groups = [g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups", [])]
            subnet_ids = group_subnets(str(cluster.get("DBSubnetGroup", "")))
            port = int(cluster.get("Port") or 5432)
            found.append((f"db:{cluster['DBClusterIdentifier']}", env, subnet_ids, groups, port, names))
        clustered = {key.split(":", 1)[1] for key, *_ in found}
        for inst in rds.describe_db_instances().get("DBInstances", []):
            env = environment(inst.get("TagList", []))
            address = inst.get("Endpoint", {}).get("Address")
            if env is None or inst.get("DBClusterIdentifier") in clustered:
                continue
            groups = [g["VpcSecurityGroupId"] for g in inst.get("VpcSecurityGroups", [])]
            subnet_ids = sorted(s["SubnetIdentifier"] for s in inst.get("DBSubnetGroup", {}).get("Subnets", []))
            port = int(inst.get("Endpoint", {}).get("Port") or inst.get("DbInstancePort") or 5432)
            found.append(
                (f"db:{inst['DBInstanceIdentifier']}", env, subnet_ids, groups, port, (address,) if address else ())
            )
        secret_env = self._secret_environments()
        for proxy in rds.describe_db_proxies().get("DBProxies", []):
            envs = {secret_env.get(a.get("SecretArn", "")) for a in proxy.get("Auth", [])} - {None}
            if not envs:
                continue
            names = (proxy["Endpoint"],) if proxy.get("Endpoint") and proxy.get("Status") == "available" else ()
            found.append(
                (
                    f"proxy:{proxy['DBProxyName']}",
                    str(sorted(envs)[0]),
                    sorted(proxy.get("VpcSubnetIds", [])),
                    list(proxy.get("VpcSecurityGroupIds", [])),
                    5432,
                    names,
                )
            )
        return found

    def _secret_environments(self) -> dict[str, str]:
        sm = self._client("secretsmanager")
        result: dict[str, str] = {}
        for page in sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "tag-key", "Values": ["Project"]}, {"Key": "tag-value", "Values": [self.project]}]
        ):
            for meta in page["SecretList"]:
                tags = {t["Key"]: t["Value"] for t in meta.get("Tags", [])}
                result[meta["ARN"]] = tags.get("Environment", "")
        return result

    def _dns_records(self) -> dict[str, str]:
        """Every CNAME and A record name of the private hosted zones (without the final dot), with
        its first value."""
        route53 = self._client("route53")
        names: dict[str, str] = {}
        for zone in route53.list_hosted_zones().get("HostedZones", []):
            if not zone.get("Config", {}).get("PrivateZone"):
                continue
            records = route53.list_resource_record_sets(HostedZoneId=zone["Id"]).get("ResourceRecordSets", [])
            for r in records:
                if r.get("Type") in ("CNAME", "A"):
                    values = [v["Value"].rstrip(".") for v in r.get("ResourceRecords", [])]
                    names[r["Name"].rstrip(".")] = values[0] if values else ""
        return names

    # -- docker --------------------------------------------------------------
    def _docker_json(self, *argv: str) -> list[dict[str, Any]]:
        out = run(["docker", *argv, "--format", "{{json .}}"])
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def existing_containers(self) -> dict[str, dict[str, Any]]:
        rows = self._docker_json("ps", "-a", "--no-trunc", "--filter", f"label={LABEL}.endpoint={self.endpoint}")
        return {row["Names"]: row for row in rows}

    def existing_networks(self) -> dict[str, dict[str, Any]]:
        rows = self._docker_json("network", "ls", "--no-trunc", "--filter", f"label={LABEL}.endpoint={self.endpoint}")
        return {row["Name"]: row for row in rows}

    def gateways_with_containers(self) -> set[str]:
        """The gateways of this local cloud's networks that have a container attached (a test host or a task)."""
        names = list(self.existing_networks())
        found = json.loads(run(["docker", "network", "inspect", *names], check=False) or "[]") if names else []
        return {
            config["Gateway"]
            for net in found
            if net.get("Containers")
            for config in (net.get("IPAM") or {}).get("Config") or []
            if config.get("Gateway")
        }

    def ensure_network(self, vpc_id: str, vpc_cidr: str, networks: dict[str, dict[str, Any]]) -> str:
        name = self.network_name(vpc_id)
        if name not in networks:
            overlap = [
                row["Name"]
                for row in self._docker_json("network", "ls", "--filter", f"label={LABEL}.vpc")
                if row["Name"] not in networks
            ]
            try:
                run(
                    [
                        "docker",
                        "network",
                        "create",
                        "--driver",
                        "bridge",
                        "--internal",
                        "--subnet",
                        vpc_cidr,
                        "--gateway",
                        network_gateway(vpc_cidr),
                        *self._labels(**{f"{LABEL}.vpc": vpc_id}),
                        name,
                    ]
                )
            except LocalCloudError as exc:
                raise LocalCloudError(
                    f"cannot create the Docker network of {vpc_id} ({vpc_cidr}): {exc}. Networks of other "
                    f"local clouds that may overlap: {', '.join(overlap) or 'none'}; tear that stack down or give "
                    "this one another network_vpc_cidr"
                ) from exc
            networks[name] = {"Name": name}
            self.changed(f"network {name} ({vpc_cidr}) for {vpc_id}")
        return name

    def ensure_container(
        self, inst: Instance, image: str, containers: dict[str, dict[str, Any]], networks: dict[str, dict[str, Any]]
    ) -> None:
        name = self.container_name(inst.instance_id)
        row = containers.get(name)
        if row is not None and row.get("State") == "running":
            return
        if row is not None:
            run(["docker", "rm", "-f", name])
        network = self.ensure_network(inst.vpc_id, inst.vpc_cidr, networks)
        run(
            [
                "docker",
                "run",
                "--detach",
                "--name",
                name,
                "--hostname",
                inst.hostname,
                "--network",
                network,
                "--ip",
                inst.private_ip,
                "--restart",
                "unless-stopped",
                "--env",
                f"LOCALCLOUD_SSH_PUBLIC_KEY={inst.public_key}",
                *self._labels(**{f"{LABEL}.instance": inst.instance_id, f"{LABEL}.environment": inst.environment}),
                image,
            ]
        )
        self.changed(f"test host {inst.instance_id} ({inst.name or 'unnamed'}) at {inst.private_ip}")

    def instance_role_credentials(self, inst: Instance, current: str) -> dict[str, str]:
        """The credentials EC2 gives an instance for its instance profile's role (AssumeRole through
        the emulator's STS; the role's trust policy must admit ec2.amazonaws.com): none without a
        profile or a role it may assume, as the instance metadata service has none then. EC2 renews
        them before they expire; here a session of 12 hours is kept while it is of the same role."""
        from botocore.exceptions import ClientError

        if not inst.instance_profile_arn:
            return {}
        try:
            return self._instance_role_credentials(inst, current)
        except ClientError as exc:  # the profile or its role deleted while the instance runs
            LOG.warning("instance %s gets no credentials: %s", inst.instance_id, exc)
            return {}

    def _instance_role_credentials(self, inst: Instance, current: str) -> dict[str, str]:
        from localcloud import iam

        profile = self._client("iam").get_instance_profile(
            InstanceProfileName=inst.instance_profile_arn.rsplit("/", 1)[-1]
        )["InstanceProfile"]
        roles = profile.get("Roles", [])
        if not roles:
            return {}
        role_arn = str(roles[0]["Arn"])
        held = dict(line.split("=", 1) for line in current.splitlines() if line.startswith("AWS_") and "=" in line)
        if held.get("AWS_SESSION_TOKEN"):
            import boto3

            try:
                caller = boto3.client(
                    "sts",
                    region_name=self.region,
                    endpoint_url=self.endpoint,
                    aws_access_key_id=held.get("AWS_ACCESS_KEY_ID", ""),
                    aws_secret_access_key=held.get("AWS_SECRET_ACCESS_KEY", ""),
                    aws_session_token=held["AWS_SESSION_TOKEN"],
                ).get_caller_identity()["Arn"]
            except Exception:  # not a session of this emulator any more
                caller = ""
            if f":assumed-role/{role_arn.rsplit('/', 1)[-1]}/" in caller:
                return {k: held[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
        try:
            return iam.assume_for_service(
                self._client("iam"),
                self._client("sts"),
                role_arn,
                "ec2.amazonaws.com",
                inst.instance_id,
                account=role_arn.split(":")[4],
            )
        except iam.TrustError as exc:
            LOG.warning("instance %s gets no credentials: %s", inst.instance_id, exc)
            return {}

    def sync_environment(self, inst: Instance) -> None:
        """What an EC2 instance's AWS CLI gets from its instance role and the regional endpoints:
        here the local cloud's endpoint (through the gateway's forwarder) and the instance role's
        credentials, in /etc/environment, which PAM gives every login and sudo session."""
        begin, end = "# BEGIN localcloud instance role", "# END localcloud instance role"
        name = self.container_name(inst.instance_id)
        current = run(["docker", "exec", name, "cat", "/etc/environment"], check=False)
        credentials = self.instance_role_credentials(inst, current)
        lines = [
            f"AWS_ENDPOINT_URL=http://{EMULATOR_HOSTNAME}:{self.emulator_port}",
            f"AWS_DEFAULT_REGION={self.region}",
            *(f"{key}={value}" for key, value in credentials.items()),
        ]
        block = "\n".join([begin, *lines, end]) + "\n"
        wanted = replace_hosts_block(current, block, begin, end)
        if wanted != current:
            run(["docker", "exec", "-i", name, "sh", "-c", "cat > /etc/environment"], input_text=wanted)
            self.changed(f"/etc/environment of {inst.instance_id}: the local cloud's endpoint and the instance role")
        # On EC2 root's AWS CLI reaches the instance role too; sudo resets the environment, so it keeps these.
        names = ["AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        keep = 'Defaults env_keep += "' + " ".join([*names, "AWS_SESSION_TOKEN"]) + '"\n'
        sudoers = "/etc/sudoers.d/localcloud-instance-role"
        if run(["docker", "exec", name, "cat", sudoers], check=False) != keep:
            script = f"umask 0337 && cat > {sudoers}.tmp && mv {sudoers}.tmp {sudoers}"
            run(["docker", "exec", "-i", name, "sh", "-c", script], input_text=keep)
            self.changed(f"{sudoers} of {inst.instance_id}: sudo keeps the local cloud's endpoint and keys")

    def sync_hosts_file(self, inst: Instance, databases: list[Database]) -> None:
        gateway = network_gateway(inst.vpc_cidr)
        by_ip: dict[str, list[str]] = {gateway: [EMULATOR_HOSTNAME]}
        for db in databases:
            if db.environment == inst.environment:
                for n in db.names:
                    by_ip.setdefault(db.address_of(n, gateway), []).append(n)
        names = [n for group in by_ip.values() for n in group]
        block = hosts_block(by_ip)
        name = self.container_name(inst.instance_id)
        current = run(["docker", "exec", name, "cat", "/etc/hosts"])
        wanted = replace_hosts_block(current, block)
        if wanted != current:
            # /etc/hosts is a bind mount: rewrite it in place, never replace the file.
            run(["docker", "exec", "-i", name, "sh", "-c", "cat > /etc/hosts"], input_text=wanted)
            self.changed(f"/etc/hosts of {inst.instance_id}: {', '.join(sorted(names)) or 'no database names'}")

    # -- database ------------------------------------------------------------
    @property
    def emulator_port(self) -> int:
        return int(self.endpoint.rstrip("/").rsplit(":", 1)[1])

    def pg_cluster_env(self) -> dict[str, str]:
        """Which scripts/pg-local.sh cluster backs this emulator's databases.

        The default emulator (port 5100, `make up`) uses the default cluster (.state/postgres,
        port 55432). Every other emulator gets a cluster of its own under its run folder, on a
        port derived from its scope: several stacks of one project share role names
        (resume_admin) with different passwords, and one cluster would flip between them.
        PG_LOCAL_PORT/STATE_DIR set by the caller win.
        """
        env = dict(os.environ)
        if "PG_LOCAL_PORT" in env or self.emulator_port == DEFAULT_EMULATOR_PORT:
            return env
        env["STATE_DIR"] = str(self.run_dir)
        env["PG_LOCAL_PORT"] = str(PG_PORT_BASE + int(self.scope, 16) % PG_PORT_SPAN)
        return env

    def pg_env(self) -> dict[str, str]:
        """The environment psql needs for this local cloud's cluster, which it starts unless it runs.
        Kept for a minute: the controller asks on every pass, and the answer rarely changes."""
        cached = self._pg_env_cache
        if cached is not None and time.monotonic() - cached[0] < PG_ENV_TTL:
            return dict(cached[1])
        env = self._pg_env()
        self._pg_env_cache = (time.monotonic(), dict(env))
        return env

    def _pg_env(self) -> dict[str, str]:
        script = str(ROOT / "scripts" / "pg-local.sh")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o755)  # the postgres OS user must traverse it
        base = self.pg_cluster_env()
        run([script, "start"], env=base)
        env = dict(base)
        for token in shlex.split(run([script, "env"], env=base)):
            if "=" in token:  # export lines: `export KEY=VALUE`
                key, value = token.split("=", 1)
                env[key] = value
        return env

    @staticmethod
    def psql_bin(env: dict[str, str]) -> str:
        bindir = env.get("PG_LOCAL_BINDIR", "")
        return str(Path(bindir) / "psql") if bindir else "psql"

    def psql(self, env: dict[str, str], sql: str, *, database: str = "postgres") -> str:
        return run(
            [self.psql_bin(env), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database, "-f", "-"],
            input_text=sql,
            env=env,
        )

    def password_works(self, env: dict[str, str], db: Database) -> bool:
        probe = dict(env, PGUSER=db.username, PGPASSWORD=db.password, PGDATABASE=db.dbname)
        probe.pop("PGPASSFILE", None)
        argv = [self.psql_bin(env), "-X", "-A", "-t", "-c", "select 1"]
        return subprocess.run(argv, env=probe, capture_output=True, check=False).returncode == 0  # noqa: S603

    def ensure_database(self, env: dict[str, str], db: Database) -> None:
        # Every name and the password go through sql_literal/sql_ident, and into psql's stdin (never argv).
        role_query = f"select 1 from pg_roles where rolname = {sql_literal(db.username)};"  # noqa: S608
        role_exists = self.psql(env, role_query).strip() == "1"
        if not role_exists:
            self.psql(
                env,
                f"create role {sql_ident(db.username)} login createdb createrole password {sql_literal(db.password)};",
            )
            self.changed(f"PostgreSQL role {db.username} ({db.environment})")
        db_query = f"select 1 from pg_database where datname = {sql_literal(db.dbname)};"  # noqa: S608
        db_exists = self.psql(env, db_query).strip() == "1"
        if not db_exists:
            self.psql(env, f"create database {sql_ident(db.dbname)} owner {sql_ident(db.username)};")
            self.changed(f"PostgreSQL database {db.dbname} ({db.environment})")
        if role_exists and not self.password_works(env, db):
            self.psql(env, f"alter role {sql_ident(db.username)} login password {sql_literal(db.password)};")
            self.changed(f"PostgreSQL password of {db.username} set from the secret ({db.environment})")

    # -- db forwarders -------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        """Pid and log files of this emulator's forwarders."""
        return self.state_dir / self.scope

    def proxy_pid_file(self, listen: str, port: int) -> Path:
        return self.run_dir / f"dbproxy-{listen}-{port}.pid"

    def proxy_pid(self, listen: str, port: int) -> int | None:
        return live_pid(self.proxy_pid_file(listen, port), b"localcloud.dbproxy")

    def proxy_args(self, pid: int) -> list[str]:
        """The arguments a running forwarder was started with (after the module name)."""
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            return [a.decode() for a in args[args.index(b"localcloud.dbproxy") + 1 :]]
        except (OSError, ValueError):
            return []

    def ensure_proxy(
        self, listen: str, port: int, target_port: int, target_host: str = "127.0.0.1", source: str = ""
    ) -> None:
        """A forwarder on ``listen:port`` to ``target_host:target_port``; with ``source``, its
        connections to the target leave from that address (the RDS Proxy's, so the database's
        security group judges the proxy)."""
        args = [listen, str(port), target_host, str(target_port), *([source] if source else [])]
        pid = self.proxy_pid(listen, port)
        if pid is not None and self.proxy_args(pid) == args:
            return
        if pid is not None:  # it forwards to an old target: replace it
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                if self.proxy_pid(listen, port) is None:
                    break
                time.sleep(0.1)
        pid = spawn(
            "localcloud.dbproxy",
            args,
            self.proxy_pid_file(listen, port),
            f"the DB forwarder on {listen}:{port}",
            settle=0.3,
        )
        via = f" from {source}" if source else ""
        self.changed(f"forwarder {listen}:{port} -> {target_host}:{target_port}{via} (pid {pid})")

    # -- addresses of the resources with network interfaces ---------------------
    def bridge(self, network: str) -> str:
        info = json.loads(run(["docker", "network", "inspect", network]))[0]
        return str((info.get("Options") or {}).get("com.docker.network.bridge.name") or f"br-{info['Id'][:12]}")

    def bridge_addresses(self, bridge: str) -> set[str]:
        """The /32 addresses the data plane put on a bridge (Docker's gateway carries the subnet's prefix)."""
        out = run(["ip", "-4", "-o", "addr", "show", "dev", bridge], check=False)
        return {token.split("/")[0] for line in out.splitlines() for token in line.split() if token.endswith("/32")}

    def ensure_address(self, vpc_id: str, vpc_cidr: str, address: str, what: str) -> None:
        """``address`` on the VPC's bridge: the host answers there for a DB endpoint, a proxy or a
        load balancer, and the firewall tells them apart by it."""
        network = self.ensure_network(vpc_id, vpc_cidr, self.existing_networks())
        bridge = self.bridge(network)
        if address in self.bridge_addresses(bridge):
            return
        run(["ip", "addr", "add", f"{address}/32", "dev", bridge], check=False)  # another thread may win
        if address not in self.bridge_addresses(bridge):
            raise LocalCloudError(f"could not put {address} on {bridge} for {what}")
        self.changed(f"address {address} on {bridge} for {what}")

    def prune_addresses(self, wanted: set[str]) -> None:
        networks = list(self.existing_networks())
        for network in networks:
            bridge = self.bridge(network)
            for address in sorted(self.bridge_addresses(bridge) - wanted):
                run(["ip", "addr", "del", f"{address}/32", "dev", bridge], check=False)
                self.changed(f"removed address {address} from {bridge}")

    def ensure_database_endpoints(
        self, databases: list[Database], services: list[ServiceAddress]
    ) -> set[tuple[str, int]]:
        """The address and forwarder of every DB endpoint and RDS Proxy; returns the forwarders."""
        if not databases:
            return set()
        env = self.pg_env()
        pg_port = int(env.get("PGPORT", "55432"))
        for db in databases:
            # The master secret may name a role another stack's secret also names: make sure it
            # takes this local cloud's password before a client connects.
            self.ensure_database(env, db)
        envs = {db.environment for db in databases}
        keep: set[tuple[str, int]] = set()
        for svc in sorted(services, key=lambda s: not s.key.startswith("db:")):  # databases before proxies
            if svc.environment not in envs or (svc.key.startswith("proxy:") and not svc.target):
                continue
            self.ensure_address(svc.vpc_id, svc.vpc_cidr, svc.address, svc.key)
            if svc.key.startswith("db:"):
                self.ensure_proxy(svc.address, svc.port, pg_port)
            else:
                self.ensure_proxy(svc.address, svc.port, svc.port, target_host=svc.target, source=svc.address)
            keep.add((svc.address, svc.port))
        return keep

    # -- security groups -------------------------------------------------------
    def balancer_addresses(self) -> list[ServiceAddress]:
        """The source address of each application load balancer (its connections to targets and
        its health checks leave from there), in its first subnet, with its security groups."""
        return [svc for svc in self.service_addresses() if svc.key.startswith("alb:")]

    def _balancer_candidates(self) -> list[ServiceCandidate]:
        elb = self._client("elbv2")
        found: list[ServiceCandidate] = []
        for lb in elb.describe_load_balancers().get("LoadBalancers", []):
            subnet_ids = sorted(z["SubnetId"] for z in lb.get("AvailabilityZones", []) if z.get("SubnetId"))
            if lb.get("Type") == "application" and subnet_ids:
                groups = list(lb.get("SecurityGroups", []))
                found.append((f"alb:{lb['LoadBalancerName']}", "", subnet_ids, groups, 0, ()))
        return found

    def task_parties(self) -> list[firewall.Party]:
        """ECS task containers with the security groups of their awsvpcConfiguration (a label)."""
        label = f"{LABEL}.ecs"
        out = run(
            [
                "docker", "ps", "--no-trunc", "--filter", f"label={label}.endpoint={self.endpoint}",
                "--format", "{{.Names}}",
            ]
        )  # fmt: skip
        names = [n for n in out.split() if n]
        found = json.loads(run(["docker", "inspect", *names], check=False) or "[]") if names else []
        parties = []
        for item in found:
            groups = item["Config"]["Labels"].get(f"{label}.security-groups", "")
            for net in (item["NetworkSettings"].get("Networks") or {}).values():
                ip = (net.get("IPAMConfig") or {}).get("IPv4Address") or net.get("IPAddress", "")
                if ip:
                    parties.append(
                        firewall.Party(ip, frozenset(g for g in groups.split(",") if g), item["Name"].lstrip("/"))
                    )
        return parties

    def topology(self, extra: Iterable[firewall.Party] = ()) -> firewall.Topology:
        ec2 = self._client("ec2")
        networks = self.existing_networks()
        found = json.loads(run(["docker", "network", "inspect", *networks], check=False) or "[]") if networks else []
        cidrs = [c["Subnet"] for net in found for c in (net.get("IPAM") or {}).get("Config") or [] if c.get("Subnet")]
        groups = {
            sg["GroupId"]: firewall.group_from_api(sg)
            for page in ec2.get_paginator("describe_security_groups").paginate()
            for sg in page["SecurityGroups"]
        }
        instances = self.desired_instances()
        parties = [firewall.Party(i.private_ip, frozenset(i.security_groups), i.instance_id) for i in instances]
        parties += self.task_parties()
        services = self.service_addresses()
        parties += [firewall.Party(s.address, frozenset(s.security_groups), s.key) for s in services]
        parties += list(extra)
        gateways = sorted({network_gateway(c) for c in cidrs})
        return firewall.Topology(
            cidrs=cidrs,
            parties=list({p.address: p for p in parties}.values()),
            groups=groups,
            endpoints=[firewall.Endpoint(g, self.emulator_port) for g in gateways],
            # This host's SSH stands for Session Manager, which needs no inbound rule on AWS.
            management=[firewall.Management(network_gateway(i.vpc_cidr), i.private_ip, 22) for i in instances],
        )

    def sync_firewall(self, extra: Iterable[firewall.Party] = ()) -> None:
        """Enforce the emulator's security groups on this local cloud's networks (nftables);
        ``extra`` names interfaces about to start (a task's address and groups)."""
        if os.environ.get("LOCALCLOUD_SECURITY_GROUPS", "on").lower() == "off":
            return
        firewall.require_enforcement()
        with FIREWALL_LOCK:
            text = firewall.ruleset(self.scope, self.topology(extra))
            path = self.run_dir / "firewall.nft"
            if path.exists() and path.read_text() == text and firewall.present(self.scope):
                return
            firewall.apply(self.scope, text)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            self.changed(f"security groups enforced: table inet {firewall.table_name(self.scope)}")

    def stop_proxies(self, keep: set[tuple[str, int]]) -> None:
        folder = self.run_dir
        for pid_file in sorted(folder.glob("dbproxy-*.pid")) if folder.is_dir() else []:
            _, listen, port = pid_file.stem.rsplit("-", 2)
            if (listen, int(port)) in keep:
                continue
            pid = self.proxy_pid(listen, int(port))
            if pid is not None:
                os.killpg(pid, signal.SIGTERM)
                self.changed(f"stopped forwarder {listen}:{port} (pid {pid})")
            pid_file.unlink(missing_ok=True)

    # -- verbs ---------------------------------------------------------------
    def sync(self, image: str | None = None, hold: Callable[[str], bool] | None = None) -> list[str]:
        """Reconcile test hosts, networks, databases and forwarders with the emulator. An instance
        ``hold`` names (one still booting) is neither started nor removed yet."""
        instances = self.desired_instances()
        held = {i.instance_id for i in instances if hold is not None and hold(i.instance_id)}
        keep_held = {self.container_name(i) for i in held}
        instances = [i for i in instances if i.instance_id not in held]
        every_service = self.service_addresses()
        services = [svc for svc in every_service if not svc.key.startswith("alb:")]
        databases = self.desired_databases(services)
        balancers = [svc for svc in every_service if svc.key.startswith("alb:")]
        containers = self.existing_containers()
        networks = self.existing_networks()
        wanted_names = {self.container_name(i.instance_id) for i in instances} | keep_held
        for name in sorted(set(containers) - wanted_names):
            run(["docker", "rm", "-f", name])
            self.changed(f"removed test host {name} (instance gone)")
        if instances:
            tag = image or ensure_image()[0]
            for inst in instances:
                self.ensure_container(inst, tag, containers, networks)
                self.sync_hosts_file(inst, databases)
                self.sync_environment(inst)
        # Every test host and every ECS task may call the emulator (what their roles allow on AWS):
        # keep the forwarders of every network in use.
        task_gateways = self.gateways_with_containers() - {network_gateway(i.vpc_cidr) for i in instances}
        gateways = task_gateways | {network_gateway(i.vpc_cidr) for i in instances}
        keep_proxies: set[tuple[str, int]] = {(gateway, self.emulator_port) for gateway in gateways}
        for listen, port in sorted(keep_proxies):
            self.ensure_proxy(listen, port, port)
        # Each DB endpoint and RDS Proxy answers at an address of its own; a database secret with no
        # RDS resource behind it (none in the emulator) is still reached at the gateway.
        keep_proxies |= self.ensure_database_endpoints(databases, services)
        fallback = {(gateway, db.port) for db in databases if not db.addresses for gateway in gateways}
        if fallback:
            target = int(self.pg_env().get("PGPORT", "55432"))
            for listen, port in sorted(fallback):
                self.ensure_proxy(listen, port, target)
        keep_proxies |= fallback
        self.stop_proxies(keep_proxies)
        for lb in balancers:
            self.ensure_address(lb.vpc_id, lb.vpc_cidr, lb.address, lb.key)
        self.prune_addresses({listen for listen, _ in keep_proxies} | {lb.address for lb in balancers})
        wanted_networks = {self.network_name(i.vpc_id) for i in instances}
        wanted_networks |= {self.network_name(s.vpc_id) for s in [*services, *balancers]}
        for name in sorted(set(self.existing_networks()) - wanted_networks):
            # ECS tasks share the VPC's network: it goes with the last container on it.
            attached = json.loads(run(["docker", "network", "inspect", name], check=False) or "[{}]")
            if attached and (attached[0] or {}).get("Containers"):
                continue
            run(["docker", "network", "rm", name])
            self.changed(f"removed network {name}")
        self.sync_firewall()
        return self.changes

    def down(self) -> list[str]:
        """Remove every test host, service task, listener, network and forwarder of this emulator,
        and stop its own PostgreSQL cluster (the data stays on disk)."""
        from localcloud.ecs import Ecs  # they build on this module
        from localcloud.elb import Balancers

        self.changes += Balancers(self, "").down()
        self.changes += Ecs(self, "").down()  # task containers keep their network in use
        for name in sorted(self.existing_containers()):
            run(["docker", "rm", "-f", name])
            self.changed(f"removed test host {name}")
        self.stop_proxies(set())
        if firewall.remove(self.scope):
            self.changed(f"removed table inet {firewall.table_name(self.scope)}")
        (self.run_dir / "firewall.nft").unlink(missing_ok=True)
        for name in sorted(self.existing_networks()):
            run(["docker", "network", "rm", name])
            self.changed(f"removed network {name}")
        env = self.pg_cluster_env()
        own_cluster = Path(env.get("STATE_DIR", "")) == self.run_dir
        if own_cluster and (self.run_dir / "postgres" / "data" / "postmaster.pid").exists():
            run([str(ROOT / "scripts" / "pg-local.sh"), "stop"], env=env)
            self.changed(f"stopped the PostgreSQL cluster of this emulator (port {env['PG_LOCAL_PORT']})")
        return self.changes

    def hosts(self) -> list[dict[str, str]]:
        rows = []
        for name, row in sorted(self.existing_containers().items()):
            labels = dict(item.split("=", 1) for item in row.get("Labels", "").split(",") if "=" in item)
            rows.append(
                {
                    "container": name,
                    "instance_id": labels.get(f"{LABEL}.instance", ""),
                    "environment": labels.get(f"{LABEL}.environment", ""),
                    "state": row.get("State", ""),
                    "networks": row.get("Networks", ""),
                }
            )
        return rows
