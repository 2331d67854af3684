"""resumestack.cloud modules of the app_deploy role, run for real (ansible CLI) against an in-process moto server."""

import pytest
from conftest import unique


@pytest.fixture
def network(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"eu-west-1{'ab'[i]}")["Subnet"][
            "SubnetId"
        ]
        for i in range(2)
    ]
    group = ec2.create_security_group(GroupName=unique("sg"), Description="test", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "subnets": subnets, "group": group}


def register(aws, family, image="app:1"):
    return aws("ecs").register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "api", "image": image, "essential": True, "cpu": 256, "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]


def service_args(cluster, network, task_definition, **extra):
    return {
        "cluster": cluster,
        "name": "api",
        "task_definition": task_definition,
        "desired_count": 2,
        "subnets": network["subnets"],
        "security_groups": [network["group"]],
        "capacity_provider_strategy": [
            {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 3},
        ],
        **extra,
    }


def describe(aws, cluster):
    return aws("ecs").describe_services(cluster=cluster, services=["api"])["services"][0]


def test_service_check_mode_creates_nothing(run_module, aws, cluster, network):
    td = register(aws, unique("fam"))
    result = run_module("ecs_fargate_service", service_args(cluster, network, td), check=True)
    assert result["changed"] is True, result
    assert aws("ecs").describe_services(cluster=cluster, services=["api"])["services"] == []


def test_service_is_idempotent_keeps_the_autoscaled_count_and_rolls_to_a_new_revision(
    run_module, aws, cluster, network
):
    family = unique("fam")
    td1 = register(aws, family)
    args = service_args(cluster, network, td1)
    created = run_module("ecs_fargate_service", args)
    assert created["changed"] is True, created
    svc = describe(aws, cluster)
    assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert {s["capacityProvider"] for s in svc["capacityProviderStrategy"]} == {"FARGATE", "FARGATE_SPOT"}

    again = run_module("ecs_fargate_service", args)
    assert again["changed"] is False, again

    aws("ecs").update_service(cluster=cluster, service="api", desiredCount=3)  # autoscaling scaled out
    kept = run_module("ecs_fargate_service", args)
    assert kept["changed"] is False, kept
    assert describe(aws, cluster)["desiredCount"] == 3

    td2 = register(aws, family, image="app:2")
    rolled = run_module("ecs_fargate_service", service_args(cluster, network, td2))
    assert rolled["changed"] is True
    assert rolled["task_definition_changed"] is True
    assert describe(aws, cluster)["taskDefinition"] == td2
    assert describe(aws, cluster)["desiredCount"] == 3

    gone = run_module("ecs_fargate_service", {"cluster": cluster, "name": "api", "state": "absent"})
    assert gone["changed"] is True
    assert run_module("ecs_fargate_service", {"cluster": cluster, "name": "api", "state": "absent"})["changed"] is False


def test_scaling_check_mode_then_create_then_idempotent_then_absent(run_module, aws, cluster, network):
    run_module("ecs_fargate_service", service_args(cluster, network, register(aws, unique("fam"))))
    args = {
        "cluster": cluster,
        "service": "api",
        "min_capacity": 2,
        "max_capacity": 4,
        "policies": [
            {"name": "cpu", "target_value": 70, "predefined_metric": "ECSServiceAverageCPUUtilization"},
            {
                "name": "queue",
                "target_value": 10,
                "customized_metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": "jobs"}],
                    "Statistic": "Average",
                },
            },
        ],
    }
    aas = aws("application-autoscaling")
    dry = run_module("ecs_service_scaling", args, check=True)
    assert dry["changed"] is True, dry
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []

    created = run_module("ecs_service_scaling", args)
    assert created["changed"] is True, created
    target = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    assert sorted(
        p["PolicyName"] for p in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    ) == [
        "cpu",
        "queue",
    ]
    assert run_module("ecs_service_scaling", args)["changed"] is False

    dry_delete = run_module(
        "ecs_service_scaling", {"cluster": cluster, "service": "api", "state": "absent"}, check=True
    )
    assert dry_delete["changed"] is True
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"], "check mode deleted the policies"
    run_module("ecs_service_scaling", {"cluster": cluster, "service": "api", "state": "absent"})
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []


def test_alb_settings_set_attributes_and_web_acl_once(run_module, aws, network):
    elb = aws("elbv2")
    lb = elb.create_load_balancer(Name=unique("lb")[:32], Subnets=network["subnets"], SecurityGroups=[network["group"]])
    arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    acl = aws("wafv2").create_web_acl(
        Name=unique("acl"),
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "acl"},
        Rules=[],
    )["Summary"]["ARN"]
    args = {
        "load_balancer_arn": arn,
        "attributes": {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "logs"},
        "web_acl_arn": acl,
    }
    dry = run_module("elb_application_lb_settings", args, check=True)
    assert dry["changed"] is True
    assert "WebACL" not in aws("wafv2").get_web_acl_for_resource(ResourceArn=arn)

    done = run_module("elb_application_lb_settings", args)
    assert done["changed"] is True, done
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs["access_logs.s3.bucket"] == "logs"
    assert aws("wafv2").get_web_acl_for_resource(ResourceArn=arn)["WebACL"]["ARN"] == acl
    assert run_module("elb_application_lb_settings", args)["changed"] is False


def test_service_of_a_missing_cluster_fails_clearly(run_module, aws, network):
    args = service_args(unique("nope"), network, register(aws, unique("fam")))
    result = run_module("ecs_fargate_service", args)
    assert result.get("failed") is True, result
    assert result["msg"].startswith("Could not describe ECS service api: "), result["msg"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"min_capacity": 3, "max_capacity": 2}, "min_capacity must not be above max_capacity"),
        ({"policies": [{"name": "cpu", "target_value": 70}]}, "policy cpu needs exactly one of predefined_metric"),
        ({"policies": [{"target_value": 70}]}, "every policy needs a name and a target_value"),
    ],
)
def test_scaling_bad_input_fails_clearly(run_module, cluster, extra, expected):
    result = run_module("ecs_service_scaling", {"cluster": cluster, "service": "api", **extra})
    assert result.get("failed") is True, result
    assert expected in result["msg"]


def test_alb_settings_of_a_missing_load_balancer_fail_clearly(run_module):
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/nope/0123456789abcdef"
    result = run_module("elb_application_lb_settings", {"load_balancer_arn": arn, "attributes": {"a": "b"}})
    assert result.get("failed") is True, result
    assert result["msg"].startswith(f"Could not read the attributes of {arn}: "), result["msg"]


def run_task_args(cluster, network, task_definition):
    return {
        "cluster": cluster,
        "task_definition": task_definition,
        "container": "api",
        "command": ["python3", "-m", "migrate"],
        "subnets": network["subnets"],
        "security_groups": [network["group"]],
    }


def test_run_task_check_mode_starts_nothing(run_module, aws, cluster, network):
    result = run_module("ecs_run_task", run_task_args(cluster, network, register(aws, unique("fam"))), check=True)
    assert result["changed"] is True, result
    assert "task_arn" not in result
    assert aws("ecs").list_tasks(cluster=cluster)["taskArns"] == []


def test_run_task_that_cannot_start_fails_clearly(run_module, cluster, network):
    result = run_module("ecs_run_task", run_task_args(cluster, network, f"{unique('missing')}:1"))
    assert result.get("failed") is True, result
    assert result["msg"].startswith("Could not start the one-off task: "), result["msg"]


def test_service_new_capacity_provider_weights_force_a_new_deployment(run_module, aws, cluster, network):
    """ECS refuses a changed capacity provider strategy without forceNewDeployment; a forced update
    starts a new deployment (moto: a new deployment id)."""
    args = service_args(cluster, network, register(aws, unique("fam")))
    run_module("ecs_fargate_service", args)
    first = describe(aws, cluster)["deployments"][0]["id"]
    assert run_module("ecs_fargate_service", args)["changed"] is False
    assert describe(aws, cluster)["deployments"][0]["id"] == first

    spot_heavier = [
        {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
        {"capacityProvider": "FARGATE_SPOT", "weight": 5},
    ]
    moved = run_module("ecs_fargate_service", dict(args, capacity_provider_strategy=spot_heavier))
    assert moved["changed"] is True, moved
    svc = describe(aws, cluster)
    assert {(s["capacityProvider"], s["weight"]) for s in svc["capacityProviderStrategy"]} == {
        ("FARGATE", 1),
        ("FARGATE_SPOT", 5),
    }
    assert svc["deployments"][0]["id"] != first, "the new strategy was sent without forceNewDeployment"
