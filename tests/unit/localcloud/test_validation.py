"""localcloud/validation.py: what AWS refuses and moto stores, refused here too (ECR lifecycle rules,
Application Auto Scaling metric math)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from localcloud import validation

UNTAGGED = {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 3}
ANY = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50}


def rule(priority: int, selection: dict[str, Any]) -> dict[str, Any]:
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def query(ident: str, **fields: Any) -> dict[str, Any]:
    return {"Id": ident, **fields}


STAT = {"Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible"}, "Stat": "Sum"}


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ([rule(1, ANY), rule(2, UNTAGGED)], "tagStatus any must have the highest rulePriority"),
        ([rule(1, UNTAGGED), rule(1, ANY)], "unique"),
        ([rule(1, {**ANY, "tagStatus": "tagged"})], "exactly one of tagPrefixList, tagPatternList"),
        ([rule(1, {**UNTAGGED, "tagPrefixList": ["v"]})], "only allowed with tagStatus tagged"),
        ([rule(1, {k: v for k, v in UNTAGGED.items() if k != "countUnit"})], "countUnit is required"),
        ([rule(1, {**ANY, "countUnit": "days"})], "countUnit is only allowed"),
        ([rule(1, UNTAGGED), rule(2, {**UNTAGGED, "countNumber": 9})], "only one rule may select untagged"),
        ([rule(1, UNTAGGED), rule(5, ANY)], None),
    ],
)
def test_ecr_refuses_lifecycle_rules_that_contradict_each_other(
    rules: list[dict[str, Any]], reason: str | None
) -> None:
    refusal = validation.ecr_lifecycle_refusal({"rules": rules})
    assert (refusal is None) if reason is None else (reason in str(refusal)), refusal


@pytest.mark.parametrize(
    ("metrics", "reason"),
    [
        ([query("m", MetricStat=STAT, ReturnData=False), query("e", Expression="m / 2")], None),
        ([query("m", MetricStat=STAT), query("e", Expression="m / 2")], "exactly one metric data query"),
        ([query("m", MetricStat=STAT, ReturnData=False), query("e", Expression="m", ReturnData=False)], "exactly one"),
        ([query("M1", MetricStat=STAT)], "starting with a lowercase letter"),
        ([query("m", MetricStat=STAT, Expression="m")], "either Expression or MetricStat"),
        ([query("m", MetricStat=STAT, ReturnData=False), query("m", Expression="m")], "unique"),
    ],
)
def test_application_auto_scaling_refuses_metric_math_without_one_final_series(
    metrics: list[dict[str, Any]], reason: str | None
) -> None:
    refusal = validation.metric_math_refusal({"Metrics": metrics})
    assert (refusal is None) if reason is None else (reason in str(refusal)), refusal


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    validation.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(service: str, url: str) -> Any:
    return boto3.client(
        service, region_name="eu-west-1", endpoint_url=url, aws_access_key_id="t", aws_secret_access_key="t"
    )


def test_the_emulator_answers_put_lifecycle_policy_with_awss_invalid_parameter(moto_url: str) -> None:
    ecr = client("ecr", moto_url)
    ecr.create_repository(repositoryName="validation/api")
    with pytest.raises(ClientError) as refused:
        ecr.put_lifecycle_policy(
            repositoryName="validation/api",
            lifecyclePolicyText=json.dumps({"rules": [rule(1, ANY), rule(2, UNTAGGED)]}),
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "highest rulePriority" in str(refused.value)
    good = json.dumps({"rules": [rule(1, UNTAGGED), rule(2, ANY)]})
    ecr.put_lifecycle_policy(repositoryName="validation/api", lifecyclePolicyText=good)
    assert json.loads(ecr.get_lifecycle_policy(repositoryName="validation/api")["lifecyclePolicyText"])["rules"]


def test_the_emulator_answers_put_scaling_policy_with_awss_validation_exception(moto_url: str) -> None:
    ecs, aas = client("ecs", moto_url), client("application-autoscaling", moto_url)
    ecs.create_cluster(clusterName="c")
    family = ecs.register_task_definition(family="f", containerDefinitions=[{"name": "a", "image": "a", "memory": 64}])
    ecs.create_service(cluster="c", serviceName="s", taskDefinition=family["taskDefinition"]["taskDefinitionArn"])
    ident = {"ServiceNamespace": "ecs", "ResourceId": "service/c/s", "ScalableDimension": "ecs:service:DesiredCount"}
    aas.register_scalable_target(MinCapacity=1, MaxCapacity=2, **ident)
    # Both queries return data (ReturnData defaults to true): two series where AWS wants one.
    metrics = [query("m", MetricStat=STAT), query("e", Expression="m / 2")]
    config = {"TargetValue": 10.0, "CustomizedMetricSpecification": {"Metrics": metrics}}
    with pytest.raises(ClientError) as refused:
        aas.put_scaling_policy(
            PolicyName="p", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=config, **ident
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    metrics[0]["ReturnData"] = False
    aas.put_scaling_policy(
        PolicyName="p", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=config, **ident
    )
    stored = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]
    assert stored["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"] == {"Metrics": metrics}
