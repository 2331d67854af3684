"""resumestack.cloud's module_utils, in-process: with a stand-in module, and boto3 clients on the moto server.

The stand-in module records what a real AnsibleAWSModule would turn into the task result: ``fail_json``/``exit_json``
raise, so a test sees the result and nothing runs after them (as with the real module, which exits).
"""

import json
from typing import Any

import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import (
    aws_call,
    aws_errors,
    aws_paginate,
)
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome, snake_resource
from ansible_collections.resumestack.cloud.plugins.module_utils.tags import (
    ensure_ec2_resource_tags,
    ensure_ecs_tags,
    ensure_rds_resource_tags,
    planned_tags,
    rds_resource_tags,
)
from botocore.exceptions import ClientError, EndpointConnectionError
from conftest import unique


class Failed(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result["msg"])
        self.result = result


class Exited(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("exit_json")
        self.result = result


class StandInModule:
    def __init__(self, check_mode: bool = False, diff: bool = False, **params: Any) -> None:
        self.params = {"tags": None, "purge_tags": True, **params}
        self.check_mode = check_mode
        self._diff = diff

    def fail_json_aws(self, exception: BaseException, msg: str | None = None, **kwargs: Any) -> None:
        raise Failed({"msg": f"{msg}: {exception}", **kwargs})

    def fail_json(self, **result: Any) -> None:
        raise Failed(result)

    def exit_json(self, **result: Any) -> None:
        raise Exited(result)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"}}, "SomeOperation")


def raising(error: Exception):
    def method(*args: Any, **kwargs: Any) -> None:
        raise error

    return method


@pytest.fixture
def retrying(aws):
    """A boto3 client on the moto server, wrapped as AnsibleAWSModule.client(retry_decorator=...) wraps it."""
    return lambda service: RetryingBotoClientWrapper(aws(service), AWSRetry.jittered_backoff())


# ---------------------------------------------------------------------------------------------------- errors


def test_a_client_error_fails_the_module_with_its_message_and_the_aws_error() -> None:
    with pytest.raises(Failed) as failed:
        aws_call(StandInModule(), "Could not describe X", raising(client_error("AccessDenied")))
    assert failed.value.result["msg"].startswith("Could not describe X: ")
    assert "AccessDenied" in failed.value.result["msg"]


def test_a_botocore_error_fails_the_module_too() -> None:
    with pytest.raises(Failed) as failed:
        aws_call(StandInModule(), "Could not reach X", raising(EndpointConnectionError(endpoint_url="http://x")))
    assert failed.value.result["msg"].startswith("Could not reach X: Could not connect to the endpoint URL")


def test_an_ignored_error_code_returns_none_and_other_codes_still_fail() -> None:
    module = StandInModule()
    gone = raising(client_error("DBProxyNotFoundFault"))
    assert aws_call(module, "msg", gone, ignore_codes=("DBProxyNotFoundFault",)) is None
    with pytest.raises(Failed):
        aws_call(module, "msg", gone, ignore_codes=("SomethingElse",))


def test_aws_call_asks_the_client_to_retry_and_passes_the_arguments_through() -> None:
    seen = {}

    def method(*args: Any, **kwargs: Any) -> str:
        seen.update(args=args, kwargs=kwargs)
        return "answer"

    assert aws_call(StandInModule(), "msg", method, "positional", Name="x") == "answer"
    assert seen == {"args": ("positional",), "kwargs": {"aws_retry": True, "Name": "x"}}


def test_errors_that_are_not_from_aws_propagate_unchanged() -> None:
    with pytest.raises(KeyError), aws_errors(StandInModule(), "msg"):
        raise KeyError("bug")


def test_aws_paginate_returns_every_page_and_fails_with_the_message(retrying) -> None:
    ec2 = retrying("ec2")
    vpc_ids = {ec2.create_vpc(CidrBlock=f"10.{40 + i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)}
    result = aws_paginate(StandInModule(), "msg", ec2, "describe_vpcs", MaxResults=5)
    assert vpc_ids <= {v["VpcId"] for v in result["Vpcs"]}
    with pytest.raises(Failed) as failed:
        aws_paginate(StandInModule(), "Could not list", ec2, "describe_vpcs", VpcIds=["vpc-00000000000000000"])
    assert failed.value.result["msg"].startswith("Could not list: ")
    assert "InvalidVpcID.NotFound" in failed.value.result["msg"]


# ---------------------------------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("current", "tags", "purge", "expected"),
    [
        ({"A": "1", "B": "2"}, {"A": "9", "C": "3"}, True, {"A": "9", "C": "3"}),
        ({"A": "1", "B": "2"}, {"A": "9", "C": "3"}, False, {"A": "9", "B": "2", "C": "3"}),
        ({"A": "1"}, {}, True, {}),
        ({"A": "1"}, None, True, {"A": "1"}),
    ],
    ids=["purge", "no purge", "empty purges all", "none leaves alone"],
)
def test_planned_tags_apply_the_options_as_aws_will(current, tags, purge, expected) -> None:
    assert planned_tags(current, tags, purge) == expected


def test_no_tags_option_leaves_the_resource_alone_without_calling_aws() -> None:
    class NoCalls:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"called {name}")

    assert ensure_ecs_tags(NoCalls(), StandInModule(tags=None), "arn", {"A": "1"}, "msg") == (False, {"A": "1"})


def ecs_tags(aws, arn: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in aws("ecs").list_tags_for_resource(resourceArn=arn)["tags"]}


def test_ecs_tags_are_reconciled_and_check_mode_only_plans(aws, retrying) -> None:
    arn = aws("ecs").create_cluster(clusterName=unique("tags"), tags=[{"key": "A", "value": "1"}])["cluster"][
        "clusterArn"
    ]
    dry = StandInModule(check_mode=True, tags={"B": "2"})
    assert ensure_ecs_tags(retrying("ecs"), dry, arn, {"A": "1"}, "msg") == (True, {"B": "2"})
    assert ecs_tags(aws, arn) == {"A": "1"}

    real = StandInModule(tags={"B": "2"})
    assert ensure_ecs_tags(retrying("ecs"), real, arn, {"A": "1"}, "msg") == (True, {"B": "2"})
    assert ecs_tags(aws, arn) == {"B": "2"}
    assert ensure_ecs_tags(retrying("ecs"), real, arn, {"B": "2"}, "msg") == (False, {"B": "2"})


def test_ecs_tag_failures_carry_the_callers_message(retrying) -> None:
    missing = "arn:aws:ecs:eu-west-1:123456789012:cluster/nope"
    with pytest.raises(Failed) as failed:
        ensure_ecs_tags(retrying("ecs"), StandInModule(tags={"A": "1"}), missing, {}, "Could not tag the cluster")
    assert failed.value.result["msg"].startswith("Could not tag the cluster: ")


def test_flow_log_tags_are_reconciled_through_amazon_aws_although_moto_files_them_under_another_type(
    aws, retrying
) -> None:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    flow_log = ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName=unique("/tags"),
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-logs",
        TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "A", "Value": "1"}]}],
    )["FlowLogIds"][0]
    module = StandInModule(tags={"A": "1", "B": "2"})
    assert ensure_ec2_resource_tags(retrying("ec2"), module, flow_log, {"A": "1"}) == (True, {"A": "1", "B": "2"})
    described = ec2.describe_flow_logs(FlowLogIds=[flow_log])["FlowLogs"][0]
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"A": "1", "B": "2"}
    # Had the helper filtered on resource type, it would not see A and B and would add them again.
    assert ensure_ec2_resource_tags(retrying("ec2"), module, flow_log, {"A": "1", "B": "2"})[0] is False


@pytest.fixture
def proxy_arn(aws) -> str:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.60.{i}.0/24", AvailabilityZone=f"eu-west-1{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    secret = aws("secretsmanager").create_secret(Name=unique("db"), SecretString=json.dumps({"password": "pw"}))["ARN"]
    role = aws("iam").create_role(RoleName=unique("proxy"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return aws("rds").create_db_proxy(
        DBProxyName=unique("px"),
        EngineFamily="POSTGRESQL",
        Auth=[{"SecretArn": secret, "AuthScheme": "SECRETS"}],
        RoleArn=role,
        VpcSubnetIds=subnets,
        Tags=[{"Key": "A", "Value": "1"}],
    )["DBProxy"]["DBProxyArn"]


def test_rds_proxy_tags_are_reconciled_through_amazon_aws_although_the_module_has_a_wait_option(
    retrying, proxy_arn
) -> None:
    rds = retrying("rds")
    # wait=True is what rds_db_proxy passes; amazon.aws's rds.call_method would look for a proxy waiter and raise.
    module = StandInModule(wait=True, tags={"B": "2"})
    current = rds_resource_tags(rds, module, proxy_arn)
    assert current == {"A": "1"}
    assert ensure_rds_resource_tags(rds, module, proxy_arn, current) == (True, {"B": "2"})
    assert rds_resource_tags(rds, module, proxy_arn) == {"B": "2"}
    assert module.params["wait"] is True  # the module itself is left as it was


def test_rds_tags_in_check_mode_are_planned_not_written(retrying, proxy_arn) -> None:
    rds = retrying("rds")
    module = StandInModule(check_mode=True, wait=True, tags={"A": "1", "B": "2"})
    assert ensure_rds_resource_tags(rds, module, proxy_arn, {"A": "1"}) == (True, {"A": "1", "B": "2"})
    assert rds_resource_tags(rds, module, proxy_arn) == {"A": "1"}


# ---------------------------------------------------------------------------------------------------- results


def test_snake_resource_converts_keys_and_turns_the_tag_list_into_a_dict() -> None:
    resource = {"FlowLogId": "fl-1", "MaxAggregationInterval": 60, "Tags": [{"Key": "Project", "Value": "x"}]}
    assert snake_resource(resource) == {"flow_log_id": "fl-1", "max_aggregation_interval": 60, "tags": {"Project": "x"}}


def test_snake_resource_reads_the_lower_case_tags_of_ecs_and_leaves_their_keys_as_they_are() -> None:
    cluster = {"clusterArn": "arn", "tags": [{"key": "CamelKey", "value": "v"}]}
    assert snake_resource(cluster, "tags", "key", "value") == {"cluster_arn": "arn", "tags": {"CamelKey": "v"}}


def test_snake_resource_of_nothing_is_an_empty_dict() -> None:
    assert snake_resource(None) == {}
    assert snake_resource({}) == {}


def test_outcome_is_changed_when_any_step_changed() -> None:
    outcome = Outcome(StandInModule())
    assert outcome.record(False) is False
    assert outcome.record(True) is True
    outcome.record(False)
    with pytest.raises(Exited) as exited:
        outcome.exit({}, {}, thing={"id": 1})
    assert exited.value.result == {"changed": True, "thing": {"id": 1}}


@pytest.mark.parametrize(
    ("diff_mode", "diff_always", "has_diff"),
    [(False, False, False), (True, False, True), (False, True, True)],
)
def test_outcome_returns_the_diff_in_diff_mode_or_when_told_to_always(diff_mode, diff_always, has_diff) -> None:
    outcome = Outcome(StandInModule(diff=diff_mode), diff_always=diff_always)
    with pytest.raises(Exited) as exited:
        outcome.exit({"a": 1}, {"a": 2})
    assert ("diff" in exited.value.result) is has_diff
    if has_diff:
        assert exited.value.result["diff"] == {"before": {"a": 1}, "after": {"a": 2}}
