"""A run that dies halfway (a lost connection, a cancelled AWX job) and is started again converges.

For each seed (INTERRUPT_SEEDS, printed; `make interrupt SEEDS='1 2 3 4 5'` runs more), on the
`cloud` of the session: scripts/test.sh gives it an emulator of its own (TEST_LOCALCLOUD_PORT,
TEST_VPC_OCTET) in lane A, beside the shared stack's lane. With one seed the first converge is a
creation; every later seed's is a re-creation after the previous seed's teardown, which what a
deleted stack leaves behind, such as INACTIVE services, must not fool. site.yml is killed, with
its whole process group, when it starts its k-th task that calls AWS (k chosen by the seed), run
again to the end with nothing duplicated, then a third time with no change; teardown.yml is
killed the same way, run again, and an independent scan finds nothing left.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LOGS, ROOT, Cloud
from tests.integration.helpers import (
    ACCESS,
    BIN,
    PROJECT,
    TEST_VARS,
    admin_vars,
    artifacts_for,
    leftovers,
    run_playbook,
    tags_of,
)

SEEDS = [int(s) for s in os.environ.get("INTERRUPT_SEEDS", str(int(time.time()) % 1000)).split()]
# Printed by callback_plugins/aws_task_marker.py as each task that calls AWS starts.
AWS_TASK = re.compile(r"^AWS TASK START (?P<module>\S+) (?P<name>.*)$")


def run_until_task(playbook: str, k: int, port: int, log: str) -> str:
    """Start ansible-playbook and kill it (SIGKILL, the whole group) when its k-th AWS task starts."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "ANSIBLE_"))}
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        LOCALCLOUD_PORT=str(port),
        ARTIFACTS_DIR=str(artifacts_for(port)),
        RESUME_STATE_DIR=str(ACCESS),
        PYTHONUNBUFFERED="1",
        ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).with_name("callback_plugins")),
        ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.profile_tasks,aws_task_marker",
    )
    argv = [str(BIN / "ansible-playbook"), playbook, "-e", f"@{TEST_VARS}", "-e", f"@{admin_vars()}"]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    seen, killed_at, output = 0, "", []
    assert proc.stdout is not None
    for line in proc.stdout:
        output.append(line)
        match = AWS_TASK.match(line)
        if match:
            seen += 1
            if seen == k:
                killed_at = f"{match.group('name')} ({match.group('module')})"
                time.sleep(0.3)  # into the task: its module is running
                os.killpg(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=60)
    (LOGS / log).parent.mkdir(parents=True, exist_ok=True)
    (LOGS / log).write_text("".join(output))
    return killed_at or "(the run ended before that task)"


def revisions(cloud: Cloud) -> dict[str, set[str]]:
    """The ACTIVE task definition revisions of the stack's two families."""
    ecs = cloud.client("ecs")
    return {
        family: set(ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"])
        for family in (f"{PROJECT}-local-api", f"{PROJECT}-local-worker")
    }


def counts(cloud: Cloud) -> dict[str, Any]:
    """What must exist exactly once (or twice: a NAT gateway and its address per zone) after a converged run."""
    ec2, rds, ecs = cloud.client("ec2"), cloud.client("rds"), cloud.client("ecs")
    project = [{"Name": "tag:Project", "Values": [PROJECT]}]
    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] in ("pending", "available")]
    services = ecs.list_services(cluster=f"{PROJECT}-local").get("serviceArns", [])
    return {
        "vpcs": len(ec2.describe_vpcs(Filters=project)["Vpcs"]),
        "nat_gateways": len(nats),
        "elastic_ips": len(ec2.describe_addresses()["Addresses"]),
        "untagged_elastic_ips": len(
            [a for a in ec2.describe_addresses()["Addresses"] if tags_of(a.get("Tags")).get("Project") != PROJECT]
        ),
        "instances": len(
            [
                i
                for r in ec2.describe_instances(Filters=project)["Reservations"]
                for i in r["Instances"]
                if i["State"]["Name"] != "terminated"
            ]
        ),
        "key_pairs": len(ec2.describe_key_pairs()["KeyPairs"]),
        "db_clusters": len(rds.describe_db_clusters()["DBClusters"]),
        "secrets": len(cloud.client("secretsmanager").list_secrets()["SecretList"]),
        "task_definition_revisions": revisions(cloud),
        "services": len(services),
    }


def converged(cloud: Cloud, revisions_before: dict[str, set[str]]) -> dict[str, Any]:
    """counts(), with the task definition revisions registered since ``revisions_before`` (a teardown
    leaves earlier revisions ACTIVE, and a re-created stack registers its own: a new secret ARN)."""
    found = counts(cloud)
    found["task_definition_revisions"] = {
        family: len(arns - revisions_before.get(family, set()))
        for family, arns in found["task_definition_revisions"].items()
    }
    return found


CONVERGED = {
    "vpcs": 1,
    "nat_gateways": 2,
    "elastic_ips": 2,
    "untagged_elastic_ips": 0,
    "instances": 1,
    "key_pairs": 1,
    "db_clusters": 1,
    "secrets": 1,
    "task_definition_revisions": {f"{PROJECT}-local-api": 1, f"{PROJECT}-local-worker": 1},
    "services": 2,
}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_killed_run_converges_when_run_again_and_a_killed_teardown_leaves_nothing(cloud: Cloud, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - where to kill, reproducibly; not a secret
    revisions_before = revisions(cloud)
    k = rng.randint(1, 80)  # site.yml's first run starts 81 tasks that call AWS (loops count once)
    killed_at = run_until_task("site.yml", k, cloud.port, f"interrupt-{seed}-site-killed.log")
    print(f"seed {seed}: site.yml killed at task {k}: {killed_at}")
    again = run_playbook("site.yml", port=cloud.port, log=LOGS / f"interrupt-{seed}-site-again.log")
    assert again.returncode == 0, f"seed {seed}, killed at {killed_at}: {again.why}"
    assert converged(cloud, revisions_before) == CONVERGED, f"seed {seed}, killed at {killed_at}"
    third = run_playbook("site.yml", port=cloud.port, log=LOGS / f"interrupt-{seed}-site-third.log")
    assert third.returncode == 0 and third.changed == 0, f"seed {seed}: {third.output[-3000:]}"

    k = rng.randint(1, 50)  # teardown.yml's, in about 55
    killed_at = run_until_task("playbooks/teardown.yml", k, cloud.port, f"interrupt-{seed}-teardown-killed.log")
    print(f"seed {seed}: teardown.yml killed at task {k}: {killed_at}")
    down = run_playbook("playbooks/teardown.yml", port=cloud.port, log=LOGS / f"interrupt-{seed}-teardown-again.log")
    assert down.returncode == 0, f"seed {seed}, killed at {killed_at}: {down.why}"
    assert leftovers(cloud.endpoint) == {}, f"seed {seed}, killed at {killed_at}"
