"""No task of the roles or playbooks uses a module option its collection has deprecated.

The installed collections say which options go away (``ec2_instance``'s ``network:``: "deprecated and
will be removed in a release after 2026-12-01"): the module's DOCUMENTATION, read here, not a list
kept by hand. A run that uses one prints a deprecation warning today and fails once the release that
removes the option is installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TASK_DIRS = [ROOT / "roles", ROOT / "playbooks", ROOT / "molecule"]


@cache
def collections_root() -> Path:
    spec = importlib.util.find_spec("ansible_collections.amazon.aws")
    assert spec is not None and spec.submodule_search_locations, "amazon.aws is not installed"
    return Path(next(iter(spec.submodule_search_locations))).parents[1]


@cache
def deprecated_options(fqcn: str) -> frozenset[str]:
    """Top-level options the documentation deprecates in favour of another option ("... is deprecated and
    will be removed ..., use O(network_interfaces) ... instead"): using them is what warns. (Options
    such as iam_role's ``create_instance_profile`` warn when they are left out, and ec2_tag's ``state``
    only lost a value: those are not flagged.)"""
    namespace, name, module = fqcn.split(".", 2)
    path = collections_root() / namespace / name / "plugins" / "modules" / f"{module}.py"
    if not path.exists():
        return frozenset()
    source = path.read_text()
    start = source.index("DOCUMENTATION")
    text = (
        source[start:].split('"""', 2)[1] if '"""' in source[start : start + 40] else source[start:].split("'''", 2)[1]
    )
    options = (yaml.safe_load(text) or {}).get("options") or {}
    found = set()
    for option, spec in options.items():
        description = spec.get("description") or []
        lines = [description] if isinstance(description, str) else description
        if any("deprecated" in str(line).lower() and "use O(" in str(line) for line in lines):
            found.add(option)
    return frozenset(found)


def tasks_in(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from tasks_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from tasks_in(item)


def task_files() -> list[Path]:
    return sorted(p for d in TASK_DIRS for p in d.rglob("*.yml") if "templates" not in p.parts)


def test_the_documentation_marks_ec2_instance_network_deprecated() -> None:
    """The reading of the documentation finds what it looks for (the scan would pass vacuously otherwise)."""
    assert "network" in deprecated_options("amazon.aws.ec2_instance")


@pytest.mark.parametrize("path", task_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_task_uses_a_deprecated_option(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        for task in tasks_in(doc):
            for key, args in task.items():
                if not isinstance(args, dict) or not str(key).startswith(("amazon.aws.", "community.aws.")):
                    continue
                used = deprecated_options(key) & set(args)
                where = path.relative_to(ROOT)
                assert not used, f"{where}: {key} uses the deprecated option(s) {sorted(used)}"
