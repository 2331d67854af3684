"""awx/configure_awx.yml: it parses, its surveys ask what the issue asks, its inventories are the
repository's, and no playbook of the project waits for an answer AWX could never give."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOK = ROOT / "awx" / "configure_awx.yml"
# AWX's environments: not `local`, whose cloud answers on the workstation's loopback.
ENVIRONMENTS = ["dev", "staging", "prod"]
SKIP_DIRS = {".venv", ".state", "artifacts", ".git", "node_modules", "context", ".ansible", ".ruff_cache", ".tox"}
PAUSE_MODULES = {"pause", "ansible.builtin.pause", "ansible.legacy.pause"}


def awx_vars() -> dict[str, Any]:
    play = yaml.safe_load(PLAYBOOK.read_text())[0]
    merged: dict[str, Any] = {}
    for name in play.get("vars_files", []):
        merged.update(yaml.safe_load((PLAYBOOK.parent / name).read_text()))
    return merged


def survey_question(spec: dict[str, Any], variable: str) -> dict[str, Any]:
    matches = [q for q in spec["spec"] if q["variable"] == variable]
    assert len(matches) == 1, f"survey {spec['name']} asks for {variable} {len(matches)} times"
    return matches[0]


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CONTROLLER_", "AWS_"))}
    return dict(clean, PATH=f"{BIN}:{clean.get('PATH', '')}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))


def test_configure_awx_passes_syntax_check() -> None:
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "--syntax-check", str(PLAYBOOK)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_configure_awx_uses_the_awx_collection_by_fqcn() -> None:
    tasks = yaml.safe_load(PLAYBOOK.read_text())[0]["tasks"]
    modules = {key for task in tasks for key in task if "." in key}
    assert {
        "awx.awx.project",
        "awx.awx.credential",
        "awx.awx.inventory",
        "awx.awx.inventory_source",
        "awx.awx.host",
        "awx.awx.job_template",
        "awx.awx.workflow_job_template",
    } <= modules
    credential = next(t for t in tasks if "awx.awx.credential" in t)
    assert credential["awx.awx.credential"]["credential_type"] == "Amazon Web Services"
    assert credential.get("no_log") is True
    source = next(t for t in tasks if "awx.awx.inventory_source" in t)["awx.awx.inventory_source"]
    assert source["source"] == "ec2"
    assert source["update_on_launch"] is True
    # A terminated bastion must leave the inventory: the source owns its hosts and groups.
    assert source["overwrite"] is True


def test_environment_survey_is_a_required_choice_of_the_awx_environments() -> None:
    question = awx_vars()["awx_survey_question_environment"]
    assert question["variable"] == "env_name"
    assert question["type"] == "multiplechoice"
    assert question["choices"] == ENVIRONMENTS
    assert question["required"] is True
    for directory in question["choices"]:
        assert (ROOT / "inventories" / directory).is_dir(), f"no inventories/{directory} for survey choice {directory}"


def test_image_tag_survey_is_required_text_with_length_limits_and_a_checked_pattern() -> None:
    data = awx_vars()
    question = data["awx_survey_question_image_tag"]
    assert question["type"] == "text"
    assert question["required"] is True
    assert (question["min"], question["max"]) == (1, 128)
    pattern = re.compile(data["awx_image_tag_pattern"])
    assert data["awx_image_tag_pattern"] in question["question_description"]
    for good in ("1.2.3", "sha-0f3a9c1", "v2_rc.1", "latest", "a" * 128):
        assert pattern.fullmatch(good), good
    for bad in ("", "-x", ".x", "a b", "tag:1", "a" * 129, "x/y"):
        assert not pattern.fullmatch(bad), bad
    # The promise of the description: the role checks the same pattern before it changes anything.
    validate = (ROOT / "roles" / "app_deploy" / "tasks" / "validate.yml").read_text()
    assert f"app_deploy_image_tag is match('{data['awx_image_tag_pattern']}')" in validate


def test_teardown_template_asks_for_the_environment_and_a_required_confirmation() -> None:
    data = awx_vars()
    teardown = next(t for t in data["awx_job_templates"] if t["playbook"] == "playbooks/teardown.yml")
    survey = data["awx_surveys"][teardown["survey"]]
    assert survey_question(survey, "env_name")["choices"] == ENVIRONMENTS
    confirm = survey_question(survey, "teardown_confirm")
    assert confirm["type"] == "text"
    assert confirm["required"] is True
    assert confirm["min"] >= 1
    # The answer must equal the environment name: teardown.yml compares the two.
    assert "teardown_confirm | default('') == env_name" in (ROOT / "playbooks" / "teardown.yml").read_text()


def test_every_job_template_and_the_workflow_have_the_surveys_they_need() -> None:
    data = awx_vars()
    by_playbook = {t["playbook"]: t for t in data["awx_job_templates"]}
    for playbook in ("playbooks/configure.yml", "playbooks/deploy.yml", "playbooks/teardown.yml"):
        survey = data["awx_surveys"][by_playbook[playbook]["survey"]]
        assert survey_question(survey, "env_name")["type"] == "multiplechoice"
    provision = next(t for t in data["awx_job_templates"] if t["name"] == "Resume provision")
    assert survey_question(data["awx_surveys"][provision["survey"]], "env_name")
    deploy_survey = data["awx_surveys"][by_playbook["playbooks/deploy.yml"]["survey"]]
    assert survey_question(deploy_survey, "app_deploy_image_tag")["type"] == "text"
    workflow_survey = data["awx_surveys"][data["awx_workflow"]["survey"]]
    assert {q["variable"] for q in workflow_survey["spec"]} == {"env_name", "app_deploy_image_tag"}


def test_workflow_runs_provision_configure_deploy_with_a_failure_path_from_each() -> None:
    data = awx_vars()
    nodes = {n["identifier"]: n for n in data["awx_workflow"]["nodes"]}
    templates = {t["name"]: t for t in data["awx_job_templates"]}
    for node in nodes.values():
        assert node["unified_job_template"]["name"] in templates
        for edge in ("success_nodes", "failure_nodes", "always_nodes"):
            for target in node.get("related", {}).get(edge, []):
                assert target["identifier"] in nodes, f"{node['identifier']} -> {target}"
    chain = [node_playbook(data, i) for i in workflow_order(data)]
    assert chain[:3] == ["playbooks/provision.yml", "playbooks/configure.yml", "playbooks/deploy.yml"]
    report = node_playbook(data, "report-failure")
    for step in ("provision", "configure", "deploy"):
        assert nodes[step]["related"]["failure_nodes"] == [{"identifier": "report-failure"}]
    assert (ROOT / report).is_file()


def workflow_order(data: dict[str, Any]) -> list[str]:
    """The identifiers along the success edges, from the node no other node points at."""
    nodes = {n["identifier"]: n for n in data["awx_workflow"]["nodes"]}
    targets = {t["identifier"] for n in nodes.values() for e in n.get("related", {}).values() for t in e}
    (current,) = [i for i in nodes if i not in targets]
    order = [current]
    while nodes[current].get("related", {}).get("success_nodes"):
        (nxt,) = nodes[current]["related"]["success_nodes"]
        current = nxt["identifier"]
        order.append(current)
    return order


def node_playbook(data: dict[str, Any], identifier: str) -> str:
    """The playbook of the job template that the workflow node `identifier` runs."""
    nodes = {n["identifier"]: n for n in data["awx_workflow"]["nodes"]}
    templates = {t["name"]: t for t in data["awx_job_templates"]}
    playbook: str = templates[nodes[identifier]["unified_job_template"]["name"]]["playbook"]
    return playbook


def test_job_template_playbooks_are_in_the_project() -> None:
    missing = [t["playbook"] for t in awx_vars()["awx_job_templates"] if not (ROOT / t["playbook"]).is_file()]
    assert set(missing) <= {"playbooks/deploy.yml"}, missing
    if missing:
        pytest.skip("playbooks/deploy.yml does not exist yet (the app_deploy issue adds it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_configure_awx(*extra: str) -> subprocess.CompletedProcess[str]:
    """Runs the playbook up to its first controller call (nothing listens there)."""
    return subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            str(PLAYBOOK),
            "-e",
            "awx_scm_url=https://git.invalid/resume.git",
            "-e",
            "awx_ee_image=registry.invalid/resume-ee:test",
            "-e",
            "awx_aws_access_key=AKIDEXAMPLE",
            "-e",
            "awx_aws_secret_key=not-a-secret",
            *extra,
        ],
        cwd=ROOT,
        env=dict(
            env(),
            CONTROLLER_HOST=f"http://127.0.0.1:{_free_port()}",
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            # Not "" (ansible-core 2.19 fails on an empty name) and not profile_tasks (it prints to stdout).
            ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_awx_inventories_are_built_from_the_repository_inventories() -> None:
    """Reads what configure_awx.yml would send: the ec2 source_vars, the localhost host and the
    variables of every environment."""
    proc = run_configure_awx()
    report = json.loads(proc.stdout)
    tasks = report["plays"][0]["tasks"]
    read = next(t for t in tasks if t["task"]["name"] == "Read the inventory of each environment from the repository")
    inventories = read["hosts"]["localhost"]["results"][-1]["ansible_facts"]["__awx_inventories"]
    assert sorted(inventories) == sorted(ENVIRONMENTS)
    for name in ENVIRONMENTS:
        directory = ROOT / "inventories" / name
        aws_ec2 = yaml.safe_load((directory / "aws_ec2.yml").read_text())
        assert aws_ec2.pop("plugin") == "amazon.aws.aws_ec2"
        assert inventories[name]["source_vars"] == aws_ec2
        assert (
            inventories[name]["localhost_variables"]
            == yaml.safe_load((directory / "hosts.yml").read_text())["all"]["hosts"]["localhost"]
        )
        variables = inventories[name]["variables"]
        assert variables["env_name"] == name == variables["inventory_env_name"]
        assert inventories[name]["source_vars"]["filters"]["tag:Environment"] == name
        # The bastion's settings are the inventory's: a `bastion` group of AWX's own would be
        # adopted by the ec2 source, and deleted with its variables by a sync finding no bastion.
        bastion = yaml.safe_load((directory / "group_vars" / "bastion.yml").read_text()) or {}
        assert variables.items() >= bastion.items()
        # How the bastion is reached comes with each host, from the source itself.
        compose = inventories[name]["source_vars"]["compose"]
        assert compose["ansible_aws_ssm_instance_id"] == "instance_id"
        assert compose["ansible_connection"] == "'amazon.aws.aws_ssm'"
    assert not [t for t in tasks if t["task"]["name"] == "Create the bastion groups"]
    # It went on to call the controller, which is not there: the only failure.
    assert proc.returncode != 0
    assert "Connection refused" in proc.stdout


def test_an_inventory_whose_cloud_is_on_loopback_is_refused_before_any_controller_call() -> None:
    """inventories/local's cloud answers at 127.0.0.1 of the workstation: in an AWX job's container
    nothing does, and its ec2 source (update on launch) would fail every job using it."""
    proc = run_configure_awx("-e", '{"awx_environments": ["dev", "local"]}')
    assert proc.returncode != 0
    assert "inventories/local cannot be an AWX inventory" in proc.stdout
    assert "Connection refused" not in proc.stdout  # stopped before the controller


def test_the_local_inventory_earlier_versions_made_is_removed_before_the_templates() -> None:
    """An AWX configured by an earlier version keeps `Resume local` as its templates' default inventory
    unless it is deleted: awx.awx.job_template changes the inventory only when it is given one."""
    tasks = yaml.safe_load(PLAYBOOK.read_text())[0]["tasks"]
    names = [t["name"] for t in tasks]
    removal = [t for t in tasks if t.get("awx.awx.inventory", {}).get("state") == "absent"]
    assert [t["awx.awx.inventory"]["name"] for t in removal] == ["{{ awx_inventory_name_prefix }} local"]
    assert names.index(removal[0]["name"]) < names.index("Create the job templates")
    assert all("inventory" not in (t.get("awx.awx.job_template") or {}) for t in tasks)


def _yaml_files() -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        rel = Path(dirpath).relative_to(ROOT)
        if rel.parts[:2] == ("collections", "ansible_collections") and rel.parts[2:3] not in {(), ("resumestack",)}:
            dirnames[:] = []
            continue
        found += [Path(dirpath) / f for f in filenames if f.endswith((".yml", ".yaml"))]
    return found


def _prompts(node: Any, where: str) -> list[str]:
    found = []
    if isinstance(node, dict):
        if "vars_prompt" in node:
            found.append(f"{where}: vars_prompt")
        for key, value in node.items():
            if key in PAUSE_MODULES:
                args = value if isinstance(value, dict) else {}
                if "prompt" in args or not ({"seconds", "minutes"} & set(args)):
                    found.append(f"{where}: {key} waits for input")
            found += _prompts(value, where)
    elif isinstance(node, list):
        for item in node:
            found += _prompts(item, where)
    return found


def test_no_playbook_or_role_prompts() -> None:
    prompts: list[str] = []
    files = _yaml_files()
    assert any(p.name == "site.yml" for p in files)
    for path in files:
        text = path.read_text(errors="replace")
        if "vars_prompt" not in text and "pause" not in text:
            continue
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            continue  # Jinja templates named .yml; the text check below still sees them
        prompts += _prompts(documents, str(path.relative_to(ROOT)))
        if re.search(r"^\s*-?\s*vars_prompt\s*:", text, re.M):
            prompts.append(f"{path.relative_to(ROOT)}: vars_prompt")
    assert not prompts, prompts
