"""The nftables ruleset generated from security groups: what it admits, what it drops, and what it leaves alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from localcloud import firewall
from localcloud.firewall import Endpoint, Group, Management, Party, Rule, Topology

APP, DB, BASTION, PROXY, ALB = "sg-app", "sg-db", "sg-bastion", "sg-proxy", "sg-alb"
ALL_OUT = (Rule("-1", cidrs=("0.0.0.0/0",)),)


def topology() -> Topology:
    groups = {
        ALB: Group(ALB, ingress=(Rule("tcp", 443, 443, cidrs=("0.0.0.0/0",)),), egress=ALL_OUT),
        APP: Group(APP, ingress=(Rule("tcp", 8000, 8000, groups=(ALB,)),), egress=ALL_OUT),
        BASTION: Group(BASTION, egress=ALL_OUT),
        PROXY: Group(PROXY, ingress=(Rule("tcp", 5432, 5432, groups=(APP, BASTION)),), egress=ALL_OUT),
        DB: Group(DB, ingress=(Rule("tcp", 5432, 5432, groups=(APP, BASTION, PROXY)),), egress=ALL_OUT),
    }
    parties = [
        Party("10.9.128.10", frozenset({BASTION}), "bastion"),
        Party("10.9.143.250", frozenset({APP}), "task"),
        Party("10.9.135.7", frozenset({DB}), "db"),
        Party("10.9.135.8", frozenset({PROXY}), "proxy"),
        Party("10.9.7.1", frozenset({ALB}), "alb"),
    ]
    return Topology(
        cidrs=["10.9.0.0/16"],
        parties=parties,
        groups=groups,
        endpoints=[Endpoint("10.9.0.1", 5410)],
        management=[Management("10.9.0.1", "10.9.128.10", 22)],
    )


def chain(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"  chain {name} {{")
    end = lines.index("  }", start)
    return [line.strip() for line in lines[start + 1 : end] if not line.strip().startswith("#")]


def test_the_db_admits_the_members_of_the_referenced_groups_on_its_port_and_drops_the_rest() -> None:
    text = firewall.ruleset("abc123", topology())
    assert chain(text, "ingress_10_9_135_7") == [
        "ip saddr { 10.9.143.250 } tcp dport 5432 return",
        "ip saddr { 10.9.128.10 } tcp dport 5432 return",
        "ip saddr { 10.9.135.8 } tcp dport 5432 return",
        "drop",
    ]


def test_the_app_admits_only_the_load_balancer_so_this_host_is_dropped() -> None:
    text = firewall.ruleset("abc123", topology())
    assert chain(text, "ingress_10_9_143_250") == ["ip saddr { 10.9.7.1 } tcp dport 8000 return", "drop"]


def test_a_group_with_no_member_admits_nobody_and_an_interface_without_rules_drops_everything() -> None:
    topo = topology()
    topo.parties = [p for p in topo.parties if p.what != "proxy"]
    text = firewall.ruleset("abc123", topo)
    assert "10.9.135.8" not in "\n".join(chain(text, "ingress_10_9_135_7"))
    assert chain(text, "ingress_10_9_128_10") == ["drop"]  # the bastion's group has no ingress rule


def test_open_egress_returns_for_everything_and_the_aws_endpoint_is_judged_as_443() -> None:
    text = firewall.ruleset("abc123", topology())
    assert chain(text, "egress_10_9_143_250") == ["ip daddr 10.9.0.1 tcp dport 5410 return", "return", "drop"]
    topo = topology()
    topo.groups[APP] = Group(APP, egress=(Rule("tcp", 5432, 5432, groups=(DB,)),))
    narrow = chain(firewall.ruleset("abc123", topo), "egress_10_9_143_250")
    assert narrow == ["ip daddr { 10.9.135.7 } tcp dport 5432 return", "drop"]  # no 443: no AWS API either


def test_the_table_is_replaced_atomically_is_stateful_and_judges_only_this_cloud_s_addresses() -> None:
    text = firewall.ruleset("abc123", topology())
    assert text.splitlines()[:3] == [
        "table inet localcloud_abc123 {}",
        "delete table inet localcloud_abc123",
        "table inet localcloud_abc123 {",
    ]
    guard = chain(text, "guard")
    assert guard[:3] == [
        "ip saddr != @vpc ip daddr != @vpc return",
        "ct state established,related accept",
        "ip saddr 10.9.0.1 ip daddr 10.9.128.10 tcp dport 22 accept",
    ]
    assert "reject" not in text  # security groups drop silently
    for hook in ("forward", "input", "output"):
        assert f"type filter hook {hook} priority -5; policy accept;" in text


def test_protocols_and_port_ranges_translate() -> None:
    topo = Topology(
        cidrs=["10.9.0.0/16"],
        parties=[Party("10.9.1.1", frozenset({"sg-x"}))],
        groups={
            "sg-x": Group(
                "sg-x",
                ingress=(
                    Rule("tcp", 1000, 2000, cidrs=("10.9.0.0/24",)),
                    Rule("udp", -1, -1, cidrs=("10.9.2.0/24",)),
                    Rule("icmp", -1, -1, cidrs=("10.9.3.0/24",)),
                    Rule("-1", groups=("sg-x",)),
                ),
            )
        },
    )
    assert chain(firewall.ruleset("s", topo), "ingress_10_9_1_1") == [
        "ip saddr 10.9.0.0/24 tcp dport 1000-2000 return",
        "ip saddr 10.9.2.0/24 meta l4proto udp return",
        "ip saddr 10.9.3.0/24 meta l4proto icmp return",
        "ip saddr { 10.9.1.1 } return",
        "drop",
    ]


def test_permissions_from_the_ec2_api_become_rules() -> None:
    group = firewall.group_from_api(
        {
            "GroupId": "sg-1",
            "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": "sg-2"}]}
            ],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        }
    )
    assert group.ingress == (Rule("tcp", 5432, 5432, groups=("sg-2",)),)
    assert group.egress == (Rule("-1", None, None, cidrs=("0.0.0.0/0",)),)


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed")
def test_nft_accepts_the_generated_text() -> None:
    text = firewall.ruleset("unit00", topology())
    proc = subprocess.run(["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True, check=False)
    if "Operation not permitted" in proc.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN")
    assert proc.returncode == 0, proc.stderr


def test_enforcement_without_nft_fails_naming_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firewall, "nft_available", lambda: False)
    with pytest.raises(firewall.LocalCloudError, match=r"nft not found.*LOCALCLOUD_SECURITY_GROUPS=off"):
        firewall.require_enforcement()


@pytest.mark.parametrize("value", ["0\n", None], ids=["off", "br_netfilter-not-loaded"])
def test_enforcement_fails_unless_bridged_traffic_goes_through_nftables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str | None
) -> None:
    """Without br_netfilter and bridge-nf-call-iptables=1 two containers on one network never meet
    the inet hooks: the groups would judge nothing between them (moby/moby#48492)."""
    flag = tmp_path / "bridge-nf-call-iptables"
    if value is not None:
        flag.write_text(value)
    monkeypatch.setattr(firewall, "nft_available", lambda: True)
    monkeypatch.setattr(firewall, "BRIDGE_NF_CALL", flag)
    with pytest.raises(firewall.LocalCloudError, match="bridge-nf-call-iptables"):
        firewall.require_enforcement()
    flag.write_text("1\n")
    firewall.require_enforcement()
