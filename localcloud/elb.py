"""The local cloud's load balancers: each ALB of the emulator becomes a listener process
(``localcloud.alb``) on a loopback address of its own, reachable under the ALB's DNS name.

AWS gives a load balancer a DNS name that resolves to its addresses, and listeners on the ports
its listeners name (80 and 443 here). The local cloud does the same on this machine: it picks a
127.x.y.z address for each load balancer (all of 127.0.0.0/8 is local on Linux), maps the DNS
name to it in ``/etc/hosts`` (a block of its own per local cloud), and runs a listener process
configured from the emulator's listeners, certificates (ACM's, private key included) and target
groups (the targets the ECS scheduler registered). So ``https://<DNSName>/`` works as on AWS.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

from localcloud import models, timing
from localcloud.dataplane import DataPlane, ServiceAddress, live_pid, replace_hosts_block, spawn

LOG = logging.getLogger("localcloud.elb")
HOSTS_FILE = Path(os.environ.get("LOCALCLOUD_HOSTS_FILE", "/etc/hosts"))


def address_for(dns_name: str, taken: set[str]) -> str:
    """A stable loopback address for the load balancer, never 127.0.0.1 nor one already taken."""
    digest = hashlib.sha256(dns_name.encode()).digest()
    for offset in range(256):
        a, b, c = digest[0], digest[1], (digest[2] + offset) % 254 + 1
        address = f"127.{a % 200 + 20}.{b}.{c}"
        if address not in taken:
            return address
    raise RuntimeError(f"no free loopback address for {dns_name}")


def deregistration_delay(attributes: dict[str, str]) -> float:
    """The target group's ``deregistration_delay.timeout_seconds`` (AWS's default 300) on the local clock."""
    return timing.scaled(float(attributes.get("deregistration_delay.timeout_seconds", 300)))


def markers(scope: str) -> tuple[str, str]:
    return f"# BEGIN localcloud load balancers {scope}", f"# END localcloud load balancers {scope}"


def hosts_block(scope: str, names: dict[str, str]) -> str:
    begin, end = markers(scope)
    lines = [begin, *(f"{address} {name}" for name, address in sorted(names.items())), end]
    return "\n".join(lines) + "\n" if names else ""


def write_hosts(scope: str, names: dict[str, str], hosts_file: Path = HOSTS_FILE) -> bool:
    """Put this local cloud's names into the hosts file (in place: it may be a bind mount)."""
    with hosts_file.open("r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        current = handle.read()
        wanted = replace_hosts_block(current, hosts_block(scope, names), *markers(scope))
        if wanted == current:
            return False
        handle.seek(0)
        handle.write(wanted)
        handle.truncate()
        return True


class Balancers:
    """Every load balancer of one local cloud and region, kept as the emulator describes them."""

    def __init__(self, plane: DataPlane, account: str, checked: set[str] | None = None) -> None:
        self.plane = plane
        self.account = account
        self.sources: list[ServiceAddress] = []
        # ip:port of the targets the ECS scheduler registered after its own health checks.
        self.checked = checked if checked is not None else set()

    @property
    def folder(self) -> Path:
        return self.plane.run_dir / "alb"

    def config(self, lb: dict[str, Any], address: str) -> dict[str, Any]:
        elb = self.plane._client("elbv2")
        listeners: list[dict[str, Any]] = []
        groups: dict[str, dict[str, Any]] = {}
        for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
            action = (listener.get("DefaultActions") or [{}])[0]
            entry: dict[str, Any] = {"port": int(listener["Port"]), "protocol": listener["Protocol"]}
            if action.get("Type") == "redirect":
                entry["redirect"] = action.get("RedirectConfig", {})
            elif action.get("Type") == "forward":
                entry["target_group"] = action.get("TargetGroupArn", "")
            if listener["Protocol"] == "HTTPS":
                arn = (listener.get("Certificates") or [{}])[0].get("CertificateArn", "")
                pem = models.certificate_pem(self.account, self.plane.region, arn)
                if pem is None:
                    LOG.warning("listener %s: certificate %s has no private key here; skipped", listener["Port"], arn)
                    continue
                entry["cert"], entry["key"] = self.write_pem(arn, pem)
            listeners.append(entry)
        for arn in {li["target_group"] for li in listeners if li.get("target_group")}:
            groups[arn] = self.target_group(elb, arn)
        attributes = {
            a["Key"]: a["Value"]
            for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
        }
        config = {
            "address": address,
            "dns_name": lb["DNSName"],
            "listeners": listeners,
            "target_groups": groups,
            "idle_timeout": int(attributes.get("idle_timeout.timeout_seconds", 60)),
            "drop_invalid_header_fields": attributes.get("routing.http.drop_invalid_header_fields.enabled") == "true",
            "web_acl": self.web_acl(lb["LoadBalancerArn"]),
        }
        # Its connections to targets leave from its address on the VPC network (its security groups).
        source = next((s for s in self.sources if s.key == f"alb:{lb['LoadBalancerName']}"), None)
        if source is not None:
            self.plane.ensure_address(source.vpc_id, source.vpc_cidr, source.address, source.key)
            config["source_address"] = source.address
        return config

    def target_group(self, elb: Any, arn: str) -> dict[str, Any]:
        """A target group as the listener needs it; AWS's durations on the local clock (``timing``)."""
        tg = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        targets = sorted(
            f"{d['Target']['Id']}:{d['Target'].get('Port', tg['Port'])}"
            for d in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        )
        attributes = {
            a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        }
        interval = timing.scaled(float(tg.get("HealthCheckIntervalSeconds", 30)), floor=0.5)
        return {
            "targets": targets,
            # Registered by the ECS scheduler after its own health checks: in rotation at once.
            # Any other target starts "initial" and must pass the healthy threshold of checks.
            "healthy": sorted(t for t in targets if t in self.checked),
            "health_path": tg.get("HealthCheckPath", "/"),
            "interval": interval,
            "timeout": min(timing.scaled(float(tg.get("HealthCheckTimeoutSeconds", 5)), floor=0.5), interval),
            "healthy_threshold": int(tg.get("HealthyThresholdCount", 5)),
            "unhealthy_threshold": int(tg.get("UnhealthyThresholdCount", 2)),
            "matcher": str((tg.get("Matcher") or {}).get("HttpCode", "200")),
            "deregistration_delay": deregistration_delay(attributes),
        }

    def web_acl(self, lb_arn: str) -> dict[str, Any] | None:
        """The web ACL associated with the load balancer, as GetWebACLForResource returns it."""
        acl = self.plane._client("wafv2").get_web_acl_for_resource(ResourceArn=lb_arn).get("WebACL")
        # ByteMatch search strings come back as bytes (a blob): the config is JSON.
        return json.loads(json.dumps(acl, default=lambda v: v.decode("utf-8", "replace"))) if acl else None

    def write_pem(self, arn: str, pem: tuple[bytes, bytes]) -> tuple[str, str]:
        folder = self.folder / "certs"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = hashlib.sha256(arn.encode()).hexdigest()[:16]
        paths = (folder / f"{stem}.crt", folder / f"{stem}.key")
        for path, content in zip(paths, pem, strict=True):
            if not path.exists() or path.read_bytes() != content:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
        return str(paths[0]), str(paths[1])

    def pid_file(self, name: str) -> Path:
        return self.folder / f"{name}.pid"

    def sync(self) -> list[str]:
        """Reconcile listener processes, configs and the hosts block; return what changed."""
        changes: list[str] = []
        elb = self.plane._client("elbv2")
        lbs = [lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb.get("Type") == "application"]
        self.sources = self.plane.balancer_addresses()
        self.folder.mkdir(parents=True, exist_ok=True)
        names: dict[str, str] = {}
        wanted: set[str] = set()
        for lb in lbs:
            name = lb["LoadBalancerName"]
            wanted.add(name)
            address = address_for(lb["DNSName"], set(names.values()))
            names[lb["DNSName"]] = address
            config = self.config(lb, address)
            path = self.folder / f"{name}.json"
            previous = json.loads(path.read_text()) if path.exists() else None
            if previous != config:
                path.write_text(json.dumps(config, sort_keys=True) + "\n")
                changes.append(f"load balancer {name} config")
            shape = [(li["port"], li["protocol"], li.get("cert", "")) for li in config["listeners"]]
            old_shape = [
                (li["port"], li["protocol"], li.get("cert", "")) for li in (previous or {}).get("listeners", [])
            ]
            pid = live_pid(self.pid_file(name), b"localcloud.alb")
            if pid is not None and (shape != old_shape or (previous or {}).get("address") != address):
                self.stop_listener(name)
                pid = None
            if pid is None and config["listeners"]:
                spawn("localcloud.alb", [str(path)], self.pid_file(name), f"the listener of {name}", settle=0.5)
                changes.append(f"listener {name} at {address} ({lb['DNSName']})")
        for pid_file in self.folder.glob("*.pid"):
            if pid_file.stem not in wanted:
                self.stop_listener(pid_file.stem)
                (self.folder / f"{pid_file.stem}.json").unlink(missing_ok=True)
                changes.append(f"removed listener {pid_file.stem}")
        if write_hosts(self.plane.scope, names):
            changes.append(f"/etc/hosts: {', '.join(sorted(names)) or 'no load balancers'}")
        self.plane.sync_firewall()  # a new load balancer, or new security groups on one
        return changes

    def stop_listener(self, name: str) -> None:
        pid = live_pid(self.pid_file(name), b"localcloud.alb")
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                if live_pid(self.pid_file(name), b"localcloud.alb") is None:
                    break
                time.sleep(0.1)
        self.pid_file(name).unlink(missing_ok=True)

    def down(self) -> list[str]:
        """Stop every listener of this local cloud and drop its hosts block."""
        changes = []
        for pid_file in sorted(self.folder.glob("*.pid")) if self.folder.is_dir() else []:
            self.stop_listener(pid_file.stem)
            changes.append(f"stopped listener {pid_file.stem}")
        for config in self.folder.glob("*.json") if self.folder.is_dir() else []:
            config.unlink()
        if write_hosts(self.plane.scope, {}):
            changes.append("/etc/hosts: load balancer names removed")
        return changes
