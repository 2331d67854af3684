"""roles/bastion: the instance role's inline policy as the role renders it
(templates/bastion_policy.json.j2). amazon.aws.aws_ssm moves files with presigned URLs the
controller makes ("The remote instance does not require IAM credentials for S3", the connection
plugin's documentation): the bastion itself is granted no S3 action, only the database secret."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"  # noqa: S105 - an ARN, not a password
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"


def bastion_policy(**variables: Any) -> dict[str, Any]:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - JSON
    environment.filters["to_json"] = json.dumps
    source = (ROOT / "roles/bastion/templates/bastion_policy.json.j2").read_text()
    defaults = {"aws_region": "eu-west-1", "aws_partition": "aws", "bastion_ssm_bucket_enabled": True}
    defaults["bastion_ssm_bucket_name"] = "resume-dev-bastion-ssm"
    return dict(json.loads(environment.from_string(source).render(**{**defaults, **variables})))


def test_the_bastion_reads_the_database_secret_and_is_granted_nothing_in_s3() -> None:
    policy = bastion_policy(bastion_db_secret_arn=SECRET_ARN, bastion_db_kms_key_arn=KEY)
    assert {s["Sid"]: s["Resource"] for s in policy["Statement"]} == {
        "ReadDbSecret": SECRET_ARN,
        "DecryptDbSecret": KEY,
    }
    actions = [a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not [a for a in actions if a.startswith("s3:")]


ACCOUNT = "123456789012"
BASTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/resume-dev-bastion"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f0f0f0f-0000-4000-8000-000000000000"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def private_key_policy() -> dict[str, Any]:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - JSON
    environment.filters["to_json"] = json.dumps
    source = (ROOT / "roles/bastion/templates/private_key_policy.json.j2").read_text()
    rendered = environment.from_string(source).render(aws_partition="aws", __bastion_role_arn=BASTION_ROLE)
    return dict(json.loads(rendered))


def ssm_managed_instance_core() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return dict(json.loads(aws_managed_policies_data)["AmazonSSMManagedInstanceCore"]["Document"])


def session(role: str, *documents: dict[str, Any]) -> Any:
    from localcloud.iam import Principal

    name = role.rsplit("/", 1)[1]
    return Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/i-0123456789abcdef0", ACCOUNT, role, documents)


def decrypt_through_ssm(principal: Any) -> Any:
    """What GetParameter WithDecryption on the private key's parameter asks of KMS (localcloud/iam.py)."""
    from localcloud.iam import Request, decide

    context = {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ssm.eu-west-1.amazonaws.com"}
    return decide(principal, Request("kms:Decrypt", KEY_ARN, context, key_policy=private_key_policy(), via="ssm"))


def test_the_private_keys_key_lets_administrators_decrypt_and_denies_the_bastion_whatever_it_is_granted() -> None:
    from localcloud.iam import Decision

    administrator = session(f"arn:aws:iam::{ACCOUNT}:role/admin", EVERYTHING)
    assert decrypt_through_ssm(administrator) is Decision.ALLOW
    # The bastion, as provisioned (AmazonSSMManagedInstanceCore), and even granted everything later.
    assert decrypt_through_ssm(session(BASTION_ROLE, ssm_managed_instance_core())) is not Decision.ALLOW
    assert decrypt_through_ssm(session(BASTION_ROLE, ssm_managed_instance_core(), EVERYTHING)) is Decision.EXPLICIT_DENY
    # Any other SSM-managed instance of the account (another environment's bastion).
    other = session(f"arn:aws:iam::{ACCOUNT}:role/resume-prod-bastion", ssm_managed_instance_core())
    assert decrypt_through_ssm(other) is Decision.IMPLICIT_DENY


def user_data(region: str) -> str:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - a script
    source = (ROOT / "roles/bastion/templates/user_data.sh.j2").read_text()
    return environment.from_string(source).render(aws_region=region, bastion_name="resume-dev-bastion")


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_the_user_data_installs_and_starts_the_ssm_agent_from_the_regions_bucket(tmp_path: Path, region: str) -> None:
    """The script runs with curl, dpkg, apt-get and systemctl replaced by stubs that log their arguments:
    the download retries every error, the install waits for the dpkg lock (user data runs once)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    for name, output in {"curl": "", "dpkg": "amd64", "apt-get": "", "systemctl": ""}.items():
        stub = bin_dir / name
        body = f'echo "{name} $*" >> "{log}"\n[ "$1" = --print-architecture ] && echo {output}\nexit 0\n'
        stub.write_text("#!/bin/sh\n" + body)
        stub.chmod(0o755)
    script = tmp_path / "user-data"
    script.write_text(user_data(region))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True, text=True)
    calls = log.read_text().splitlines()
    (download,) = [c for c in calls if c.startswith("curl ")]
    url = f"https://amazon-ssm-{region}.s3.{region}.amazonaws.com/latest/debian_amd64/amazon-ssm-agent.deb"
    assert download.endswith(" " + url) and "--fail" in download and "--retry-all-errors" in download
    install = "apt-get install -y -o DPkg::Lock::Timeout=600 /var/tmp/amazon-ssm-agent.deb"
    assert install in calls
    assert calls.index(install) < calls.index("systemctl enable amazon-ssm-agent")
    assert "systemctl restart amazon-ssm-agent" in calls


def test_the_bastion_is_launched_with_the_agents_user_data_unless_its_image_has_one() -> None:
    tasks = yaml.safe_load((ROOT / "roles/bastion/tasks/create.yml").read_text())
    modules = [t["amazon.aws.ec2_instance"] for t in tasks if "amazon.aws.ec2_instance" in t]
    (launch,) = [m for m in modules if m.get("state") == "running"]
    assert launch["user_data"] == (
        "{{ lookup('ansible.builtin.template', 'user_data.sh.j2') if bastion_ssm_agent_install else omit }}"
    )
    defaults = yaml.safe_load((ROOT / "roles/bastion/defaults/main.yml").read_text())
    assert defaults["bastion_ssm_agent_install"] is True  # the default image is Debian's


def test_configure_waits_a_bounded_time_for_the_bastion_to_answer_before_anything_else() -> None:
    """Over SSM, a session opens once the agent registered (one to three minutes after boot):
    wait_for_connection retries the connection (amazon.aws.aws_ssm's start_session) until then."""
    plays = yaml.safe_load((ROOT / "playbooks/configure.yml").read_text())
    (play,) = [p for p in plays if p["hosts"] == "bastion"]
    assert play["gather_facts"] is False
    first = play["pre_tasks"][0]
    (wait,) = first["block"]
    timeout = wait["ansible.builtin.wait_for_connection"]["timeout"]
    assert 60 <= int(re.fullmatch(r"\{\{ configure_connection_timeout \| default\((\d+)\) \}\}", timeout)[1]) <= 900
    # A timeout names what to look at (AWX shows only the message): the registration, the console.
    (why,) = first["rescue"]
    message = why["ansible.builtin.fail"]["msg"]
    assert "describe-instance-information" in message and "get-console-output" in message
