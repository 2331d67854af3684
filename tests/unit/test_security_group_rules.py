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
