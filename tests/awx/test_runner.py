"""The playbooks run the way AWX runs them: ansible-runner, a private data directory laid out as AWX
lays it out (project/, inventory/, env/extravars, env/envvars, env/settings), no prompts, and no
secret in the job's stdout or artifacts. Like AWX, every job gets a private data directory of its
own (a fresh project checkout, no files of an earlier job): what one job hands the next goes
through the account. One local cloud of its own for the module.
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
import pytest
import yaml

from tests.awx.test_awx_config import awx_vars, node_playbook, workflow_order
from tests.integration.helpers import BIN, ROOT, client

PORT = int(os.environ.get("TEST_AWX_LOCALCLOUD_PORT", "5500"))
ENDPOINT = f"http://127.0.0.1:{PORT}"
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
REVISION_DATE = "2026-01-01T00:00:00+00:00"
OUTPUTS_PARAMETER = "/resume/local/outputs"
# What a project checkout holds that the playbooks use (the local cloud's code included: on the local
# inventory, playbooks/image.yml records the image with `python -m localcloud push`).
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
    return client(service, ENDPOINT)


def _localcloud(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def _copy_project(project: Path) -> None:
    ignore = shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache", "molecule", ".venv"
    )
    for item in PROJECT_ITEMS:
        source, target = ROOT / item, project / item
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            # symlinks=False: a symlink-free copy (playbooks/group_vars becomes a real folder).
            shutil.copytree(source, target, symlinks=False, ignore=ignore)
        else:
            shutil.copy2(source, target)
    # AWX gives each job a clone of the project revision: a git work tree (app_deploy tags the image by
    # commit). A fixed date makes every job's copy the same commit, as clones of one revision are.
    git = ["git", "-C", str(project), "-c", "user.name=awx", "-c", "user.email=awx@localhost"]
    env = dict(os.environ, GIT_AUTHOR_DATE=REVISION_DATE, GIT_COMMITTER_DATE=REVISION_DATE)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "project revision"]):
        subprocess.run([*git, *args], check=True, capture_output=True, env=env)


def _commit(project: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(project), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Job:
    name: str
    runner: Any
    stdout: str
    events: list[dict[str, Any]]


@dataclass
class PrivateDataDir:
    """One job's private data directory, as AWX prepares it for each job it launches."""

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


class Controller:
    """Launches jobs the way AWX does: a new private data directory for each, on one inventory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dirs: list[PrivateDataDir] = []

    def new_job_dir(self, name: str, **answers: Any) -> PrivateDataDir:
        """A job's private data dir; `answers` are survey answers on top of the template's extra vars."""
        root = self.root / name
        root.mkdir()
        _copy_project(root / "project")
        shutil.copytree(ROOT / "inventories" / "local", root / "inventory")
        (root / "env").mkdir()
        (root / "env" / "extravars").write_text(yaml.safe_dump({**EXTRA_VARS, **answers}))
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
        pdd = PrivateDataDir(root)
        self.dirs.append(pdd)
        return pdd


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    """A started local cloud (port 5500 unless TEST_AWX_LOCALCLOUD_PORT) and a place for the job dirs."""
    cloud_env = dict(
        os.environ,
        LOCALCLOUD_PORT=str(PORT),
        LOCALCLOUD_STATE_DIR=str(ROOT / ".state" / "awx-cloud"),
        LOCALCLOUD_DATAPLANE_DIR=str(DATAPLANE),
    )
    started = _localcloud("start", env=cloud_env)
    assert started.returncode == 0, started.stderr
    try:
        with _clean_environ():
            yield Controller(tmp_path_factory.mktemp("awx-jobs"))
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
    ssm = _client("ssm")
    for param in ssm.describe_parameters()["Parameters"]:
        if param["Name"].startswith("/resume/local/") and param["Type"] == "SecureString":
            value = ssm.get_parameter(Name=param["Name"], WithDecryption=True)["Parameter"]["Value"]
            # One line of the key body: long enough to be unique, short enough to survive wrapping.
            body = [line for line in value.splitlines() if line and not line.startswith("-----")]
            found[param["Name"]] = body[0] if body else value
    return found


def assert_no_secret_leaked(controller: Controller, jobs: list[Job], secrets: dict[str, str]) -> None:
    assert secrets, "the stack has no secret to look for"
    for name, value in secrets.items():
        assert len(value) >= 12, f"{name} is too short to search for"
    leaks = [
        f"{name} in the stdout of {job.name}" for name, value in secrets.items() for job in jobs if value in job.stdout
    ]
    for pdd in controller.dirs:
        for path in pdd.artifacts.rglob("*"):
            if path.is_file():
                text = path.read_text(errors="replace")  # read once, searched for every secret
                leaks += [
                    f"{name} in {path.relative_to(controller.root)}" for name, value in secrets.items() if value in text
                ]
    assert not leaks, leaks


def published_outputs() -> dict[str, Any] | None:
    ssm = _client("ssm")
    try:
        value = ssm.get_parameter(Name=OUTPUTS_PARAMETER)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return dict(json.loads(value))


# The three tests share the module's stack and run in file order: site.yml creates it, the workflow's
# job templates run on it, teardown.yml deletes it (each full job costs minutes on this machine).
JOBS: list[Job] = []
SECRETS: dict[str, str] = {}


def test_site_job_provisions_the_stack_under_ansible_runner(controller: Controller) -> None:
    pdd = controller.new_job_dir("site")
    site = pdd.run("site.yml", "site")
    JOBS.append(site)
    assert_job_ok(site)
    outputs = json.loads(pdd.outputs_file.read_text())
    assert outputs["environment"] == "local"
    assert outputs["private_subnet_ids"], outputs
    assert outputs["app_url"], outputs
    vpcs = _client("ec2").describe_vpcs(VpcIds=[outputs["vpc_id"]])["Vpcs"]
    assert vpcs[0]["CidrBlock"] == EXTRA_VARS["network_vpc_cidr"]  # the job's extra vars reached the roles
    SECRETS.update(secrets_of_the_stack())
    assert_no_secret_leaked(controller, JOBS, SECRETS)


def test_workflow_job_templates_run_in_order_each_in_its_own_job_dir(controller: Controller) -> None:
    """provision -> configure -> deploy as awx/configure_awx.yml's workflow defines them: one runner job
    each, each with a private data directory of its own, on the same inventory (provision re-applies
    site.yml's stack). The deploy job sees no file of the provision job: it finds the stack in SSM."""
    data = awx_vars()
    playbooks = [node_playbook(data, i) for i in workflow_order(data)]
    assert playbooks == ["playbooks/provision.yml", "playbooks/configure.yml", "playbooks/deploy.yml"]
    dirs = []
    for step, playbook in enumerate(playbooks):
        name = f"workflow-{step}-{Path(playbook).stem}"
        pdd = controller.new_job_dir(name)
        dirs.append(pdd)
        assert not pdd.outputs_file.exists()
        job = pdd.run(playbook, name)
        JOBS.append(job)
        assert_job_ok(job)  # a workflow stops at the first failure (its failure node runs instead)
    provision, configure, deploy = dirs
    published = published_outputs()
    assert published is not None and published["environment"] == "local"
    assert json.loads(provision.outputs_file.read_text()).items() >= published.items()
    assert not configure.outputs_file.exists()  # configure.yml uses the inventory and SSM only
    deployed = json.loads(deploy.outputs_file.read_text())
    assert deployed.items() >= published.items()  # the stack the provision job published
    assert deployed["app_url"] and deployed["image"].endswith(":" + _commit(deploy.path / "project")[:12])
    assert (configure.path / "state" / "local" / "known_hosts").is_file()
    SECRETS.update(secrets_of_the_stack())
    assert_no_secret_leaked(controller, JOBS, SECRETS)


def test_a_failed_step_takes_the_failure_path_and_the_workflow_ends_failed(controller: Controller) -> None:
    """A bad survey answer fails the provision job before any change; AWX then follows the node's
    failure edge, whose job reports and fails, so the workflow job ends failed."""
    data = awx_vars()
    nodes = {n["identifier"]: n for n in data["awx_workflow"]["nodes"]}
    first = workflow_order(data)[0]
    vpcs_before = _client("ec2").describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["resume"]}])["Vpcs"]
    provision = controller.new_job_dir("failing-provision", network_vpc_cidr="10.400.0.0/16")
    job = provision.run(node_playbook(data, first), "failing-provision")
    JOBS.append(job)
    assert job.runner.status == "failed" and job.runner.rc != 0, job.stdout[-2000:]
    assert "network_vpc_cidr" in job.stdout
    vpcs_after = _client("ec2").describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["resume"]}])["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs_after] == [v["CidrBlock"] for v in vpcs_before]  # nothing changed
    (failure_edge,) = nodes[first]["related"]["failure_nodes"]
    report = controller.new_job_dir("report-failure").run(
        node_playbook(data, failure_edge["identifier"]), "report-failure"
    )
    JOBS.append(report)
    assert report.runner.status == "failed", report.stdout[-2000:]
    assert "A step of the local workflow failed" in report.stdout


def test_teardown_job_deletes_the_stack_and_no_job_leaked_a_secret(controller: Controller) -> None:
    if not SECRETS:
        SECRETS.update(secrets_of_the_stack())
    teardown = controller.new_job_dir("teardown").run("playbooks/teardown.yml", "teardown")
    JOBS.append(teardown)
    assert_job_ok(teardown)
    assert published_outputs() is None
    assert not _client("ec2").describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["resume"]}])["Vpcs"]
    assert_no_secret_leaked(controller, JOBS, SECRETS)
