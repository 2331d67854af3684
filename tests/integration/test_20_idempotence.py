"""A second apply and a dry run after apply change nothing; the DB password is never printed."""

from __future__ import annotations

import json

from tests.integration.conftest import LOGS, Stack
from tests.integration.helpers import PROJECT, run_playbook


def test_second_run_changes_nothing(stack: Stack) -> None:
    run = run_playbook("site.yml", port=stack.cloud.port, log=LOGS / "site-second-run.log")
    assert run.returncode == 0, run.why
    assert run.changed == 0, [line for line in run.output.splitlines() if line.startswith("changed:")]


def test_check_diff_after_apply_changes_nothing(stack: Stack) -> None:
    run = run_playbook("site.yml", "--check", "--diff", port=stack.cloud.port, log=LOGS / "site-check.log")
    assert run.returncode == 0, run.why
    assert run.changed == 0, [line for line in run.output.splitlines() if line.startswith("changed:")]


def test_db_password_appears_nowhere_in_a_vvv_run(stack: Stack) -> None:
    secret = stack.cloud.client("secretsmanager").get_secret_value(SecretId=f"{PROJECT}-local/db-master")
    password = json.loads(secret["SecretString"])["password"]
    assert len(stack.first_run.output) > 100_000  # really -vvv: module arguments and results are printed
    assert "module_args:" in stack.first_run.output
    assert password not in stack.first_run.output
    rerun = run_playbook("playbooks/provision.yml", "-vvv", port=stack.cloud.port, log=LOGS / "provision-rerun-vvv.log")
    assert rerun.returncode == 0, rerun.why
    assert password not in rerun.output
