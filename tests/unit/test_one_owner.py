"""One owner for every fact: the rules the code base keeps, checked on the files themselves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
YAML_DIRS = ("playbooks", "molecule", "roles", "inventories", "group_vars", "awx")


def _files(*dirs: str, suffix: str = ".yml") -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob(f"*{suffix}") if p.is_file())


def test_no_role_knows_the_local_cloud() -> None:
    """Roles speak only AWS: the local cloud follows the emulator by itself (localcloud/controller.py)."""
    pattern = re.compile(r"aws_emulated|localcloud|role_path")
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in sorted((ROOT / "roles").rglob("*"))
        if p.is_file()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_only_the_local_inventory_sets_an_endpoint() -> None:
    """Outside the local cloud's own code and the tests' fixtures, the endpoint is set in two places."""
    skip = {".venv", ".state", ".git", "localcloud", "tests", "app"}
    setters = sorted(
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.yml")
        if not skip & set(p.relative_to(ROOT).parts) and re.search(r"^\s*endpoint_url\s*:", p.read_text(), re.M)
    )
    assert setters == ["inventories/local/aws_ec2.yml", "inventories/local/group_vars/all.yml"]


def _plays(path: Path) -> list[dict[str, Any]]:
    loaded = yaml.safe_load(path.read_text())
    return [p for p in loaded if isinstance(p, dict) and "hosts" in p] if isinstance(loaded, list) else []


def test_every_play_talks_to_aws_through_the_one_connection_setting() -> None:
    defaults = {
        f"{path.relative_to(ROOT)}: {play['name']}": play["module_defaults"]
        for path in [ROOT / "site.yml", *_files("playbooks", "molecule")]
        for play in _plays(path)
        if "module_defaults" in play
    }
    assert defaults  # the layers, deploy, teardown, molecule's plays
    assert {
        name: value
        for name, value in defaults.items()
        if value != {"group/resumestack.cloud.aws": "{{ aws_connection }}"}
    } == {}


def test_every_aws_lookup_passes_the_connection_setting() -> None:
    lookups = [
        (str(p.relative_to(ROOT)), m.group(0))
        for p in _files(*YAML_DIRS)
        for m in re.finditer(r"lookup\('amazon\.aws\.[^']+',[^}]*?\)", p.read_text(), re.S)
    ]
    assert lookups  # the outputs, the bastion key, the DB password
    assert [(path, call) for path, call in lookups if not re.search(r"\*\*(\w+_)?aws_connection", call)] == []


def test_every_inventory_names_its_connection() -> None:
    for env in ("local", "dev", "staging", "prod"):
        folder = ROOT / "inventories" / env / "group_vars"
        found = [p for p in folder.rglob("*.yml") if "aws_connection" in (yaml.safe_load(p.read_text()) or {})]
        assert len(found) == 1, (env, found)
        assert yaml.safe_load(found[0].read_text())["aws_connection"]["region"] == "{{ aws_region }}"


def test_every_inventory_gives_throttled_calls_more_attempts() -> None:
    """botocore's standard mode makes 3 attempts: at a 10 % throttling share, one call in a thousand
    of a module with no retry of its own (community.aws.ecs_ecr's DescribeRepositories) fails."""
    for env in ("local", "dev", "staging", "prod"):
        folder = ROOT / "inventories" / env / "group_vars"
        settings = [yaml.safe_load(p.read_text()) or {} for p in folder.rglob("*.yml")]
        connection = next(s["aws_connection"] for s in settings if "aws_connection" in s)
        retries = connection.get("aws_config", {}).get("retries", {})
        assert retries.get("mode") in ("standard", "adaptive"), env
        assert retries.get("max_attempts", 0) >= 10, env
