"""collections/requirements.yml pins exactly what the venv installs, and covers every collection the code uses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FQCN = re.compile(r"^\s*-?\s*([a-z_]+\.[a-z_]+)\.[a-z_0-9]+:", re.M)
BUILTIN = {"ansible.builtin", "resumestack.cloud"}  # the local collection lives in collections/


def _pins() -> dict[str, str]:
    data = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    return {c["name"]: str(c["version"]) for c in data["collections"]}


def _installed() -> dict[str, str]:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-galaxy")), "collection", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    found: dict[str, str] = {}
    for collections in json.loads(out).values():
        for name, info in collections.items():
            found.setdefault(name, info["version"])
    return found


def test_requirements_pin_exactly_the_installed_versions() -> None:
    installed = _installed()
    assert {name: installed.get(name) for name in _pins()} == _pins()


def test_requirements_cover_every_collection_the_playbooks_and_roles_call() -> None:
    used: set[str] = set()
    for path in [*ROOT.glob("roles/**/*.yml"), *ROOT.glob("playbooks/**/*.yml"), *ROOT.glob("molecule/**/*.yml")]:
        used |= set(FQCN.findall(path.read_text()))
    assert used - BUILTIN <= set(_pins()), sorted(used - BUILTIN - set(_pins()))
