"""One local cloud and one provisioned stack per test session, shared by every integration test.

The stack is created once, by a `site.yml -vvv` run whose output the secret tests search; the
teardown tests (test_90_*) run last and delete it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import (
    ARTIFACTS,
    DEPLOYER_POLICIES,
    DEPLOYERS,
    MAIN_PORT,
    POLICIES,
    ROOT,
    Run,
    client,
    run_playbook,
)

LOGS = ROOT / ".state" / "test-logs"


@dataclass
class Cloud:
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str) -> Any:
        return client(service, self.endpoint)


def _down(env: dict[str, str]) -> None:
    """Stop this local cloud's server, then remove its service tasks, listeners, test hosts, networks
    and forwarders, whatever an interrupted earlier session left (localcloud down goes by Docker labels)."""
    subprocess.run([sys.executable, "-m", "localcloud", "down"], cwd=ROOT, env=env, capture_output=True)


def _start_cloud(port: int, name: str, **settings: str) -> Iterator[Cloud]:
    env = dict(os.environ, LOCALCLOUD_PORT=str(port), LOCALCLOUD_STATE_DIR=str(ROOT / ".state" / name), **settings)
    _down(env)  # whatever an interrupted earlier session left
    start = subprocess.run(
        [sys.executable, "-m", "localcloud", "start"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert start.returncode == 0, start.stderr
    try:
        yield Cloud(port)
    finally:
        _down(env)


@pytest.fixture(scope="session")
def cloud() -> Iterator[Cloud]:
    """The emulator the shared stack lives on (a port of its own: `make up` keeps 5100). It throttles
    a tenth of all calls, as AWS may (TEST_THROTTLE): the first run, the rerun with no change, the
    deploys and the teardown of the suite all go through it."""
    throttle = os.environ.get("TEST_THROTTLE", "0.1")
    yield from _start_cloud(MAIN_PORT, f"test-cloud-{MAIN_PORT}", LOCALCLOUD_THROTTLE=throttle)


@pytest.fixture(scope="module")
def empty_cloud() -> Iterator[Cloud]:
    """A second, empty emulator: bad-input and dry-run tests prove nothing is created on it."""
    port = int(os.environ.get("TEST_EMPTY_LOCALCLOUD_PORT", "5151"))
    # A state folder per port: scripts/test.sh runs a second empty emulator beside lane B's.
    yield from _start_cloud(port, f"test-empty-cloud-{port}")


@dataclass
class Stack:
    cloud: Cloud
    first_run: Run
    outputs: dict[str, Any]


def make_deployers(cloud: Cloud) -> dict[str, tuple[str, str]]:
    """The deployer IAM users of policies/ (made with the local cloud's own keys): each holds only
    its playbook's managed policies; their access keys, by user (helpers.DEPLOYER_POLICIES)."""
    iam = cloud.client("iam")
    arns = {
        path.stem: iam.create_policy(PolicyName=f"resume-{path.stem}", PolicyDocument=path.read_text())["Policy"]["Arn"]
        for path in sorted(POLICIES.glob("deployer-*.json"))
    }
    keys = {}
    for user, policies in DEPLOYER_POLICIES.items():
        name = f"resume-deployer-{user}"
        iam.create_user(UserName=name)
        for policy in policies:
            iam.attach_user_policy(UserName=name, PolicyArn=arns[f"deployer-{policy}"])
        key = iam.create_access_key(UserName=name)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    return keys


@pytest.fixture(scope="session")
def stack(cloud: Cloud) -> Stack:
    """site.yml applied once, verbosely, on the session's emulator, as the deployer user that holds
    only policies/deployer-{provision,configure,deploy}.json (the IAM gate enforces them): from then
    on every playbook run on this emulator goes as its deployer user (teardown.yml as the one holding
    deployer-teardown.json only), unless a test asks for the local cloud's own keys."""
    DEPLOYERS[cloud.port] = make_deployers(cloud)
    run = run_playbook("site.yml", "-vvv", port=cloud.port, log=LOGS / "site-first-run.log")
    assert run.returncode == 0, run.why
    outputs = json.loads((ARTIFACTS / "local" / "outputs.json").read_text())
    return Stack(cloud=cloud, first_run=run, outputs=outputs)


def no_project_vpc(cloud: Cloud) -> bool:
    vpcs = cloud.client("ec2").describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["resume"]}])["Vpcs"]
    return not vpcs


__all__ = ["LOGS", "ROOT", "Cloud", "Path", "Stack", "no_project_vpc"]
