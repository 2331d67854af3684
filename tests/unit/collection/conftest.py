"""Fixtures for exercising the resumestack.cloud modules for real against an in-process moto server.

The modules are run through the real ``ansible`` / ``ansible-playbook`` CLIs (found next to ``sys.executable``), with
ANSIBLE_COLLECTIONS_PATH pointing at the repository's ``collections`` folder, so argument parsing, check mode, diff and
module_defaults go through ansible-core exactly as in the project's playbooks.
"""

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

REPO_ROOT = Path(__file__).resolve().parents[3]
COLLECTIONS_PATH = REPO_ROOT / "collections"
BIN_DIR = Path(sys.executable).parent
REGION = "eu-west-1"

# ansible_collections is a namespace package: with the repository's collections folder on the path, the collection's
# module_utils import in-process next to the venv's amazon.aws (test_module_utils.py).
if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.append(str(COLLECTIONS_PATH))


def _ansible_bin(name):
    path = BIN_DIR / name
    if not path.exists():
        pytest.skip(f"{name} not found next to {sys.executable}")
    return str(path)


@pytest.fixture(scope="session")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def ansible_env(tmp_path_factory):
    """Environment for the ansible subprocesses: fake credentials + region, isolated ansible config/home."""
    home = tmp_path_factory.mktemp("ansible-home")
    cfg = home / "ansible.cfg"
    cfg.write_text(
        textwrap.dedent(
            f"""\
            [defaults]
            collections_path = {COLLECTIONS_PATH}
            host_key_checking = False
            interpreter_python = {sys.executable}
            retry_files_enabled = False
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_", "BOTO"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        ANSIBLE_CONFIG=str(cfg),
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(home / "tmp"),
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
    )
    return env


@pytest.fixture(scope="session")
def run_module(ansible_env, moto_endpoint, tmp_path_factory):
    """run_module(name, args, check=False) -> the module result dict (``failed`` set on failure)."""
    workdir = tmp_path_factory.mktemp("adhoc")

    def _run(name, args, check=False, endpoint=True):
        args = dict(args)
        if endpoint:
            args.setdefault("endpoint_url", moto_endpoint)
        cmd = [
            _ansible_bin("ansible"),
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-m",
            f"resumestack.cloud.{name}",
            "-a",
            json.dumps(args),
            "--diff",
        ]
        if check:
            cmd.append("--check")
        proc = subprocess.run(
            cmd, check=False, env=ansible_env, cwd=workdir, capture_output=True, text=True, timeout=120
        )
        try:
            output = json.loads(proc.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"non-JSON output (rc={proc.returncode}):\nSTDOUT:\n{proc.stdout}\nSTDERR:\n{proc.stderr}")
        return output["plays"][0]["tasks"][0]["hosts"]["localhost"]

    return _run


@pytest.fixture(scope="session")
def run_playbook(ansible_env, tmp_path_factory):
    """run_playbook(yaml_text, extra_env=None, unset=()) -> (returncode, parsed json callback output)."""
    workdir = tmp_path_factory.mktemp("playbooks")

    def _run(playbook_text, extra_env=None, unset=()):
        path = workdir / f"pb-{uuid.uuid4().hex[:8]}.yml"
        path.write_text(playbook_text)
        env = {k: v for k, v in ansible_env.items() if k not in unset}
        env.update(extra_env or {})
        proc = subprocess.run(
            [_ansible_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", str(path)],
            check=False,
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            return proc.returncode, json.loads(proc.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"non-JSON output (rc={proc.returncode}):\nSTDOUT:\n{proc.stdout}\nSTDERR:\n{proc.stderr}")

    return _run


@pytest.fixture(scope="session")
def aws(moto_endpoint):
    """boto3 clients bound to the moto server, for arranging and verifying state."""

    def client(service):
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cluster(aws):
    """A new, empty ECS cluster of a unique name on the moto server."""
    name = unique("cluster")
    aws("ecs").create_cluster(clusterName=name)
    return name


def task_results(callback_output):
    """{task name: localhost result} from the json stdout callback output of a playbook."""
    results = {}
    for play in callback_output["plays"]:
        for task in play["tasks"]:
            results[task["task"]["name"]] = task["hosts"].get("localhost", {})
    return results
