"""S3 bucket names are global across every account: each one the project makes names its account and
region, so two accounts (or two regions of one) deploying the same environment never collide, and
the bastion's transfer bucket the inventories hand the SSM connection is the one the role made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT, REGION = "123456789012", "ap-southeast-2"
CONTEXT = {"project_name": "resume", "env_name": "prod", "aws_account_id": ACCOUNT, "aws_region": REGION}


def render(template: str, **variables: Any) -> str:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - not HTML
    environment.filters["combine"] = lambda first, *more: {k: v for d in (first, *more) for k, v in d.items()}
    return environment.from_string(template).render(**variables)


def bastion_bucket() -> str:
    defaults = yaml.safe_load((ROOT / "roles/bastion/defaults/main.yml").read_text())
    role_vars = yaml.safe_load((ROOT / "roles/bastion/vars/main.yml").read_text())
    return render(role_vars["__bastion_ssm_bucket"], **CONTEXT, **defaults).strip()


def test_the_bastion_transfer_bucket_names_the_account_and_region() -> None:
    name = bastion_bucket()
    assert ACCOUNT in name and REGION in name
    assert len(name) <= 63


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_inventory_hands_the_ssm_connection_the_bucket_the_role_made(env: str) -> None:
    """The role names its bucket in the instance's SsmTransferBucket tag; the inventory's aws_ec2
    source composes the SSM connection's bucket from that tag (tests/unit/test_inventories.py runs it)."""
    defaults = yaml.safe_load((ROOT / "roles/bastion/defaults/main.yml").read_text())
    role_vars = yaml.safe_load((ROOT / "roles/bastion/vars/main.yml").read_text())
    context = {**CONTEXT, **defaults, "__bastion_ssm_bucket": bastion_bucket()}
    tags = render(role_vars["__bastion_instance_tags"], **{**context, "__bastion_tags": {}, "bastion_name": "b"})
    assert f"'SsmTransferBucket': '{bastion_bucket()}'" in tags
    source = yaml.safe_load((ROOT / f"inventories/{env}/aws_ec2.yml").read_text())
    assert source["compose"]["ansible_aws_ssm_bucket_name"] == "tags.SsmTransferBucket"


def test_the_load_balancer_log_bucket_names_the_account_and_region() -> None:
    role_vars = yaml.safe_load((ROOT / "roles/app_deploy/vars/main.yml").read_text())
    name = render(role_vars["__app_deploy_logs_bucket"], app_deploy_name="resume-prod", **CONTEXT)
    assert ACCOUNT in name and REGION in name
    assert len(name) <= 63
