"""Teardown leaves nothing of the environment behind, and a second teardown changes nothing.

Runs last (file order): it deletes the session's stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tests.integration.conftest import LOGS, Stack
from tests.integration.helpers import ARTIFACTS, ROOT, leftovers, run_playbook


def test_teardown_leaves_nothing_behind(stack: Stack) -> None:
    assert leftovers(stack.cloud.endpoint)  # the scan does see the stack before teardown
    run = run_playbook("playbooks/teardown.yml", port=stack.cloud.port, log=LOGS / "teardown.log")
    assert run.returncode == 0, run.why
    assert leftovers(stack.cloud.endpoint) == {}
    assert not (ARTIFACTS / "local" / "outputs.json").exists()


def test_teardown_stops_the_test_hosts_and_their_networks(stack: Stack) -> None:
    """The local cloud follows the deletions by itself, as AWS releases instances and ENIs: soon, not at once."""
    env = dict(os.environ, LOCALCLOUD_PORT=str(stack.cloud.port))

    def left() -> tuple[list[object], str]:
        hosts = subprocess.run(
            [sys.executable, "-m", "localcloud", "hosts"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert hosts.returncode == 0, hosts.stderr
        label = f"label=io.resume.localcloud.endpoint={stack.cloud.endpoint}"
        networks = subprocess.run(
            ["docker", "network", "ls", "-q", "--filter", label],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(hosts.stdout), networks.stdout.strip()

    deadline = time.monotonic() + 60
    while left() != ([], "") and time.monotonic() < deadline:
        time.sleep(2)
    assert left() == ([], "")


def test_second_teardown_changes_nothing(stack: Stack) -> None:
    run = run_playbook("playbooks/teardown.yml", port=stack.cloud.port, log=LOGS / "teardown-second.log")
    assert run.returncode == 0, run.why
    assert run.changed == 0
