"""roles/queues: who the alarms notify. Each environment names its alarm subscriptions
(inventories/<env>, alarm_subscriptions), playbooks/queues.yml hands them to the role, and the role's
topic task, run for real (community.aws.sns_topic against an in-process moto server), adds them and
leaves the subscriptions an operator added by hand."""

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

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "queues"


@pytest.mark.parametrize("env", ["dev", "staging", "prod", "local"])
def test_every_environment_says_who_its_alarms_notify(env: str) -> None:
    folder = ROOT / "inventories" / env / "group_vars"
    files = [folder / "all.yml"] if (folder / "all.yml").exists() else sorted((folder / "all").glob("*.yml"))
    found = [v["alarm_subscriptions"] for f in files if "alarm_subscriptions" in (v := yaml.safe_load(f.read_text()))]
    assert len(found) == 1 and isinstance(found[0], list), f"{env}: alarm_subscriptions must be set once, as a list"


def test_the_queues_play_hands_the_environments_subscriptions_to_the_role() -> None:
    play = yaml.safe_load((ROOT / "playbooks" / "queues.yml").read_text())[0]
    role_vars = next(r for r in play["roles"] if r["role"] == "queues")["vars"]
    assert role_vars["queues_alarm_subscriptions"] == "{{ alarm_subscriptions }}"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def topic_task(subscriptions: list[dict[str, str]], **overrides: Any) -> dict[str, Any]:
    """The role's sns_topic arguments, with its defaults (the Jinja ones given here)."""
    tasks = yaml.safe_load((ROLE / "tasks" / "create.yml").read_text())
    args = dict(next(t for t in tasks if "community.aws.sns_topic" in t)["community.aws.sns_topic"])
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    purge = args["purge_subscriptions"]
    if isinstance(purge, str):
        purge = defaults[purge.strip("{} ")]
    return {
        "name": "resume-test-alarms",
        "subscriptions": subscriptions,
        "purge_subscriptions": overrides.get("purge_subscriptions", purge),
        "state": "present",
    }


def run_sns_topic(url: str, args: dict[str, Any], home: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    ansible = str(Path(sys.executable).parent / "ansible")
    cmd = [ansible, "localhost", "-i", "localhost,", "-c", "local", "-m", "community.aws.sns_topic"]
    cmd += ["-a", json.dumps({**args, "endpoint_url": url})]
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120, cwd=home)
    return dict(json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"])


def endpoints(url: str) -> set[str]:
    sns = boto3.client(
        "sns", region_name="eu-west-1", endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    arn = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":resume-test-alarms"))
    return {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]}


def test_the_topic_gets_the_environments_subscriptions_and_keeps_those_added_by_hand(
    moto_url: str, tmp_path: Path
) -> None:
    managed = [{"protocol": "email", "endpoint": "oncall@example.com"}]
    first = run_sns_topic(moto_url, topic_task(managed), tmp_path)
    assert first.get("failed") is not True, first
    assert endpoints(moto_url) == {"oncall@example.com"}

    sns = boto3.client(
        "sns", region_name="eu-west-1", endpoint_url=moto_url, aws_access_key_id="t", aws_secret_access_key="t"
    )
    sns.subscribe(TopicArn=first["sns_arn"], Protocol="email", Endpoint="dba@example.com")  # by hand

    again = run_sns_topic(moto_url, topic_task(managed), tmp_path)
    assert again["changed"] is False, again
    assert endpoints(moto_url) == {"oncall@example.com", "dba@example.com"}

    # Turned on, the list is the whole truth.
    purged = run_sns_topic(moto_url, topic_task(managed, purge_subscriptions=True), tmp_path)
    assert purged["changed"] is True
    assert endpoints(moto_url) == {"oncall@example.com"}
