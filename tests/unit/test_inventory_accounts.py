"""Each inventory names its AWS account (aws_account_id): the local one the emulator's, the real ones
a placeholder that every playbook refuses before its first AWS call, until it is set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_the_local_inventory_names_the_emulators_account() -> None:
    variables = yaml.safe_load((ROOT / "inventories" / "local" / "group_vars" / "all.yml").read_text())
    assert variables["aws_account_id"] == "123456789012"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_a_real_inventorys_placeholder_account_stops_the_run_before_any_aws_call(env: str) -> None:
    variables = yaml.safe_load((ROOT / "inventories" / env / "group_vars" / "all" / "env.yml").read_text())
    assert isinstance(variables["aws_account_id"], str) and not variables["aws_account_id"].isdigit()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    environ.update(PATH=f"{BIN}:{environ.get('PATH', '')}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", f"inventories/{env}", "site.yml", "--check"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0
    failure = " ".join(output[output.index("fatal:") :].split())
    assert f"aws_account_id must be the 12-digit id of the AWS account that holds the {env} environment" in failure
    assert "Read the account of the credentials" not in output
