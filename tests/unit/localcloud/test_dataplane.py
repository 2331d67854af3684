"""The local cloud's data plane: image recipe hashing, reconciliation from the emulator's state."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from localcloud import dataplane, ecs
from localcloud.dataplane import Database, DataPlane, Instance
from tests.integration.helpers import client

REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def cloud(endpoint: str) -> dict[str, str]:
    """One tagged running instance, one of another project, one terminated; a DB secret and a plain one."""
    ec2 = client("ec2", endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.90.128.0/20")["Subnet"]["SubnetId"]
    ec2.create_key_pair(KeyName="bastion", KeyType="ed25519")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

    def launch(tags: dict[str, str]) -> str:
        return ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet,
            KeyName="bastion",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )["Instances"][0]["InstanceId"]

    ours = launch({"Project": "resume", "Environment": "ut", "Name": "resume-ut-bastion", "Role": "bastion"})
    launch({"Project": "other", "Environment": "ut"})
    gone = launch({"Project": "resume", "Environment": "ut"})
    ec2.terminate_instances(InstanceIds=[gone])
    sm = client("secretsmanager", endpoint)
    tags = [{"Key": "Project", "Value": "resume"}, {"Key": "Environment", "Value": "ut"}]
    secret = {"engine": "postgres", "host": "db.ut.resume.internal", "port": 5432}
    secret |= {"dbname": "resume", "username": "resume_admin", "password": "pw'1"}
    sm.create_secret(Name="resume-ut/db-master", SecretString=json.dumps(secret), Tags=tags)
    sm.create_secret(Name="resume-ut/other", SecretString="not json", Tags=tags)
    return {"vpc": vpc, "instance": ours}


def _plane(endpoint: str, tmp_path: Path) -> DataPlane:
    return DataPlane(endpoint=endpoint, region=REGION, project="resume", state_dir=tmp_path)


def test_recipe_digest_changes_only_when_a_recipe_file_changes(tmp_path: Path) -> None:
    (tmp_path / "packages.txt").write_text("openssh-server\n")
    (tmp_path / "setup.sh").write_text("true\n")
    first = dataplane.recipe_digest(tmp_path)
    assert dataplane.recipe_digest(tmp_path) == first
    (tmp_path / "setup.sh").write_text("true # changed\n")
    assert dataplane.recipe_digest(tmp_path) != first


def test_image_tag_names_the_project_repository_and_the_recipe_hash() -> None:
    assert dataplane.image_tag() == f"{dataplane.IMAGE_REPO}:{dataplane.recipe_digest()}"


def test_packages_list_ignores_comments_and_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "packages.txt").write_text("# header\nsudo\n\njq  # inline\n")
    assert dataplane.read_packages(tmp_path) == ["sudo", "jq"]


def test_shipped_recipe_installs_sshd_and_the_bastion_tools() -> None:
    packages = set(dataplane.read_packages())
    assert {"openssh-server", "python3", "postgresql-client", "awscli", "jq", "tini"} <= packages


def test_network_gateway_is_the_vpc_router_address() -> None:
    assert dataplane.network_gateway("10.40.0.0/16") == "10.40.0.1"


def test_hosts_block_replaces_only_its_own_lines_and_is_stable() -> None:
    current = "127.0.0.1 localhost\n10.40.128.4 ip-10-40-128-4\n"
    block = dataplane.hosts_block({"10.40.0.1": ["db.local.resume.internal", "aws.localcloud.internal"]})
    once = dataplane.replace_hosts_block(current, block)
    assert once.startswith(current)
    assert "10.40.0.1 aws.localcloud.internal db.local.resume.internal\n" in once
    assert dataplane.replace_hosts_block(once, block) == once
    emptied = dataplane.replace_hosts_block(once, dataplane.hosts_block({}))
    assert "db.local" not in emptied and emptied.startswith(current)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ('{"engine": "postgres", "host": "h", "dbname": "d", "username": "u", "password": "p"}', True),
        ('{"engine": "mysql", "host": "h", "dbname": "d", "username": "u", "password": "p"}', False),
        ('{"engine": "postgres", "host": "h", "dbname": "d", "username": "u"}', False),
        ("plain text", False),
        ('["a list"]', False),
    ],
)
def test_only_complete_postgres_secrets_are_databases(raw: str, ok: bool) -> None:
    assert (dataplane.parse_db_secret(raw) is not None) == ok


def test_sql_quoting_doubles_quotes() -> None:
    assert dataplane.sql_literal("pw'1") == "'pw''1'"
    assert dataplane.sql_ident('a"b') == '"a""b"'


def test_database_repr_hides_the_password() -> None:
    db = Database(environment="ut", dbname="d", username="u", password="s3cret", port=5432, names=("h",))
    assert "s3cret" not in repr(db)


def test_desired_instances_are_the_running_ones_of_the_project_with_their_public_key(
    endpoint: str, cloud: dict[str, str], tmp_path: Path
) -> None:
    instances = _plane(endpoint, tmp_path).desired_instances()
    assert [i.instance_id for i in instances] == [cloud["instance"]]
    inst = instances[0]
    assert inst.vpc_id == cloud["vpc"] and inst.vpc_cidr == "10.90.0.0/16"
    assert inst.private_ip.startswith("10.90.128.")
    assert inst.public_key.startswith("ssh-ed25519 ")
    assert inst.environment == "ut" and inst.hostname == "ip-" + inst.private_ip.replace(".", "-")


def test_desired_databases_come_from_the_project_db_secrets_and_resolve_once_a_record_names_them(
    endpoint: str, cloud: dict[str, str], tmp_path: Path
) -> None:
    dbs = _plane(endpoint, tmp_path).desired_databases()
    assert len(dbs) == 1
    assert (dbs[0].username, dbs[0].dbname, dbs[0].password, dbs[0].port) == ("resume_admin", "resume", "pw'1", 5432)
    assert "db.ut.resume.internal" not in dbs[0].names  # no DNS record gives the name yet, as on AWS
    route53 = client("route53", endpoint)
    zone = route53.create_hosted_zone(
        Name="ut.resume.internal",
        CallerReference="ut",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": REGION, "VPCId": cloud["vpc"]},
    )["HostedZone"]["Id"]
    record = {"Name": "db.ut.resume.internal", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "x"}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )
    assert "db.ut.resume.internal" in _plane(endpoint, tmp_path).desired_databases()[0].names


def test_each_db_endpoint_and_proxy_has_an_address_of_its_own_and_the_db_name_follows_its_cname(
    endpoint: str, cloud: dict[str, str], tmp_path: Path
) -> None:
    ec2, rds, route53, sm = (client(s, endpoint) for s in ("ec2", "rds", "route53", "secretsmanager"))
    subnets = [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [cloud["vpc"]]}])["Subnets"]
    ]
    db_group = ec2.create_security_group(GroupName="ut-db", Description="db", VpcId=cloud["vpc"])["GroupId"]
    proxy_group = ec2.create_security_group(GroupName="ut-proxy", Description="proxy", VpcId=cloud["vpc"])["GroupId"]
    rds.create_db_subnet_group(DBSubnetGroupName="ut", DBSubnetGroupDescription="ut", SubnetIds=subnets)
    tags = [{"Key": "Project", "Value": "resume"}, {"Key": "Environment", "Value": "ut"}]
    writer = rds.create_db_cluster(
        DBClusterIdentifier="resume-ut",
        Engine="aurora-postgresql",
        MasterUsername="resume_admin",
        MasterUserPassword="pw123456789",
        DBSubnetGroupName="ut",
        VpcSecurityGroupIds=[db_group],
        Tags=tags,
    )["DBCluster"]["Endpoint"]
    secret_arn = sm.describe_secret(SecretId="resume-ut/db-master")["ARN"]
    proxy = rds.create_db_proxy(
        DBProxyName="resume-ut-proxy",
        EngineFamily="POSTGRESQL",
        Auth=[{"SecretArn": secret_arn, "IAMAuth": "DISABLED"}],
        RoleArn="arn:aws:iam::123456789012:role/ut",
        VpcSubnetIds=subnets,
        VpcSecurityGroupIds=[proxy_group],
    )["DBProxy"]["Endpoint"]
    plane = _plane(endpoint, tmp_path)
    services = {s.key: s for s in plane.database_services()}
    db, prx = services["db:resume-ut"], services["proxy:resume-ut-proxy"]
    assert db.security_groups == (db_group,) and prx.security_groups == (proxy_group,)
    assert db.address != prx.address and prx.target == db.address  # the proxy forwards to the database
    assert db.address.startswith("10.90.1")  # inside the DB subnet, away from instances and tasks

    zone = route53.list_hosted_zones_by_name(DNSName="ut.resume.internal")["HostedZones"][0]["Id"]

    def cname(value: str) -> str:
        record = {"Name": "db.ut.resume.internal", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": value}]}
        route53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
        )
        return plane.desired_databases()[0].address_of("db.ut.resume.internal", "gateway")

    assert cname(writer) == db.address
    assert cname(proxy) == prx.address
    rds.delete_db_proxy(DBProxyName="resume-ut-proxy")
    rds.delete_db_cluster(DBClusterIdentifier="resume-ut", SkipFinalSnapshot=True)


def test_scopes_of_two_emulators_differ(tmp_path: Path) -> None:
    a = DataPlane(endpoint="http://127.0.0.1:5100", region=REGION, project="resume", state_dir=tmp_path)
    b = DataPlane(endpoint="http://127.0.0.1:5400", region=REGION, project="resume", state_dir=tmp_path)
    assert a.container_name("i-1") != b.container_name("i-1")
    assert a.network_name("vpc-1") != b.network_name("vpc-1")


class FakeDocker:
    """Just enough of the docker CLI for sync: containers and networks by name."""

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, str]] = {}
        self.networks: dict[str, dict[str, str]] = {}
        self.files: dict[str, str] = {"/etc/hosts": "127.0.0.1 localhost\n"}
        self.calls: list[list[str]] = []

    @property
    def hosts(self) -> str:
        return self.files["/etc/hosts"]

    def __call__(self, argv: Sequence[str], *, check: bool = True, input_text: str | None = None, **_: Any) -> str:
        args = list(argv)
        self.calls.append(args)
        if args[:2] == ["docker", "ps"]:
            return "".join(json.dumps(row) + "\n" for row in self.containers.values())
        if args[:3] == ["docker", "network", "ls"]:
            return "".join(json.dumps(row) + "\n" for row in self.networks.values())
        if args[:3] == ["docker", "network", "create"]:
            self.networks[args[-1]] = {"Name": args[-1]}
        elif args[:3] == ["docker", "network", "rm"]:
            self.networks.pop(args[-1])
        elif args[:2] == ["docker", "run"]:
            name = args[args.index("--name") + 1]
            self.containers[name] = {"Names": name, "State": "running", "Labels": ""}
        elif args[:3] == ["docker", "rm", "-f"]:
            self.containers.pop(args[-1])
        elif args[:3] == ["docker", "network", "inspect"]:
            return json.dumps([{"Name": name, "Containers": {}} for name in args[3:]])
        elif args[:2] == ["docker", "exec"] and args[3] == "cat":
            return self.files.get(args[4], "")
        elif args[:2] == ["docker", "exec"]:
            # `sh -c "cat > FILE"` or `sh -c "umask ... && cat > FILE.tmp && mv FILE.tmp FILE"`
            target = args[-1].split("cat > ", 1)[1].split()[0].removesuffix(".tmp")
            self.files[target] = input_text or ""
        return ""


def _no_services(monkeypatch: pytest.MonkeyPatch, plane: DataPlane) -> None:
    """No RDS resource, load balancer or firewall: these tests are about the test hosts."""
    monkeypatch.setattr(plane, "service_addresses", list)
    monkeypatch.setattr(plane, "prune_addresses", lambda wanted: None)
    monkeypatch.setattr(plane, "sync_firewall", lambda extra=(): None)


def test_sync_creates_the_test_host_once_then_reports_no_change(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docker = FakeDocker()
    monkeypatch.setattr(dataplane, "run", docker)
    inst = Instance("i-1", "10.40.128.4", "vpc-1", "10.40.0.0/16", "local", "ssh-ed25519 AAAA k", "bastion")
    plane = _plane("http://127.0.0.1:5999", tmp_path)
    monkeypatch.setattr(plane, "desired_instances", lambda: [inst])
    monkeypatch.setattr(plane, "desired_databases", list)
    monkeypatch.setattr(plane, "ensure_proxy", lambda *a: None)
    _no_services(monkeypatch, plane)
    changes = plane.sync(image="img:1")
    assert [c.split()[0] for c in changes] == [
        "network",
        "test",
        "/etc/hosts",
        "/etc/environment",
        "/etc/sudoers.d/localcloud-instance-role",
    ]
    run = next(c for c in docker.calls if c[:2] == ["docker", "run"])
    assert run[run.index("--ip") + 1] == "10.40.128.4"
    assert "LOCALCLOUD_SSH_PUBLIC_KEY=ssh-ed25519 AAAA k" in run
    assert "aws.localcloud.internal" in docker.hosts
    # What the instance role and the regional endpoint give an EC2 instance's AWS CLI, sudo included.
    assert "AWS_ENDPOINT_URL=http://aws.localcloud.internal:5999" in docker.files["/etc/environment"]
    assert "AWS_ACCESS_KEY_ID" not in docker.files["/etc/environment"]  # no instance profile, no credentials
    assert "AWS_ENDPOINT_URL" in docker.files["/etc/sudoers.d/localcloud-instance-role"]

    again = _plane("http://127.0.0.1:5999", tmp_path)
    monkeypatch.setattr(again, "desired_instances", lambda: [inst])
    monkeypatch.setattr(again, "desired_databases", list)
    monkeypatch.setattr(again, "ensure_proxy", lambda *a: None)
    _no_services(monkeypatch, again)
    assert again.sync(image="img:1") == []


def test_sync_removes_the_test_host_and_network_of_a_terminated_instance(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docker = FakeDocker()
    monkeypatch.setattr(dataplane, "run", docker)
    plane = _plane("http://127.0.0.1:5999", tmp_path)
    docker.containers[plane.container_name("i-1")] = {"Names": plane.container_name("i-1"), "State": "running"}
    docker.networks[plane.network_name("vpc-1")] = {"Name": plane.network_name("vpc-1")}
    monkeypatch.setattr(plane, "desired_instances", list)
    monkeypatch.setattr(plane, "desired_databases", list)
    _no_services(monkeypatch, plane)
    changes = plane.sync(image="img:1")
    assert len(changes) == 2
    assert docker.containers == {} and docker.networks == {}


def test_default_emulator_uses_the_default_cluster_and_others_their_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PG_LOCAL_PORT", raising=False)
    monkeypatch.delenv("STATE_DIR", raising=False)
    default = _plane("http://127.0.0.1:5100", tmp_path).pg_cluster_env()
    assert "PG_LOCAL_PORT" not in default and "STATE_DIR" not in default
    other = _plane("http://127.0.0.1:5400", tmp_path)
    env = other.pg_cluster_env()
    assert env["STATE_DIR"] == str(other.run_dir)
    assert dataplane.PG_PORT_BASE <= int(env["PG_LOCAL_PORT"]) < dataplane.PG_PORT_BASE + dataplane.PG_PORT_SPAN
    assert env == other.pg_cluster_env()  # stable across runs


def test_an_explicit_cluster_port_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PG_LOCAL_PORT", "55999")
    assert _plane("http://127.0.0.1:5400", tmp_path).pg_cluster_env()["PG_LOCAL_PORT"] == "55999"


def test_ecs_tasks_filter_by_cluster_only_when_one_is_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(ecs, "run", lambda argv, **_: calls.append(list(argv)) or "")
    plane = _plane("http://127.0.0.1:5999", tmp_path)
    assert ecs.Ecs(plane, "resume-ut").tasks() == []
    assert ecs.Ecs(plane, "").tasks() == []
    assert f"label={ecs.ECS_LABEL}.cluster=resume-ut" in calls[0]
    assert not [arg for arg in calls[1] if arg.startswith(f"label={ecs.ECS_LABEL}.cluster")]
    assert f"label={ecs.ECS_LABEL}.endpoint=http://127.0.0.1:5999" in calls[1]


def test_down_removes_the_service_tasks_of_every_cluster_before_the_networks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docker = FakeDocker()
    monkeypatch.setattr(dataplane, "run", docker)
    monkeypatch.setattr(ecs, "run", docker)
    plane = _plane("http://127.0.0.1:5999", tmp_path)
    network = plane.network_name("vpc-1")
    docker.networks[network] = {"Name": network}
    task = ecs.Task("lc-ecs-api-1", "api", "arn:td/api:1", "10.40.128.9", "running", 0.0)
    docker.containers[task.container] = {"Names": task.container, "State": "running"}
    clusters: list[str] = []

    def tasks(self: ecs.Ecs) -> list[ecs.Task]:
        clusters.append(self.cluster)
        return [task] if task.container in docker.containers else []

    monkeypatch.setattr(ecs.Ecs, "tasks", tasks)
    monkeypatch.setattr(plane, "existing_containers", dict)
    changes = plane.down()
    assert clusters == [""]  # every cluster of the emulator
    assert docker.calls.index(["docker", "rm", "-f", "--volumes", task.container]) < docker.calls.index(
        ["docker", "network", "rm", network]
    )
    assert docker.containers == {} and docker.networks == {}
    assert any(task.container in c for c in changes)


def _profile(endpoint: str, name: str, service: str) -> str:
    iam = client("iam", endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return str(profile)


def test_an_instance_gets_its_instance_profile_roles_session_and_keeps_it(endpoint: str, tmp_path: Path) -> None:
    plane = _plane(endpoint, tmp_path)
    inst = Instance(
        "i-1",
        "10.90.128.4",
        "vpc-1",
        "10.90.0.0/16",
        "ut",
        "",
        "bastion",
        instance_profile_arn=_profile(endpoint, "bastion-ut", "ec2.amazonaws.com"),
    )
    creds = plane.instance_role_credentials(inst, "")
    assert set(creds) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert creds["AWS_ACCESS_KEY_ID"] != "testing"
    held = "".join(f"{k}={v}\n" for k, v in creds.items())
    assert plane.instance_role_credentials(inst, held) == creds  # a later sync keeps the live session


def test_an_instance_without_a_profile_or_with_a_role_ec2_may_not_assume_gets_no_credentials(
    endpoint: str, tmp_path: Path
) -> None:
    plane = _plane(endpoint, tmp_path)
    bare = Instance("i-2", "10.90.128.5", "vpc-1", "10.90.0.0/16", "ut", "", "bastion")
    assert plane.instance_role_credentials(bare, "") == {}
    wrong = Instance(
        "i-3",
        "10.90.128.6",
        "vpc-1",
        "10.90.0.0/16",
        "ut",
        "",
        "x",
        instance_profile_arn=_profile(endpoint, "tasks-ut", "ecs-tasks.amazonaws.com"),
    )
    assert plane.instance_role_credentials(wrong, "") == {}


def test_sync_firewall_refuses_to_go_on_unenforced_unless_groups_are_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A host without nft used to leave every group unenforced without a word."""
    plane = _plane("http://127.0.0.1:5999", tmp_path)
    monkeypatch.setattr(dataplane.firewall, "nft_available", lambda: False)
    monkeypatch.setenv("LOCALCLOUD_SECURITY_GROUPS", "on")
    with pytest.raises(dataplane.LocalCloudError, match="nft not found"):
        plane.sync_firewall()
    monkeypatch.setenv("LOCALCLOUD_SECURITY_GROUPS", "off")
    plane.sync_firewall()  # off: nothing to enforce, nothing asked of the host


@pytest.mark.parametrize("balancer", [f"resume-ut-{n}" for n in range(6)])
def test_databases_proxies_and_load_balancers_never_share_an_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, balancer: str
) -> None:
    """A /29 leaves three middle addresses for three resources: chosen in one pass, each gets one
    (the load balancer's used to be chosen on its own, and often took the database's)."""
    plane = _plane("http://127.0.0.1:5999", tmp_path)
    monkeypatch.setattr(plane, "_subnet", lambda subnet_id, cache: ("vpc-1", "10.9.0.0/16", "10.9.1.0/29"))
    monkeypatch.setattr(
        plane,
        "_database_candidates",
        lambda: [
            ("db:resume-ut", "ut", ["subnet-1"], ["sg-db"], 5432, ()),
            ("proxy:resume-ut-proxy", "ut", ["subnet-1"], ["sg-proxy"], 5432, ()),
        ],
    )
    monkeypatch.setattr(
        plane, "_balancer_candidates", lambda: [(f"alb:{balancer}", "", ["subnet-1"], ["sg-alb"], 0, ())]
    )
    found = {svc.key.split(":", 1)[0]: svc for svc in [*plane.database_services(), *plane.balancer_addresses()]}
    assert sorted(found) == ["alb", "db", "proxy"]
    assert len({svc.address for svc in found.values()}) == 3, found
    assert found["proxy"].target == found["db"].address


def test_an_instance_whose_profile_or_role_was_deleted_gets_no_credentials_and_the_sync_goes_on(
    endpoint: str, tmp_path: Path
) -> None:
    plane = _plane(endpoint, tmp_path)
    iam = client("iam", endpoint)
    profile = _profile(endpoint, "gone-ut", "ec2.amazonaws.com")
    inst = Instance("i-4", "10.90.128.7", "vpc-1", "10.90.0.0/16", "ut", "", "x", instance_profile_arn=profile)
    assert plane.instance_role_credentials(inst, "")
    # The role deleted (out of its profile first, as IAM requires), then the profile: the instance
    # still names it (NoSuchEntity), and the sync loop must not stop on it.
    iam.remove_role_from_instance_profile(InstanceProfileName="gone-ut", RoleName="gone-ut")
    iam.delete_role(RoleName="gone-ut")
    iam.delete_instance_profile(InstanceProfileName="gone-ut")
    assert plane.instance_role_credentials(inst, "") == {}
