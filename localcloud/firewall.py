"""Security groups enforced on the local cloud's Docker networks, with nftables.

On AWS every network interface carries security groups: a connection between two interfaces needs
the source's egress rules AND the destination's ingress rules to allow it, and the answer holds for
the whole connection (stateful: replies pass). A refused packet is dropped, never rejected, so the
client waits until it times out. The local cloud gives every party an address of its own on the
VPC's Docker network (test hosts, task containers, the PostgreSQL forwarder of each DB endpoint, the
RDS Proxy stand-in, the load balancer's source address) and this module turns the emulator's
security groups into one nftables table per local cloud, ``inet localcloud_<scope>``, replaced
atomically with ``nft -f`` on every sync.

Scope: a packet is judged only when its source or destination is one of this local cloud's VPC
CIDRs (Docker refuses overlapping networks, so no other local cloud owns them); everything else on
the machine passes this table untouched, and Docker's own iptables chains still apply after it.

``ruleset`` is a pure function of (parties, groups): the unit tests read its text without root.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.emulator import LocalCloudError

TABLE_PREFIX = "localcloud_"
PRIORITY = -5  # before Docker's filter chains (0): a drop here is final, an accept decides nothing more
AWS_ENDPOINT_PORT = 443  # the public AWS API endpoint the emulator's forwarder stands for


@dataclass(frozen=True)
class Rule:
    """One security group rule: a protocol and port range, and the peers (CIDRs, groups) it names."""

    protocol: str  # "-1" (all), "tcp", "udp", "icmp" or an IP protocol number
    from_port: int | None = None
    to_port: int | None = None
    cidrs: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def covers(self, protocol: str, port: int) -> bool:
        """Whether this rule's protocol and ports admit ``protocol``/``port`` (any peer)."""
        proto = normal_protocol(self.protocol)
        if proto == "-1":
            return True
        if proto != protocol:
            return False
        if self.from_port is None or self.from_port < 0:
            return True
        return self.from_port <= port <= (self.to_port if self.to_port is not None else self.from_port)


@dataclass(frozen=True)
class Group:
    group_id: str
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Party:
    """An address of the local cloud that stands for an AWS network interface."""

    address: str
    groups: frozenset[str]
    what: str = ""


@dataclass(frozen=True)
class Endpoint:
    """A service on the host that stands for an AWS public endpoint (the emulator's forwarder):
    egress to it is judged as egress to ``stands_for_port`` (443) of that address."""

    address: str
    port: int
    stands_for_port: int = AWS_ENDPOINT_PORT


@dataclass(frozen=True)
class Management:
    """A path that on AWS needs no security group rule (SSH from this host stands for Session
    Manager, which reaches an instance through its agent): accepted before any group is asked."""

    source: str
    destination: str
    port: int


@dataclass
class Topology:
    cidrs: list[str] = field(default_factory=list)
    parties: list[Party] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)
    management: list[Management] = field(default_factory=list)


def normal_protocol(value: str) -> str:
    return {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}.get(str(value).lower(), str(value).lower())


def rules_from_permissions(permissions: Iterable[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """EC2's IpPermissions (or IpPermissionsEgress) as rules; IPv6 ranges are not modelled (the
    Docker networks carry IPv4 only)."""
    rules = []
    for perm in permissions:
        rules.append(
            Rule(
                protocol=normal_protocol(str(perm.get("IpProtocol", "-1"))),
                from_port=perm.get("FromPort"),
                to_port=perm.get("ToPort"),
                cidrs=tuple(r["CidrIp"] for r in perm.get("IpRanges", []) if r.get("CidrIp")),
                groups=tuple(p["GroupId"] for p in perm.get("UserIdGroupPairs", []) if p.get("GroupId")),
            )
        )
    return tuple(rules)


def group_from_api(sg: Mapping[str, Any]) -> Group:
    return Group(
        group_id=str(sg["GroupId"]),
        ingress=rules_from_permissions(sg.get("IpPermissions", [])),
        egress=rules_from_permissions(sg.get("IpPermissionsEgress", [])),
    )


def table_name(scope: str) -> str:
    return f"{TABLE_PREFIX}{scope}"


def _chain(address: str, direction: str) -> str:
    return f"{direction}_{address.replace('.', '_')}"


def _match(rule: Rule) -> str:
    """The protocol and port part of a rule as an nftables match ('' for all traffic)."""
    proto = normal_protocol(rule.protocol)
    if proto == "-1":
        return ""
    if proto in ("tcp", "udp"):
        if rule.from_port is None or rule.from_port < 0:
            return f"meta l4proto {proto}"
        low, high = rule.from_port, rule.to_port if rule.to_port is not None else rule.from_port
        ports = str(low) if low == high else f"{low}-{high}"
        return f"{proto} dport {ports}"
    if proto == "icmp":
        return "meta l4proto icmp"  # type and code are not modelled: any ICMP the rule's protocol admits
    return f"meta l4proto {int(proto)}"


def _peer_matches(rule: Rule, field_name: str, members: Mapping[str, list[str]]) -> list[str]:
    """One match per peer the rule names: a CIDR, or the addresses of a group's members."""
    out = []
    for cidr in rule.cidrs:
        out.append("" if ipaddress.ip_network(cidr, strict=False).prefixlen == 0 else f"ip {field_name} {cidr}")
    for group in rule.groups:
        addresses = members.get(group, [])
        if addresses:  # a group with no member admits nobody
            out.append(f"ip {field_name} {{ {', '.join(addresses)} }}")
    return out


def _party_chain(party: Party, direction: str, topology: Topology, members: Mapping[str, list[str]]) -> list[str]:
    peer_field = "daddr" if direction == "egress" else "saddr"
    lines = [f"  chain {_chain(party.address, direction)} {{", f"    # {direction} of {party.what or party.address}"]
    rules = [r for gid in sorted(party.groups) for r in getattr(topology.groups.get(gid, Group(gid)), direction)]
    allowed: list[str] = []
    if direction == "egress":
        for endpoint in topology.endpoints:
            if any(r.covers("tcp", endpoint.stands_for_port) and _admits(r, endpoint.address, members) for r in rules):
                allowed.append(f"ip daddr {endpoint.address} tcp dport {endpoint.port}")
    for rule in rules:
        proto = _match(rule)
        for peer in _peer_matches(rule, peer_field, members):
            allowed.append(" ".join(part for part in (peer, proto) if part))
    for line in dict.fromkeys(allowed):  # keep order, drop repeats
        lines.append(f"    {line} return" if line else "    return")
    lines += ["    drop", "  }"]
    return lines


def _admits(rule: Rule, address: str, members: Mapping[str, list[str]]) -> bool:
    addr = ipaddress.ip_address(address)
    if any(addr in ipaddress.ip_network(cidr, strict=False) for cidr in rule.cidrs):
        return True
    return any(address in members.get(group, []) for group in rule.groups)


def ruleset(scope: str, topology: Topology) -> str:
    """The nftables table of one local cloud: delete-and-create in one transaction (``nft -f``)."""
    table = table_name(scope)
    members: dict[str, list[str]] = {}
    for party in sorted(topology.parties, key=lambda p: ipaddress.ip_address(p.address)):
        for group in party.groups:
            members.setdefault(group, []).append(party.address)
    parties = sorted(topology.parties, key=lambda p: ipaddress.ip_address(p.address))
    lines = [
        f"table inet {table} {{}}",  # so that the delete below never fails on a first run
        f"delete table inet {table}",
        f"table inet {table} {{",
    ]
    if topology.cidrs:
        lines += [
            "  set vpc {",
            "    type ipv4_addr; flags interval",
            f"    elements = {{ {', '.join(sorted(set(topology.cidrs)))} }}",
            "  }",
        ]
    guard = ["  chain guard {"]
    if topology.cidrs:
        guard.append("    ip saddr != @vpc ip daddr != @vpc return")
    else:
        guard.append("    return")
    guard.append("    ct state established,related accept")
    for path in topology.management:
        guard.append(f"    ip saddr {path.source} ip daddr {path.destination} tcp dport {path.port} accept")
    if parties:
        egress = ", ".join(f"{p.address} : jump {_chain(p.address, 'egress')}" for p in parties)
        ingress = ", ".join(f"{p.address} : jump {_chain(p.address, 'ingress')}" for p in parties)
        guard += [f"    ip saddr vmap {{ {egress} }}", f"    ip daddr vmap {{ {ingress} }}"]
    guard.append("  }")
    lines += guard
    for hook in ("forward", "input", "output"):
        lines += [
            f"  chain {hook}_hook {{",
            f"    type filter hook {hook} priority {PRIORITY}; policy accept;",
            "    jump guard",
            "  }",
        ]
    for party in parties:
        lines += _party_chain(party, "egress", topology, members)
        lines += _party_chain(party, "ingress", topology, members)
    lines.append("}")
    return "\n".join(lines) + "\n"


# Packets between two containers on one Docker bridge reach the inet hooks only when br_netfilter
# is loaded and this is 1 (Docker >= 27.3 no longer loads the module: moby/moby#48492).
BRIDGE_NF_CALL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


def nft_available() -> bool:
    return shutil.which("nft") is not None


def require_enforcement() -> None:
    """Fail, saying how to fix it, when this host cannot enforce the groups between containers:
    a firewall that silently judges nothing would let every test of a group pass."""
    off = "or set LOCALCLOUD_SECURITY_GROUPS=off to run without security groups"
    if not nft_available():
        raise LocalCloudError(f"security groups: nft not found; install nftables (scripts/dataplane-setup.sh) {off}")
    try:
        bridged = BRIDGE_NF_CALL.read_text().strip()
    except OSError:
        bridged = "absent"
    if bridged != "1":
        raise LocalCloudError(
            f"security groups: {BRIDGE_NF_CALL} is {bridged}, so traffic between containers on one network "
            "would bypass nftables; run scripts/dataplane-setup.sh (modprobe br_netfilter; "
            f"sysctl -w net.bridge.bridge-nf-call-iptables=1) {off}"
        )


def apply(scope: str, text: str) -> None:
    """Replace this local cloud's table in one transaction."""
    proc = subprocess.run(["nft", "-f", "-"], input=text, capture_output=True, text=True, check=False)  # noqa: S607
    if proc.returncode != 0:
        raise LocalCloudError(f"nft -f (table {table_name(scope)}) failed: {proc.stderr.strip()[-800:]}")


def remove(scope: str) -> bool:
    """Drop this local cloud's table; False when there was none."""
    argv = ["nft", "delete", "table", "inet", table_name(scope)]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0  # noqa: S603


def present(scope: str) -> bool:
    argv = ["nft", "list", "table", "inet", table_name(scope)]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0  # noqa: S603
