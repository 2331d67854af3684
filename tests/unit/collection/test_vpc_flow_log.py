"""resumestack.cloud.vpc_flow_log run for real (ansible CLI) against an in-process moto server."""

import pytest
import yaml
from conftest import task_results, unique

ROLE_ARN = "arn:aws:iam::123456789012:role/flow-logs"


@pytest.fixture
def vpc_id(aws):
    return aws("ec2").create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]


@pytest.fixture
def log_group():
    return unique("/resumestack/flow")


def flow_logs(aws, vpc_id):
    logs = aws("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    return {fl["FlowLogId"]: fl for fl in logs}


def tags_of(flow_log):
    return {t["Key"]: t["Value"] for t in flow_log.get("Tags", [])}


def test_check_mode_on_absent_resource_reports_change_and_creates_nothing(run_module, aws, vpc_id, log_group):
    args = {"vpc_id": vpc_id, "log_group_name": log_group, "deliver_logs_permission_arn": ROLE_ARN}
    result = run_module("vpc_flow_log", args, check=True)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["flow_log"]["flow_log_id"] is None
    assert result["flow_log"]["log_group_name"] == log_group
    assert result["diff"]["before"] == {}
    assert flow_logs(aws, vpc_id) == {}


def test_create_is_idempotent_and_tags_are_reconciled(run_module, aws, vpc_id, log_group):
    args = {
        "vpc_id": vpc_id,
        "log_group_name": log_group,
        "deliver_logs_permission_arn": ROLE_ARN,
        "traffic_type": "REJECT",
        "max_aggregation_interval": 60,
        "tags": {"Project": "resumestack", "Owner": "ops"},
    }
    created = run_module("vpc_flow_log", args)
    assert not created.get("failed"), created
    assert created["changed"] is True
    fl_id = created["flow_log"]["flow_log_id"]
    assert fl_id.startswith("fl-")
    assert created["flow_log"]["tags"] == {"Project": "resumestack", "Owner": "ops"}
    remote = flow_logs(aws, vpc_id)
    assert list(remote) == [fl_id]
    assert remote[fl_id]["TrafficType"] == "REJECT"
    assert remote[fl_id]["MaxAggregationInterval"] == 60
    assert remote[fl_id]["LogGroupName"] == log_group
    assert tags_of(remote[fl_id]) == {"Project": "resumestack", "Owner": "ops"}

    again = run_module("vpc_flow_log", args)
    assert again["changed"] is False, again
    assert again["flow_log"]["flow_log_id"] == fl_id

    # Tag change: applied in place (same flow log), purge removes Owner.
    retag = run_module("vpc_flow_log", {**args, "tags": {"Project": "resumestack", "Env": "prod"}})
    assert retag["changed"] is True, retag
    assert retag["flow_log"]["flow_log_id"] == fl_id
    assert retag["diff"]["before"]["tags"] == {"Project": "resumestack", "Owner": "ops"}
    assert retag["diff"]["after"]["tags"] == {"Project": "resumestack", "Env": "prod"}
    assert tags_of(flow_logs(aws, vpc_id)[fl_id]) == {"Project": "resumestack", "Env": "prod"}

    # purge_tags=false only adds; omitting tags leaves them alone.
    add_only = run_module("vpc_flow_log", {**args, "tags": {"Extra": "1"}, "purge_tags": False})
    assert add_only["changed"] is True
    assert tags_of(flow_logs(aws, vpc_id)[fl_id]) == {"Project": "resumestack", "Env": "prod", "Extra": "1"}
    untouched = run_module("vpc_flow_log", {k: v for k, v in args.items() if k != "tags"})
    assert untouched["changed"] is False, untouched


def test_immutable_change_replaces_flow_log(run_module, aws, vpc_id, log_group):
    args = {"vpc_id": vpc_id, "log_group_name": log_group, "deliver_logs_permission_arn": ROLE_ARN}
    first = run_module("vpc_flow_log", args)["flow_log"]["flow_log_id"]

    planned = run_module("vpc_flow_log", {**args, "traffic_type": "ACCEPT"}, check=True)
    assert planned["changed"] is True
    assert planned["deleted_flow_log_ids"] == [first]
    assert list(flow_logs(aws, vpc_id)) == [first]  # check mode wrote nothing

    replaced = run_module("vpc_flow_log", {**args, "traffic_type": "ACCEPT"})
    assert replaced["changed"] is True, replaced
    assert replaced["deleted_flow_log_ids"] == [first]
    second = replaced["flow_log"]["flow_log_id"]
    assert second != first
    remote = flow_logs(aws, vpc_id)
    assert list(remote) == [second]
    assert remote[second]["TrafficType"] == "ACCEPT"
    assert replaced["diff"]["before"]["traffic_type"] == "ALL"
    assert replaced["diff"]["after"]["traffic_type"] == "ACCEPT"


def test_absent_deletes_the_flow_log_to_the_destination_only(run_module, aws, vpc_id, log_group):
    ec2 = aws("ec2")
    # One flow log of the VPC to the log group, one to another log group (created behind the module's back).
    # moto refuses a 2nd flow log for the same VPC + log group even with another traffic type (FlowLogAlreadyExists).
    ids = {}
    for group in (log_group, log_group + "-other"):
        ids[group] = ec2.create_flow_logs(
            ResourceIds=[vpc_id],
            ResourceType="VPC",
            TrafficType="ACCEPT",
            LogGroupName=group,
            DeliverLogsPermissionArn=ROLE_ARN,
        )["FlowLogIds"][0]
    args = {"vpc_id": vpc_id, "log_group_name": log_group, "state": "absent"}

    planned = run_module("vpc_flow_log", args, check=True)
    assert planned["changed"] is True
    assert planned["deleted_flow_log_ids"] == [ids[log_group]]
    assert len(flow_logs(aws, vpc_id)) == 2

    deleted = run_module("vpc_flow_log", args)
    assert deleted["changed"] is True, deleted
    assert deleted["deleted_flow_log_ids"] == [ids[log_group]]
    assert deleted["diff"]["before"]["flow_logs"][0]["flow_log_id"] == ids[log_group]
    assert list(flow_logs(aws, vpc_id)) == [ids[log_group + "-other"]]

    again = run_module("vpc_flow_log", args)
    assert again["changed"] is False
    assert again["deleted_flow_log_ids"] == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {"log_group_name": "/x"},
            "state is present but all of the following are missing: deliver_logs_permission_arn",
        ),
        ({"log_group_name": "/x", "role_arn": ROLE_ARN, "traffic_type": "SOME"}, "value of traffic_type must be one"),
        ({"log_group_name": "/x", "role_arn": ROLE_ARN, "max_aggregation_interval": 30}, "max_aggregation_interval"),
        ({"state": "absent"}, "missing required arguments: log_group_name"),
    ],
)
def test_bad_input_fails_clearly(run_module, vpc_id, args, expected):
    result = run_module("vpc_flow_log", {"vpc_id": vpc_id, **args})
    assert result.get("failed") is True
    assert expected in result["msg"]


def test_unknown_vpc_reports_the_aws_error(run_module):
    result = run_module(
        "vpc_flow_log",
        {"vpc_id": "vpc-00000000000000000", "log_group_name": "/x", "deliver_logs_permission_arn": ROLE_ARN},
    )
    assert result.get("failed") is True
    assert "Failed to create flow log for vpc-00000000000000000" in result["msg"]
    assert "InvalidVpcID.NotFound" in result["msg"]


def test_module_defaults_reach_the_module_only_through_its_own_group(run_playbook, moto_endpoint, vpc_id):
    """The project's playbooks share region/endpoint via module_defaults; verify which group names work.

    AWS_REGION is removed from the environment so the module can only get its region from module_defaults.
    """
    plays = []
    for label, group, endpoint_var in (
        ("resumestack.cloud.aws", "resumestack.cloud.aws", moto_endpoint),
        ("amazon.aws.aws", "amazon.aws.aws", moto_endpoint),
        ("aws", "aws", moto_endpoint),
        # aws_endpoint_url undefined: omit must drop endpoint_url entirely, so the module falls back to the
        # AWS_URL environment variable (set below). Were the omit placeholder passed through, botocore would
        # reject it as an invalid endpoint.
        ("omit", "resumestack.cloud.aws", None),
    ):
        plays.append(
            {
                "name": f"play {label}",
                "hosts": "localhost",
                "gather_facts": False,
                "vars": {"aws_endpoint_url": endpoint_var} if endpoint_var else {},
                "module_defaults": {
                    f"group/{group}": {
                        "region": "eu-west-1",
                        "endpoint_url": "{{ aws_endpoint_url | default(omit) }}",
                        "access_key": "testing",
                        "secret_key": "testing",
                    }
                },
                "tasks": [
                    {
                        "name": f"{label} flow log",
                        "resumestack.cloud.vpc_flow_log": {
                            "vpc_id": vpc_id,
                            "log_group_name": f"/defaults/{label}",
                            "deliver_logs_permission_arn": ROLE_ARN,
                        },
                        "ignore_errors": True,
                    },
                    {
                        "name": f"{label} amazon.aws",
                        "amazon.aws.ec2_vpc_net_info": {"vpc_ids": [vpc_id]},
                        "ignore_errors": True,
                    },
                ],
            }
        )
    rc, output = run_playbook(
        yaml.safe_dump(plays, sort_keys=False),
        extra_env={"AWS_URL": moto_endpoint},
        unset=("AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    results = task_results(output)

    # group/resumestack.cloud.aws (extend_group amazon.aws.aws) covers our module AND amazon.aws modules.
    assert results["resumestack.cloud.aws flow log"].get("failed") is not True, results
    assert results["resumestack.cloud.aws flow log"]["changed"] is True
    assert results["resumestack.cloud.aws amazon.aws"]["vpcs"][0]["id"] == vpc_id
    # group/amazon.aws.aws and the group/aws shorthand do not include modules of other collections that extend it.
    for group in ("amazon.aws.aws", "aws"):
        assert results[f"{group} flow log"]["failed"] is True
        assert "requires a region" in results[f"{group} flow log"]["msg"]
        assert results[f"{group} amazon.aws"]["vpcs"][0]["id"] == vpc_id
    # omit in module_defaults is honoured: endpoint_url came from the AWS_URL fallback.
    assert results["omit flow log"].get("failed") is not True, results["omit flow log"]
    assert results["omit flow log"]["changed"] is True
    assert results["omit flow log"]["invocation"]["module_args"]["endpoint_url"] == moto_endpoint
    assert rc == 0
