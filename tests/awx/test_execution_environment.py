"""The execution environment definition: ansible-builder turns it into a build context that carries
exactly the collection and Python pins the checkout uses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE_FILE = ROOT / "execution-environment.yml"
PIN = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;#]+)")


def pins(text: str) -> dict[str, str]:
    """name (lower-case, - for _) -> exact version, of every `name==version` line."""
    found = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def collection_pins(path: Path) -> dict[str, str]:
    return {c["name"]: str(c["version"]) for c in yaml.safe_load(path.read_text())["collections"]}


@pytest.fixture(scope="module")
def ee() -> dict:
    return yaml.safe_load(EE_FILE.read_text())


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`ansible-builder create` into a temporary build context (the image build needs registries)."""
    ctx = tmp_path_factory.mktemp("ee") / "context"
    proc = subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "create",
            "-f",
            str(EE_FILE),
            "-c",
            str(ctx),
            "--output-filename",
            "Containerfile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ctx


def test_ee_uses_builder_v3_schema_and_the_repository_dependency_files(ee: dict) -> None:
    assert ee["version"] == 3
    deps = ee["dependencies"]
    assert deps["galaxy"] == "collections/requirements.yml"
    assert (ROOT / deps["python"]).is_file()
    assert (ROOT / deps["system"]).is_file()


def test_builder_create_writes_a_context_with_the_pinned_collections(context: Path) -> None:
    built = collection_pins(context / "_build" / "requirements.yml")
    assert built == collection_pins(ROOT / "collections" / "requirements.yml")
    assert {"amazon.aws", "community.aws", "ansible.utils"} <= set(built)


def test_builder_create_writes_a_context_with_the_python_requirements(context: Path) -> None:
    built = pins((context / "_build" / "requirements.txt").read_text())
    assert {"boto3", "botocore", "netaddr"} <= set(built)
    assert (context / "_build" / "bindep.txt").read_text() == (ROOT / "awx" / "ee" / "bindep.txt").read_text()
    containerfile = (context / "Containerfile").read_text()
    lock = pins((ROOT / "requirements.txt").read_text())
    for package in ("ansible-core", "ansible-runner"):
        assert f"{package}=={lock[package]}" in containerfile, package


def test_ee_python_pins_agree_with_the_repository_lock() -> None:
    ee_pins = pins((ROOT / "awx" / "ee" / "requirements.txt").read_text())
    lock = pins((ROOT / "requirements.txt").read_text())
    assert ee_pins, "awx/ee/requirements.txt pins nothing"
    mismatched = {name: (version, lock.get(name)) for name, version in ee_pins.items() if lock.get(name) != version}
    assert not mismatched, f"EE pin != requirements.txt: {mismatched}"
    assert ee_pins["boto3"] == lock["boto3"] and ee_pins["botocore"] == lock["botocore"]


def test_ee_ansible_core_and_runner_pins_agree_with_the_repository_lock(ee: dict) -> None:
    lock = pins((ROOT / "requirements.txt").read_text())
    assert pins(ee["dependencies"]["ansible_core"]["package_pip"]) == {"ansible-core": lock["ansible-core"]}
    assert pins(ee["dependencies"]["ansible_runner"]["package_pip"]) == {"ansible-runner": lock["ansible-runner"]}


def test_ee_collection_pins_are_exact_versions() -> None:
    for name, version in collection_pins(ROOT / "collections" / "requirements.yml").items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly: {version}"
