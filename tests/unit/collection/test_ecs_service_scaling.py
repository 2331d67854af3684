"""resumestack.cloud.ecs_service_scaling with the app_deploy role's worker policy (metric math: backlog per
task), run for real against the in-process moto server that refuses what Application Auto Scaling refuses."""

from conftest import unique

from localcloud import validation
from tests.unit.roles.test_app_deploy_policies import worker_policy


def test_the_role_worker_policy_is_accepted_applied_once_and_read_back_unchanged(run_module, aws, cluster):
    validation.install()
    ecs = aws("ecs")
    family = unique("worker")
    arn = ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "worker", "image": "w:1", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName="worker", taskDefinition=arn, desiredCount=1)
    config = worker_policy()
    policy = {
        "name": "worker-backlog-per-task",
        "target_value": config["TargetValue"],
        "customized_metric": config["CustomizedMetricSpecification"],
    }
    args = {"cluster": cluster, "service": "worker", "min_capacity": 1, "max_capacity": 4, "policies": [policy]}

    created = run_module("ecs_service_scaling", args)
    assert created["changed"] is True, created
    stored = aws("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=f"service/{cluster}/worker"
    )["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"]
    assert stored["CustomizedMetricSpecification"] == config["CustomizedMetricSpecification"]
    assert run_module("ecs_service_scaling", args)["changed"] is False

    # Two series (no ReturnData false on the inputs) are refused, as AWS refuses them.
    metrics = [
        {k: v for k, v in q.items() if k != "ReturnData"} for q in config["CustomizedMetricSpecification"]["Metrics"]
    ]
    refused = run_module(
        "ecs_service_scaling", {**args, "policies": [{**policy, "customized_metric": {"Metrics": metrics}}]}
    )
    assert refused.get("failed") is True, refused
    assert "exactly one metric data query must return data" in refused["msg"]
    # The other module tests list every ECS scalable target of the shared server.
    assert run_module("ecs_service_scaling", {"cluster": cluster, "service": "worker", "state": "absent"})["changed"]
