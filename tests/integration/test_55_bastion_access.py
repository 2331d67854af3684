"""Admins reach the database through the bastion on the local cloud, and nobody else gets in.

site.yml configured the bastion (playbooks/configure.yml) on the session's stack; these tests log in
over real SSH at the private IP the emulator gave the instance, with host key checking on.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.integration.conftest import LOGS, Stack
from tests.integration.helpers import ACCESS, ADMIN, ADMIN_KEY, ARTIFACTS, BIN, ROOT, run_playbook


def ssh(stack: Stack, user: str, command: str, *options: str) -> subprocess.CompletedProcess[str]:
    argv = [
        "ssh",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={ACCESS / 'local' / 'known_hosts'}",
        "-o", "ConnectTimeout=10",
        "-o", "IdentitiesOnly=yes",
        "-i", str(ADMIN_KEY),
        *options,
        f"{user}@{stack.outputs['bastion_private_ip']}",
        command,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_inventory_puts_the_running_bastion_in_group_bastion_at_its_private_ip(stack: Stack) -> None:
    env = dict(os.environ, LOCALCLOUD_PORT=str(stack.cloud.port), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    listing = subprocess.run(
        [str(BIN / "ansible-inventory"), "--list"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    inventory = json.loads(listing.stdout)
    assert inventory["bastion"]["hosts"] == [stack.outputs["bastion_instance_id"]]
    host = inventory["_meta"]["hostvars"][stack.outputs["bastion_instance_id"]]["ansible_host"]
    assert (host.get("__ansible_unsafe") if isinstance(host, dict) else host) == stack.outputs["bastion_private_ip"]


def test_the_private_key_stays_out_of_the_repo_with_mode_0600(stack: Stack) -> None:
    key = ACCESS / "local" / "bastion_ed25519"
    assert key.stat().st_mode & 0o777 == 0o600
    body = "".join(line for line in key.read_text().splitlines() if "PRIVATE KEY" not in line)
    assert len(body) > 40
    tracked = subprocess.run(["git", "grep", "-l", "-F", body[:60]], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout == ""  # no tracked file holds the key material


def test_admin_logs_in_with_its_key_and_db_connect_returns_1(stack: Stack) -> None:
    proc = ssh(stack, ADMIN, "db-connect -X -A -t -c 'select 1'")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"


def test_db_connect_uses_the_master_user_and_database_of_the_secret(stack: Stack) -> None:
    proc = ssh(stack, ADMIN, "db-connect -X -A -t -c 'select current_user, current_database()'")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "resume_admin|resume"


def test_admin_has_sudo_and_the_motd_names_the_environment(stack: Stack) -> None:
    proc = ssh(stack, ADMIN, "sudo -n true && cat /etc/motd")
    assert proc.returncode == 0, proc.stderr
    assert "environment: LOCAL" in proc.stdout


def test_root_login_is_refused_even_with_an_authorized_key(stack: Stack) -> None:
    setup = ssh(
        stack, ADMIN, "sudo install -d -m 700 /root/.ssh && sudo cp ~/.ssh/authorized_keys /root/.ssh/authorized_keys"
    )
    assert setup.returncode == 0, setup.stderr
    proc = ssh(stack, "root", "true")
    assert proc.returncode == 255
    assert "Permission denied" in proc.stderr


def test_password_login_is_refused(stack: Stack) -> None:
    proc = ssh(
        stack,
        ADMIN,
        "true",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "-o",
        "PubkeyAuthentication=no",
    )
    assert proc.returncode == 255
    assert "Permission denied (publickey)" in proc.stderr


@pytest.mark.parametrize("check", [False, True], ids=["apply", "check"])
def test_configure_again_changes_nothing(stack: Stack, check: bool) -> None:
    args = ["--check", "--diff"] if check else []
    run = run_playbook(
        "playbooks/configure.yml", *args, port=stack.cloud.port, log=LOGS / f"configure-again-{check}.log"
    )
    assert run.returncode == 0, run.why
    assert run.changed == 0


def test_a_replaced_bastion_is_configured_once_it_answers(stack: Stack) -> None:
    """A bastion re-created by a rerun (terminated, or replaced for a new image) is launched when the
    database is long available, so configure.yml reaches it seconds after the launch: it must wait
    until the instance answers (on AWS, until its SSM agent registered, one to two minutes after boot)."""
    ec2 = stack.cloud.client("ec2")
    old = stack.outputs["bastion_instance_id"]
    ec2.terminate_instances(InstanceIds=[old])
    run = run_playbook("site.yml", port=stack.cloud.port, log=LOGS / "site-bastion-replaced.log")
    assert run.returncode == 0, run.why
    stack.outputs.update(json.loads((ARTIFACTS / "local" / "outputs.json").read_text()))
    assert stack.outputs["bastion_instance_id"] != old
    proc = ssh(stack, ADMIN, "db-connect -X -A -t -c 'select 1'")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"
