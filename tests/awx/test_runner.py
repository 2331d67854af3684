"""The playbooks run the way AWX runs them: ansible-runner, a private data directory laid out as AWX
lays it out (project/, inventory/, env/extravars, env/envvars, env/settings), no prompts, and no
secret in the job's stdout or artifacts. One local cloud of its own for the module.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import boto3
import pytest
import yaml

from tests.awx.test_awx_config import awx_vars, workflow_order

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PORT = int(os.environ.get("TEST_AWX_LOCALCLOUD_PORT", "5500"))
ENDPOINT = f"http://127.0.0.1:{PORT}"
REGION = "eu-west-1"
# What a job template's extra vars carry. The other stacks on this machine (make up, the integration
# suite) use 10.40.0.0/16 and the PostgreSQL names resume / resume_admin of the shared local server:
# this stack keeps out of their way, through extra vars only, as an AWX survey or template would.
EXTRA_VARS = {
    "network_vpc_cidr": "10.57.0.0/16",
    "network_public_subnet_cidrs": ["10.57.0.0/20", "10.57.16.0/20"],
    "network_private_subnet_cidrs": ["10.57.128.0/20", "10.57.144.0/20"],
    "database_name": "resume_awx",
    "database_master_username": "resume_awx_admin",
    "network_nat_mode": "single",
}
# What a project checkout holds that the playbooks use (the data plane's code included: the
# bastion and database roles call `python -m localcloud sync` from the project root).
PROJECT_ITEMS = [
    "ansible.cfg",
    "site.yml",
    "playbooks",
    "group_vars",
    "roles",
    "collections/requirements.yml",
    "collections/ansible_collections/resumestack",
    "localcloud",
    "scripts/pg-local.sh",
    "app",
]


def _client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _localcloud(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def _copy_project(project: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "molecule", ".venv")
    for item in PROJECT_ITEMS:
        source, target = ROOT / item, project / item
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            # symlinks=False: a symlink-free copy (playbooks/group_vars becomes a real folder).
            shutil.copytree(source, target, symlinks=False, ignore=ignore)
        else:
            shutil.copy2(source, target)
    # AWX gives each job a clone of the project revision: a git work tree (app_deploy tags by commit).
    git = ["git", "-C", str(project), "-c", "user.name=awx", "-c", "user.email=awx@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "project revision"]):
        subprocess.run([*git, *args], check=True, capture_output=True)


@dataclass
class Job:
    name: str
    runner: Any
    stdout: str
    events: list[dict[str, Any]]


@dataclass
class PrivateDataDir:
    path: Path

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    @property
    def outputs_file(self) -> Path:
        return self.artifacts / "project-outputs" / "local" / "outputs.json"

    def run(self, playbook: str, ident: str) -> Job:
        runner = ansible_runner.run(
            private_data_dir=str(self.path),
            playbook=playbook,
            ident=ident,
            quiet=True,
        )
        stdout = (self.artifacts / ident / "stdout").read_text(errors="replace")
        return Job(ident, runner, stdout, list(runner.events))


@contextlib.contextmanager
def _clean_environ() -> Iterator[None]:
    """Nothing of the calling shell's Ansible or AWS settings leaks into the jobs: AWX starts clean."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith(("ANSIBLE_", "AWS_", "LOCALCLOUD_", "RESUME_", "ARTIFACTS_DIR")):
                patch.delenv(key)
        patch.setenv("PATH", f"{BIN}:{os.environ.get('PATH', '')}")
        yield


DATAPLANE = ROOT / ".state" / "awx-dataplane"


@pytest.fixture(scope="module")
def pdd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDataDir]:
    """A started local cloud (port 5500 unless TEST_AWX_LOCALCLOUD_PORT) and the AWX-style private data dir."""
    root = tmp_path_factory.mktemp("awx-job")
    cloud_env = dict(
        os.environ,
        LOCALCLOUD_PORT=str(PORT),
        LOCALCLOUD_STATE_DIR=str(ROOT / ".state" / "awx-cloud"),
        LOCALCLOUD_DATAPLANE_DIR=str(DATAPLANE),
    )
    started = _localcloud("start", env=cloud_env)
    assert started.returncode == 0, started.stderr
    try:
        _copy_project(root / "project")
        shutil.copytree(ROOT / "inventories" / "local", root / "inventory")
        (root / "env").mkdir()
        (root / "env" / "extravars").write_text(yaml.safe_dump(EXTRA_VARS))
        envvars = {
            "LOCALCLOUD_PORT": str(PORT),
            "ARTIFACTS_DIR": str(root / "artifacts" / "project-outputs"),
            "RESUME_STATE_DIR": str(root / "state"),
            # The data plane's state (its PostgreSQL cluster among it) under the checkout's .state:
            # the postgres OS user cannot traverse pytest's 0700 temporary folders.
            "LOCALCLOUD_DATAPLANE_DIR": str(DATAPLANE),
            "STATE_DIR": str(ROOT / ".state"),
            "ANSIBLE_FORCE_COLOR": "false",
        }
        (root / "env" / "envvars").write_text(yaml.safe_dump(envvars))
        (root / "env" / "settings").write_text(
            yaml.safe_dump(
                {"idle_timeout": 600, "job_timeout": 900, "pexpect_timeout": 5, "suppress_ansible_output": True}
            )
        )
        with _clean_environ():
            yield PrivateDataDir(root)
    finally:
        _localcloud("down", "--endpoint", ENDPOINT, env=cloud_env)
        _localcloud("stop", env=cloud_env)


def assert_job_ok(job: Job) -> None:
    tail = job.stdout[-4000:]
    assert job.runner.status == "successful", tail
    assert job.runner.rc == 0, tail
    stats = [e for e in job.events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1, f"{job.name}: no playbook_on_stats event"
    data = stats[0]["event_data"]
    assert not data.get("failures"), data
    assert not data.get("dark"), data


def secrets_of_the_stack() -> dict[str, str]:
    """The values that must never show: the DB master password and the bastion's private key."""
    found: dict[str, str] = {}
    sm = _client("secretsmanager")
    for meta in sm.list_secrets()["SecretList"]:
        if meta["Name"].startswith("resume-local/"):
            value = json.loads(sm.get_secret_value(SecretId=meta["ARN"])["SecretString"])
            found[f"{meta['Name']} password"] = value["password"]
    for param in _client("ssm").describe_parameters()["Parameters"]:
        if param["Name"].startswith("/resume/local/") and param["Type"] == "SecureString":
            value = _client("ssm").get_parameter(Name=param["Name"], WithDecryption=True)["Parameter"]["Value"]
            # One line of the key body: long enough to be unique, short enough to survive wrapping.
            body = [line for line in value.splitlines() if line and not line.startswith("-----")]
            found[param["Name"]] = body[0] if body else value
    return found


def assert_no_secret_leaked(pdd: PrivateDataDir, jobs: list[Job], secrets: dict[str, str]) -> None:
    assert secrets, "the stack has no secret to look for"
    leaks = []
    for name, value in secrets.items():
        assert len(value) >= 12, f"{name} is too short to search for"
        leaks += [f"{name} in the stdout of {job.name}" for job in jobs if value in job.stdout]
        for path in pdd.artifacts.rglob("*"):
            if path.is_file() and value in path.read_text(errors="replace"):
                leaks.append(f"{name} in {path.relative_to(pdd.path)}")
    assert not leaks, leaks


# The three tests share the module's stack and run in file order: site.yml creates it, the workflow's
# job templates run on it, teardown.yml deletes it (each full job costs minutes on this machine).
JOBS: list[Job] = []
SECRETS: dict[str, str] = {}


def test_site_job_provisions_the_stack_under_ansible_runner(pdd: PrivateDataDir) -> None:
    site = pdd.run("site.yml", "site")
    JOBS.append(site)
    assert_job_ok(site)
    outputs = json.loads(pdd.outputs_file.read_text())
    assert outputs["environment"] == "local"
    assert outputs["private_subnet_ids"], outputs
    vpcs = _client("ec2").describe_vpcs(VpcIds=[outputs["vpc_id"]])["Vpcs"]
    assert vpcs[0]["CidrBlock"] == EXTRA_VARS["network_vpc_cidr"]  # the job's extra vars reached the roles
    SECRETS.update(secrets_of_the_stack())
    assert_no_secret_leaked(pdd, JOBS, SECRETS)


def test_workflow_job_templates_run_in_order_sharing_the_inventory(pdd: PrivateDataDir) -> None:
    """provision -> configure -> deploy as awx/configure_awx.yml's workflow defines them, one runner
    job each on the same private data dir and inventory (provision re-applies site.yml's stack)."""
    data = awx_vars()
    nodes = {n["identifier"]: n for n in data["awx_workflow"]["nodes"]}
    templates = {t["name"]: t for t in data["awx_job_templates"]}
    playbooks = [templates[nodes[i]["unified_job_template"]["name"]]["playbook"] for i in workflow_order(data)]
    assert len(playbooks) == 3, playbooks
    missing = []
    for step, playbook in enumerate(playbooks):
        if not (ROOT / playbook).is_file():
            missing.append(playbook)
            continue
        # A workflow stops at the first failure (its failure node runs instead).
        assert not missing, f"{playbook} would run after a missing step: {missing}"
        job = pdd.run(playbook, f"workflow-{step}-{Path(playbook).stem}")
        JOBS.append(job)
        assert_job_ok(job)
        if step == 0:
            assert json.loads(pdd.outputs_file.read_text())["environment"] == "local"
    SECRETS.update(secrets_of_the_stack())
    assert_no_secret_leaked(pdd, JOBS, SECRETS)
    if missing:
        pytest.skip(
            f"{', '.join(missing)} does not exist yet: the workflow ran {3 - len(missing)} of its 3 job templates"
        )


def test_teardown_job_deletes_the_stack_and_no_job_leaked_a_secret(pdd: PrivateDataDir) -> None:
    if not SECRETS:
        SECRETS.update(secrets_of_the_stack())
    teardown = pdd.run("playbooks/teardown.yml", "teardown")
    JOBS.append(teardown)
    assert_job_ok(teardown)
    assert not pdd.outputs_file.exists()
    assert not _client("ec2").describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["resume"]}])["Vpcs"]
    assert_no_secret_leaked(pdd, JOBS, SECRETS)
