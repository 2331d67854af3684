"""After site.yml on the local cloud, every resource is read back with boto3, not through the outputs."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from tests.integration.conftest import Stack
from tests.integration.helpers import PROJECT, VPC_CIDR, role_policy, tags_of

PREFIX = f"{PROJECT}-local"
COMMON_TAGS = {"Project": PROJECT, "Environment": "local", "ManagedBy": "ansible"}


def assert_common_tags(tags: dict[str, str]) -> None:
    assert COMMON_TAGS.items() <= tags.items(), tags


@pytest.fixture(scope="module")
def ec2(stack: Stack) -> Any:
    return stack.cloud.client("ec2")


@pytest.fixture(scope="module")
def vpc(stack: Stack, ec2: Any) -> dict[str, Any]:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [PREFIX]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]


@pytest.fixture(scope="module")
def subnets(ec2: Any, vpc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    return {tier: [s for s in found if tags_of(s["Tags"]).get("Tier") == tier] for tier in ("public", "private")}


@pytest.fixture(scope="module")
def groups(ec2: Any, vpc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    return {g["GroupName"].removeprefix(f"{PREFIX}-"): g for g in found}


def ingress_sources(group: dict[str, Any]) -> set[str]:
    sources = set()
    for perm in group["IpPermissions"]:
        sources |= {r["CidrIp"] for r in perm.get("IpRanges", [])}
        sources |= {p["GroupId"] for p in perm.get("UserIdGroupPairs", [])}
    return sources


def test_vpc_has_the_configured_range_dns_and_tags(vpc: dict[str, Any]) -> None:
    assert vpc["CidrBlock"] == VPC_CIDR
    assert_common_tags(tags_of(vpc["Tags"]))


def test_two_public_and_two_private_subnets_spread_over_two_zones(subnets: dict[str, list[dict[str, Any]]]) -> None:
    for tier in ("public", "private"):
        assert len(subnets[tier]) == 2
        assert len({s["AvailabilityZone"] for s in subnets[tier]}) == 2
        for subnet in subnets[tier]:
            assert ipaddress.ip_network(subnet["CidrBlock"]).subnet_of(ipaddress.ip_network(VPC_CIDR))
            assert subnet["MapPublicIpOnLaunch"] is False
            assert_common_tags(tags_of(subnet["Tags"]))


def test_one_tagged_nat_gateway_per_zone_in_the_public_subnets(
    ec2: Any, vpc: dict[str, Any], subnets: dict[str, list[dict[str, Any]]]
) -> None:
    nats = [
        n
        for n in ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["NatGateways"]
        if n["State"] in ("pending", "available")
    ]
    assert sorted(n["SubnetId"] for n in nats) == sorted(s["SubnetId"] for s in subnets["public"])
    for nat in nats:
        assert_common_tags(tags_of(nat["Tags"]))
    eips = ec2.describe_addresses(Filters=[{"Name": "tag:Project", "Values": [PROJECT]}])["Addresses"]
    assert sorted(a["AllocationId"] for a in eips) == sorted(n["NatGatewayAddresses"][0]["AllocationId"] for n in nats)


def test_private_subnets_route_through_the_nat_of_their_zone_and_public_through_the_igw(
    ec2: Any, vpc: dict[str, Any], subnets: dict[str, list[dict[str, Any]]]
) -> None:
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["RouteTables"]
    by_subnet = {a["SubnetId"]: t for t in tables for a in t["Associations"] if a.get("SubnetId")}
    nats = {
        n["SubnetId"]: n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"
    }
    public_by_az = {s["AvailabilityZone"]: s["SubnetId"] for s in subnets["public"]}
    for subnet in subnets["private"]:
        default = [r for r in by_subnet[subnet["SubnetId"]]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert [r.get("NatGatewayId") for r in default] == [nats[public_by_az[subnet["AvailabilityZone"]]]]
    for subnet in subnets["public"]:
        default = [r for r in by_subnet[subnet["SubnetId"]]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert default and default[0]["GatewayId"].startswith("igw-")


def test_security_groups_reference_each_other_and_never_open_private_tiers(groups: dict[str, dict[str, Any]]) -> None:
    alb, app, db, bastion = groups["alb"], groups["app"], groups["db"], groups["bastion"]
    assert {(p["FromPort"], p["ToPort"]) for p in alb["IpPermissions"]} == {(80, 80), (443, 443)}
    assert ingress_sources(alb) == {"0.0.0.0/0"}
    assert ingress_sources(app) == {alb["GroupId"]}
    assert ingress_sources(db) == {app["GroupId"], bastion["GroupId"]}
    assert {(p["FromPort"], p["ToPort"]) for p in db["IpPermissions"]} == {(5432, 5432)}
    assert bastion["IpPermissions"] == []  # no SSH CIDRs listed by default
    for name in ("app", "db", "bastion"):
        assert "0.0.0.0/0" not in ingress_sources(groups[name])


def test_the_default_security_group_has_no_rules(groups: dict[str, dict[str, Any]]) -> None:
    assert groups["default"]["IpPermissions"] == []
    assert groups["default"]["IpPermissionsEgress"] == []


def test_s3_gateway_endpoint_serves_the_private_route_tables(ec2: Any, vpc: dict[str, Any]) -> None:
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["VpcEndpoints"]
    assert [e["ServiceName"] for e in endpoints] == ["com.amazonaws.eu-west-1.s3"]
    assert len(endpoints[0]["RouteTableIds"]) == 2


def test_vpc_flow_logs_go_to_a_log_group_with_retention(stack: Stack, ec2: Any, vpc: dict[str, Any]) -> None:
    logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    assert len(logs) == 1
    assert logs[0]["LogGroupName"] == f"/aws/vpc/flow-logs/{PREFIX}"
    assert logs[0]["TrafficType"] == "ALL"
    groups = stack.cloud.client("logs").describe_log_groups(logGroupNamePrefix="/aws/vpc/flow-logs/")["logGroups"]
    assert [g.get("retentionInDays") for g in groups if g["logGroupName"] == logs[0]["LogGroupName"]] == [90]


@pytest.fixture(scope="module")
def db_cluster(stack: Stack) -> dict[str, Any]:
    return stack.cloud.client("rds").describe_db_clusters(DBClusterIdentifier=PREFIX)["DBClusters"][0]


def test_aurora_serverless_v2_cluster_is_encrypted_with_a_rotating_key(
    stack: Stack, db_cluster: dict[str, Any]
) -> None:
    assert db_cluster["Engine"] == "aurora-postgresql"
    assert db_cluster["StorageEncrypted"] is True
    assert db_cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4.0}
    kms = stack.cloud.client("kms")
    key_id = kms.describe_key(KeyId=db_cluster["KmsKeyId"])["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_cluster_backups_protection_and_tags_follow_the_local_settings(db_cluster: dict[str, Any]) -> None:
    assert db_cluster["BackupRetentionPeriod"] == 1
    assert db_cluster["CopyTagsToSnapshot"] is True
    assert db_cluster["DeletionProtection"] is False  # on everywhere but local
    assert_common_tags(tags_of(db_cluster["TagList"]))


def test_database_is_never_public_and_lives_in_the_private_subnets(
    stack: Stack,
    db_cluster: dict[str, Any],
    subnets: dict[str, list[dict[str, Any]]],
    groups: dict[str, dict[str, Any]],
) -> None:
    rds = stack.cloud.client("rds")
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [PREFIX]}])["DBInstances"]
    assert [i["DBInstanceClass"] for i in instances] == ["db.serverless"]
    assert instances[0]["PubliclyAccessible"] is False
    group = rds.describe_db_subnet_groups(DBSubnetGroupName=db_cluster["DBSubnetGroup"])["DBSubnetGroups"][0]
    assert {s["SubnetIdentifier"] for s in group["Subnets"]} == {s["SubnetId"] for s in subnets["private"]}
    assert [g["VpcSecurityGroupId"] for g in db_cluster["VpcSecurityGroups"]] == [groups["db"]["GroupId"]]


def test_master_credentials_live_in_secrets_manager_only(stack: Stack, db_cluster: dict[str, Any]) -> None:
    secret = json.loads(
        stack.cloud.client("secretsmanager").get_secret_value(SecretId=f"{PREFIX}/db-master")["SecretString"]
    )
    assert secret["username"] == db_cluster["MasterUsername"]
    assert len(secret["password"]) == 40
    assert secret["host"] == "db.local.resume.internal"
    assert stack.outputs["db_secret_arn"].startswith("arn:aws:secretsmanager:")
    assert secret["password"] not in json.dumps(stack.outputs)


def test_private_dns_name_points_at_the_writer_endpoint(
    stack: Stack, vpc: dict[str, Any], db_cluster: dict[str, Any]
) -> None:
    route53 = stack.cloud.client("route53")
    zones = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "local.resume.internal."]
    assert len(zones) == 1 and zones[0]["Config"]["PrivateZone"] is True
    assert [v["VPCId"] for v in route53.get_hosted_zone(Id=zones[0]["Id"])["VPCs"]] == [vpc["VpcId"]]
    records = route53.list_resource_record_sets(HostedZoneId=zones[0]["Id"])["ResourceRecordSets"]
    cname = [r for r in records if r["Type"] == "CNAME"]
    assert [(r["Name"], r["ResourceRecords"][0]["Value"]) for r in cname] == [
        ("db.local.resume.internal.", db_cluster["Endpoint"])
    ]


def test_database_alarms_watch_cpu_and_capacity(stack: Stack) -> None:
    alarms = stack.cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{PREFIX}-")["MetricAlarms"]
    metrics = {a["MetricName"]: a for a in alarms if a["Namespace"] == "AWS/RDS"}
    assert set(metrics) == {"CPUUtilization", "ServerlessDatabaseCapacity"}
    assert metrics["ServerlessDatabaseCapacity"]["Threshold"] == pytest.approx(3.6)
    assert all(a["AlarmActions"] == [stack.outputs["alarm_topic_arn"]] for a in metrics.values())


def test_ecs_cluster_runs_on_fargate_and_spot_with_container_insights(stack: Stack) -> None:
    ecs = stack.cloud.client("ecs")
    cluster = ecs.describe_clusters(clusters=[PREFIX], include=["SETTINGS", "TAGS"])["clusters"][0]
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    strategy = {s["capacityProvider"]: s for s in cluster["defaultCapacityProviderStrategy"]}
    assert strategy["FARGATE"]["base"] == 1 and strategy["FARGATE_SPOT"]["weight"] == 3
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    assert_common_tags({t["key"]: t["value"] for t in cluster["tags"]})
    groups = stack.cloud.client("logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{PREFIX}")["logGroups"]
    assert [g.get("retentionInDays") for g in groups] == [30]


def test_task_roles_are_least_privilege_with_exact_arns(stack: Stack) -> None:
    execution = role_policy(stack.cloud.client("iam"), f"{PREFIX}-task-execution", "task-execution")
    wildcard = [s["Action"] for s in execution["Statement"] if s["Resource"] == "*"]
    assert wildcard == ["ecr:GetAuthorizationToken"]  # the one ECR action with no resource-level permission
    resources = {s["Sid"]: s["Resource"] for s in execution["Statement"]}
    assert resources["ReadDbSecret"] == stack.outputs["db_secret_arn"]
    assert resources["PullImage"].endswith(f":repository/{PREFIX}/api")
    task = role_policy(stack.cloud.client("iam"), f"{PREFIX}-task", "task")
    queue_arn = stack.cloud.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["queue_url"], AttributeNames=["QueueArn"]
    )
    assert [s["Resource"] for s in task["Statement"]] == [queue_arn["Attributes"]["QueueArn"]]
    assert stack.cloud.client("iam").list_attached_role_policies(RoleName=f"{PREFIX}-task")["AttachedPolicies"] == []


def test_job_queue_redrives_to_the_dlq_after_three_receives_with_sse(stack: Stack) -> None:
    sqs = stack.cloud.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=stack.outputs["queue_url"], AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=stack.outputs["dlq_url"], AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == 3
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert attrs["KmsMasterKeyId"] == dlq["KmsMasterKeyId"] == "alias/aws/sqs"
    assert attrs["VisibilityTimeout"] == "60"
    assert dlq["MessageRetentionPeriod"] == "1209600"


def test_dlq_depth_alarm_notifies_the_alarm_topic(stack: Stack) -> None:
    alarm = stack.cloud.client("cloudwatch").describe_alarms(AlarmNames=[f"{PREFIX}-jobs-dlq-not-empty"])[
        "MetricAlarms"
    ][0]
    assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "ApproximateNumberOfMessagesVisible",
        "GreaterThanThreshold",
        0.0,
    )
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": f"{PREFIX}-jobs-dlq"}]
    topics = [t["TopicArn"] for t in stack.cloud.client("sns").list_topics()["Topics"]]
    assert alarm["AlarmActions"] == [stack.outputs["alarm_topic_arn"]] and stack.outputs["alarm_topic_arn"] in topics


@pytest.fixture(scope="module")
def bastion(ec2: Any) -> dict[str, Any]:
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:Role", "Values": ["bastion"]}, {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert len(instances) == 1
    return instances[0]


def test_bastion_is_private_with_imdsv2_required_and_tagged(
    bastion: dict[str, Any], subnets: dict[str, list[dict[str, Any]]], groups: dict[str, dict[str, Any]]
) -> None:
    assert bastion["SubnetId"] in {s["SubnetId"] for s in subnets["private"]}
    assert "PublicIpAddress" not in bastion
    assert bastion["MetadataOptions"]["HttpTokens"] == "required"
    assert [g["GroupId"] for g in bastion["SecurityGroups"]] == [groups["bastion"]["GroupId"]]
    tags = tags_of(bastion["Tags"])
    assert tags["Role"] == "bastion"
    assert_common_tags(tags)


def test_bastion_root_volume_is_encrypted(ec2: Any, bastion: dict[str, Any]) -> None:
    volume_ids = [m["Ebs"]["VolumeId"] for m in bastion["BlockDeviceMappings"]]
    volumes = ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]
    assert volumes and all(v["Encrypted"] for v in volumes)


def test_bastion_profile_grants_ssm_and_its_ed25519_key_is_kept_in_ssm(
    stack: Stack, ec2: Any, bastion: dict[str, Any]
) -> None:
    iam = stack.cloud.client("iam")
    profile = bastion["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1]
    roles = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"]
    attached = iam.list_attached_role_policies(RoleName=roles[0]["RoleName"])["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonSSMManagedInstanceCore"]
    keys = ec2.describe_key_pairs(KeyNames=[bastion["KeyName"]])["KeyPairs"]
    assert keys[0]["KeyType"] == "ed25519"
    param = stack.cloud.client("ssm").get_parameter(
        Name=stack.outputs["bastion_private_key_parameter"], WithDecryption=True
    )
    assert param["Parameter"]["Type"] == "SecureString"
    assert "OPENSSH PRIVATE KEY" in param["Parameter"]["Value"]


def test_outputs_file_matches_what_the_emulator_holds(
    stack: Stack, vpc: dict[str, Any], db_cluster: dict[str, Any], bastion: dict[str, Any]
) -> None:
    out = stack.outputs
    assert out["environment"] == "local" and out["aws_region"] == "eu-west-1"
    assert out["aws_endpoint_url"] == stack.cloud.endpoint
    assert out["vpc_id"] == vpc["VpcId"]
    assert out["db_endpoint"] == db_cluster["Endpoint"] and out["db_port"] == 5432
    assert out["ecs_cluster_arn"].endswith(f":cluster/{PREFIX}")
    assert out["bastion_instance_id"] == bastion["InstanceId"]
    assert out["bastion_private_ip"] == bastion["PrivateIpAddress"]
    assert out["queue_url"].endswith(f"/{PREFIX}-jobs") and out["dlq_url"].endswith(f"/{PREFIX}-jobs-dlq")


def test_outputs_are_published_in_ssm_for_jobs_on_other_machines(stack: Stack) -> None:
    """deploy.yml reads the stack from this parameter (an AWX deploy job has no outputs.json)."""
    ssm = stack.cloud.client("ssm")
    name = f"/{PROJECT}/local/outputs"
    param = ssm.get_parameter(Name=name)["Parameter"]
    assert param["Type"] == "String"  # nothing secret in it, and readable without KMS
    published = json.loads(param["Value"])
    assert published == {key: stack.outputs[key] for key in published}  # the file holds the same values
    assert {"vpc_id", "private_subnet_ids", "db_secret_arn", "ecs_cluster_arn", "queue_url"} <= published.keys()
    assert "app_url" not in published  # deploy.yml's keys stay in the file
    tags = tags_of(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"])
    assert tags.items() >= {"Project": PROJECT, "Environment": "local", "ManagedBy": "ansible"}.items()
