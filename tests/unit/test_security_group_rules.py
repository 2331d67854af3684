"""Every security group rule the roles write that names a group by name also describes that group.

amazon.aws.ec2_security_group looks a rule's ``group_name`` up; when the group does not exist (a
network made before the group was added) and the rule has no ``group_desc``, check mode fails
("not found and would be automatically created ... but no description was provided",
``_target_from_rule_with_group_name``); with one it reports the group it would create.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULE_KEYS = {"proto", "ports", "from_port", "to_port", "rule_desc"}


def rules_naming_a_group(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping below ``node`` that is a security group rule naming its peer by group name."""
    if isinstance(node, dict):
        if "group_name" in node and RULE_KEYS & set(node):
            yield node
        for value in node.values():
            yield from rules_naming_a_group(value)
    elif isinstance(node, list):
        for item in node:
            yield from rules_naming_a_group(item)


def role_files() -> list[Path]:
    return sorted(p for p in (ROOT / "roles").rglob("*.yml") if "molecule" not in p.parts)


def test_the_network_role_has_rules_naming_groups() -> None:
    """The scan below finds what it looks for (it would pass vacuously otherwise)."""
    data = yaml.safe_load((ROOT / "roles" / "network" / "vars" / "main.yml").read_text())
    assert len(list(rules_naming_a_group(data))) >= 5


@pytest.mark.parametrize("path", role_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_rule_naming_a_group_carries_its_description(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        for rule in rules_naming_a_group(doc):
            where = path.relative_to(ROOT)
            assert str(rule.get("group_desc") or "").strip(), f"{where}: a rule without group_desc: {rule}"


def network_groups() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "roles" / "network" / "vars" / "main.yml").read_text())
    return dict(data["__network_security_groups"])


def test_every_group_states_its_egress_and_the_task_sends_it() -> None:
    """Without rules_egress a new group keeps AWS's default egress: all traffic to 0.0.0.0/0."""
    groups = network_groups()
    assert set(groups) == {"alb", "bastion", "app", "proxy", "db"}
    assert all(isinstance(g.get("egress"), list) for g in groups.values()), {
        k: g.get("egress") for k, g in groups.items()
    }
    tasks = yaml.safe_load((ROOT / "roles" / "network" / "tasks" / "security_groups.yml").read_text())
    sent = [t["amazon.aws.ec2_security_group"] for t in tasks if "amazon.aws.ec2_security_group" in t]
    egress = [a for a in sent if a.get("rules_egress") == "{{ item.value.egress }}" and a.get("purge_rules_egress")]
    assert len(egress) == 1
    # Without rules and with purge_rules (its default), amazon.aws.ec2_security_group revokes every
    # ingress rule of the group.
    assert "rules" in egress[0] or egress[0].get("purge_rules") is False
    # The task that creates the groups gives rules_egress too: left out, the module puts AWS's
    # allow-all egress back on every run (and the task above takes it away again).
    create = [a for a in sent if a.get("rules") == "{{ item.value.rules }}"]
    assert len(create) == 1 and "rules_egress" in create[0]


def test_the_database_opens_no_connection() -> None:
    assert network_groups()["db"]["egress"] == []


def test_no_group_allows_all_traffic_out() -> None:
    for name, group in network_groups().items():
        for rule in group["egress"]:
            if isinstance(rule, dict):
                assert str(rule.get("proto")) not in ("-1", "all"), f"{name}: {rule}"
                assert rule.get("ports") or rule.get("from_port") is not None, f"{name}: {rule}"


def test_each_tier_reaches_only_the_groups_it_talks_to() -> None:
    def peers(name: str) -> set[str]:
        return {
            r["group_name"].split(".")[-1].rstrip("} ")
            for r in network_groups()[name]["egress"]
            if isinstance(r, dict) and "group_name" in r
        }

    assert peers("alb") == {"app"}
    assert peers("app") == {"db", "proxy"}
    assert peers("bastion") == {"db", "proxy"}
    assert peers("proxy") == {"db"}
