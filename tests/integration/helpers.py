"""Run the project's playbooks against a local cloud and read the emulator back with boto3."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REGION = "eu-west-1"
ENV_NAME = "local"
# The tests' outputs.json, apart from the one `make up` writes under artifacts/: one folder per
# emulator, so a dry run on the empty one never reads the shared stack's outputs.
MAIN_PORT = int(os.environ.get("TEST_LOCALCLOUD_PORT", "5150"))


def artifacts_for(port: int) -> Path:
    return ROOT / ".state" / f"test-artifacts-{port}"


ARTIFACTS = artifacts_for(MAIN_PORT)
# Extra vars of every test run (an address range apart from `make up`'s stack).
# TEST_VPC_OCTET moves it (10.<octet>.0.0/16) so that two working copies can run side by side.
VPC_PREFIX = f"10.{int(os.environ.get('TEST_VPC_OCTET', '90'))}"
VPC_CIDR = f"{VPC_PREFIX}.0.0/16"
TEST_VARS = ROOT / ".state" / f"test-vars-{VPC_PREFIX}.yml"


def _write_test_vars() -> None:
    text = Path(__file__).with_name("vars.yml").read_text().replace("10.90.", f"{VPC_PREFIX}.")
    TEST_VARS.parent.mkdir(parents=True, exist_ok=True)
    if not TEST_VARS.exists() or TEST_VARS.read_text() != text:
        TEST_VARS.write_text(text)


_write_test_vars()
# The bastion's key and known_hosts for the tests, apart from `make up`'s .state/<env>/, one folder
# per emulator: scripts/test.sh runs a second stack (the interrupted runs) beside the shared one.
ACCESS = ROOT / ".state" / f"test-access-{MAIN_PORT}"
ADMIN = "alice"
ADMIN_KEY = ACCESS / f"{ADMIN}_ed25519"


def admin_vars() -> Path:
    """Extra vars naming the test admin and its public key (the key pair is made once)."""
    ACCESS.mkdir(parents=True, exist_ok=True)
    if not ADMIN_KEY.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{ADMIN}@tests", "-f", str(ADMIN_KEY)], check=True
        )
    path = ACCESS / "admins.json"
    public = ADMIN_KEY.with_suffix(".pub").read_text().strip()
    text = json.dumps({"bastion_config_admins": [{"name": ADMIN, "ssh_keys": [public]}]})
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


PROJECT = "resume"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.M,
)


@dataclass
class Run:
    """One ansible-playbook run: its exit code, its whole output and the recap counts."""

    returncode: int
    output: str

    @property
    def recap(self) -> dict[str, int]:
        """The PLAY RECAP counts, summed over every host of the run."""
        totals: dict[str, int] = {}
        for match in RECAP.finditer(self.output):
            for key, value in match.groupdict().items():
                if key != "host":
                    totals[key] = totals.get(key, 0) + int(value)
        return totals

    @property
    def why(self) -> str:
        """What a failed run says about its failure: each fatal/failed task line and the lines after
        it (the output ends with stderr's warnings, so its tail alone rarely names the cause)."""
        lines = self.output.splitlines()
        hits = [i for i, line in enumerate(lines) if line.startswith(("fatal:", "failed:", "ERROR!", "[ERROR]"))]
        if not hits:
            return self.output[-3000:]
        return "\n".join("\n".join(lines[max(i - 2, 0) : i + 15]) for i in hits)[-6000:]

    @property
    def changed(self) -> int:
        return self.recap.get("changed", -1)


POLICIES = ROOT / "policies"
# Who runs each playbook on the suite's emulator once the stack fixture made the deployer users
# (conftest.deployers): the IAM user holding only the playbook's deployer policies, so that every
# run of the suite proves them. Runs on other emulators, or before, use the local cloud's own keys.
DEPLOYER_POLICIES = {"site": ("provision", "configure", "deploy"), "teardown": ("teardown",)}
DEPLOYERS: dict[int, dict[str, tuple[str, str]]] = {}


def deployer_for(playbook: str) -> str:
    """The deployer user (a DEPLOYER_POLICIES key) that runs ``playbook``."""
    return "teardown" if Path(playbook).name == "teardown.yml" else "site"


def run_playbook(playbook: str, *args: str, port: int, log: Path | None = None, admin: bool = False) -> Run:
    """ansible-playbook from the repository root, with the local inventory on the given emulator port:
    as the playbook's deployer user where one exists on that emulator (DEPLOYERS), unless ``admin``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "ANSIBLE_", "LOCALCLOUD_ACCESS", "LOCALCLOUD_SECRET"))
    }
    keys = None if admin else DEPLOYERS.get(port, {}).get(deployer_for(playbook))
    if keys is not None:
        env.update(LOCALCLOUD_ACCESS_KEY_ID=keys[0], LOCALCLOUD_SECRET_ACCESS_KEY=keys[1])
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        LOCALCLOUD_PORT=str(port),
        ARTIFACTS_DIR=str(artifacts_for(port)),
        RESUME_STATE_DIR=str(ACCESS),
    )
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), playbook, "-e", f"@{TEST_VARS}", "-e", f"@{admin_vars()}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = proc.stdout + proc.stderr
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output)
    return Run(proc.returncode, output)


def client(service: str, endpoint: str, credentials: dict[str, str] | None = None) -> Any:
    """A client with the inventories' 10 attempts: the suite's cloud throttles a tenth of all calls,
    and a scan of a hundred calls at botocore's 3 attempts fails now and then. With the emulator's
    admin keys, or ``credentials`` named as in a process environment (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY and, for a role's session, AWS_SESSION_TOKEN)."""
    keys = credentials or {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )


def tags_of(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def role_policy(iam: Any, role: str, name: str) -> dict[str, Any]:
    """The inline policy `name` of IAM role `role`, as a dict (the emulator may return it as JSON text)."""
    doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return doc if isinstance(doc, dict) else json.loads(doc)


def leftovers(endpoint: str, env_name: str = ENV_NAME) -> dict[str, list[str]]:
    """Every resource of the project's environment the emulator still holds, found without the playbooks."""
    prefix = f"{PROJECT}-{env_name}"
    tag_filter = [{"Name": "tag:Project", "Values": [PROJECT]}, {"Name": "tag:Environment", "Values": [env_name]}]
    ec2 = client("ec2", endpoint)
    found: dict[str, list[str]] = {}
    found["vpcs"] = [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag_filter)["Vpcs"]]
    vpc_ids = found["vpcs"]
    vpc_filter = [{"Name": "vpc-id", "Values": vpc_ids}] if vpc_ids else None
    found["subnets"] = [s["SubnetId"] for s in ec2.describe_subnets(Filters=tag_filter)["Subnets"]]
    found["nat_gateways"] = [
        n["NatGatewayId"]
        for n in ec2.describe_nat_gateways()["NatGateways"]
        if n["State"] not in ("deleted", "deleting")
        and (
            n.get("VpcId") in vpc_ids
            or tags_of(n.get("Tags")).items() >= {"Project": PROJECT, "Environment": env_name}.items()
        )
    ]
    found["eips"] = [a["AllocationId"] for a in ec2.describe_addresses(Filters=tag_filter)["Addresses"]]
    found["security_groups"] = [
        g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(prefix)
    ]
    found["route_tables"] = [r["RouteTableId"] for r in ec2.describe_route_tables(Filters=tag_filter)["RouteTables"]]
    if vpc_filter:
        found["internet_gateways"] = [
            i["InternetGatewayId"]
            for i in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": vpc_ids}])[
                "InternetGateways"
            ]
        ]
        found["vpc_endpoints"] = [
            e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=vpc_filter)["VpcEndpoints"]
        ]
        found["flow_logs"] = [
            f["FlowLogId"]
            for f in ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": vpc_ids}])["FlowLogs"]
        ]
    found["key_pairs"] = [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"].startswith(prefix)]
    found["instances"] = [
        i["InstanceId"]
        for r in ec2.describe_instances(Filters=tag_filter)["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    elbv2 = client("elbv2", endpoint)
    found["load_balancers"] = [
        b["LoadBalancerName"]
        for b in elbv2.describe_load_balancers()["LoadBalancers"]
        if b["LoadBalancerName"].startswith(prefix)
    ]
    rds = client("rds", endpoint)
    found["db_clusters"] = [
        c["DBClusterIdentifier"]
        for c in rds.describe_db_clusters()["DBClusters"]
        if c["DBClusterIdentifier"].startswith(prefix)
    ]
    found["db_instances"] = [
        i["DBInstanceIdentifier"]
        for i in rds.describe_db_instances()["DBInstances"]
        if i["DBInstanceIdentifier"].startswith(prefix)
    ]
    found["db_subnet_groups"] = [
        g["DBSubnetGroupName"]
        for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        if g["DBSubnetGroupName"].startswith(prefix)
    ]
    found["db_proxies"] = [
        p["DBProxyName"] for p in rds.describe_db_proxies()["DBProxies"] if p["DBProxyName"].startswith(prefix)
    ]
    found["secrets"] = [
        s["Name"]
        for s in client("secretsmanager", endpoint).list_secrets()["SecretList"]
        if s["Name"].startswith(prefix)
    ]
    found["ssm_parameters"] = [
        p["Name"]
        for p in client("ssm", endpoint).describe_parameters()["Parameters"]
        if p["Name"].startswith(f"/{PROJECT}/{env_name}/")
    ]
    ecs = client("ecs", endpoint)
    cluster_arns = ecs.list_clusters()["clusterArns"]
    found["ecs_clusters"] = (
        [
            c["clusterName"]
            for c in ecs.describe_clusters(clusters=cluster_arns)["clusters"]
            if c["clusterName"].startswith(prefix) and c["status"] != "INACTIVE"
        ]
        if cluster_arns
        else []
    )
    found["queues"] = [u for u in client("sqs", endpoint).list_queues().get("QueueUrls", []) if f"/{prefix}-" in u]
    found["topics"] = [
        t["TopicArn"] for t in client("sns", endpoint).list_topics()["Topics"] if f":{prefix}-" in t["TopicArn"]
    ]
    found["alarms"] = [
        a["AlarmName"]
        for a in client("cloudwatch", endpoint).describe_alarms()["MetricAlarms"]
        if a["AlarmName"].startswith(prefix)
    ]
    found["log_groups"] = [
        g["logGroupName"]
        for g in client("logs", endpoint).describe_log_groups()["logGroups"]
        if prefix in g["logGroupName"]
    ]
    iam = client("iam", endpoint)
    found["iam_roles"] = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(prefix)]
    found["instance_profiles"] = [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles()["InstanceProfiles"]
        if p["InstanceProfileName"].startswith(prefix)
    ]
    route53 = client("route53", endpoint)
    found["hosted_zones"] = [
        z["Id"] for z in route53.list_hosted_zones()["HostedZones"] if z["Name"].startswith(f"{env_name}.{PROJECT}.")
    ]
    kms = client("kms", endpoint)
    found["kms_keys_not_pending_deletion"] = [
        a["TargetKeyId"]
        for a in kms.list_aliases()["Aliases"]
        if a["AliasName"].startswith(f"alias/{prefix}")
        and kms.describe_key(KeyId=a["TargetKeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
    ]
    return {kind: ids for kind, ids in found.items() if ids}
