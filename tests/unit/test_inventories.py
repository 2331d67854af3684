"""inventories/<env>/aws_ec2.yml on AWS: the dynamic inventory gives the bastion what the
amazon.aws.aws_ssm connection needs to open a session to it (its instance id, region, the bastion
role's transfer bucket), as host variables of the source itself.

ansible-inventory reads each real inventory unchanged, pointed at an in-process moto server by the
environment only (AWS_URL and keys: the plugin's documented settings), where an instance carries
the tags the bastion role gives its instance (rendered by ansible from roles/bastion/vars)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REGION = "eu-west-1"
REAL = ["dev", "staging", "prod"]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_", "BOTO"))}
    return dict(env, PATH=f"{BIN}:{env.get('PATH', '')}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), **extra)


def role_instance_tags(env_name: str) -> dict[str, str]:
    """The tags roles/bastion puts on its instance, as ansible renders them for env_name."""
    proc = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
         "-a", "var=__bastion_instance_tags",
         "-e", "@roles/bastion/defaults/main.yml", "-e", "@roles/bastion/vars/main.yml",
         "-e", "@group_vars/all/main.yml", "-e", f"env_name={env_name}",
         "-e", f"aws_region={REGION}", "-e", "aws_account_id=123456789012"],
        cwd=ROOT, env=clean_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                      ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json"),
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    tags: dict[str, str] = result["__bastion_instance_tags"]
    return tags


def launch(endpoint: str, tags: dict[str, str]) -> str:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                       aws_secret_access_key="testing")  # fmt: skip
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )["Instances"][0]  # fmt: skip
    return str(instance["InstanceId"])


def inventory(endpoint: str, env_name: str) -> dict[str, Any]:
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", f"inventories/{env_name}", "--list"],
        cwd=ROOT,
        env=clean_env(AWS_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    listing: dict[str, Any] = json.loads(proc.stdout)
    return listing


def plain(value: Any) -> Any:
    return value.get("__ansible_unsafe") if isinstance(value, dict) else value


@pytest.mark.parametrize("env_name", REAL)
def test_the_bastion_is_reached_over_ssm_by_its_instance_id(endpoint: str, env_name: str) -> None:
    tags = role_instance_tags(env_name)
    instance_id = launch(endpoint, tags)
    listing = inventory(endpoint, env_name)
    assert listing["bastion"]["hosts"] == [instance_id]
    hostvars = {k: plain(v) for k, v in listing["_meta"]["hostvars"][instance_id].items()}
    assert hostvars["ansible_connection"] == "amazon.aws.aws_ssm"
    # Without it the plugin opens its session to ansible_host, the private IP address.
    assert hostvars["ansible_aws_ssm_instance_id"] == instance_id
    assert hostvars["ansible_aws_ssm_region"] == REGION
    bucket = f"resume-{env_name}-bastion-ssm-123456789012-{REGION}"  # the role's name: account and region
    assert hostvars["ansible_aws_ssm_bucket_name"] == bucket == tags["SsmTransferBucket"]
    assert hostvars["ansible_aws_ssm_bucket_sse_mode"] == "AES256"


@pytest.mark.parametrize("env_name", REAL)
def test_no_group_variable_decides_how_the_bastion_is_reached(env_name: str) -> None:
    """An AWX sync with overwrite deletes the bastion group, and its variables, when no bastion
    runs: the connection must come with the host from the source, not from the group."""
    group_vars = yaml.safe_load((ROOT / "inventories" / env_name / "group_vars" / "bastion.yml").read_text()) or {}
    assert not [k for k in group_vars if k.startswith("ansible_")]
