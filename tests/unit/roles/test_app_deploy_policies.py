"""roles/app_deploy: the policies and alarms the role hands to AWS, rendered from its own files: the
access-log bucket policy (every Region), the ECR lifecycle policy, the worker's scaling policy and the
load balancer's alarms."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import math
import operator
import re
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from localcloud import validation

ROLE = Path(__file__).resolve().parents[3] / "roles" / "app_deploy"
ACCOUNT = "123456789012"
BUCKET = f"resume-prod-alb-logs-{ACCOUNT}"
JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - not HTML
# The local collection imports itself as ansible_collections.resumestack (a namespace package).
if str(ROLE.parents[1] / "collections") not in sys.path:
    sys.path.append(str(ROLE.parents[1] / "collections"))
MODULE = ROLE.parents[1] / "collections/ansible_collections/resumestack/cloud/plugins/modules/ecs_service_scaling.py"
_spec = importlib.util.spec_from_file_location("ecs_service_scaling", MODULE)
assert _spec and _spec.loader
scaling = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scaling)


def template(name: str, **variables: Any) -> dict[str, Any]:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - JSON
    return dict(json.loads(environment.from_string((ROLE / "templates" / name).read_text()).render(**variables)))


def bucket_policy(region: str) -> dict[str, Any]:
    return template(
        "alb_logs_policy.json.j2",
        aws_region=region,
        aws_partition="aws",
        aws_account_id=ACCOUNT,
        __app_deploy_logs_bucket=BUCKET,
    )


@pytest.mark.parametrize(
    "region",
    [
        "eu-west-1",  # open before August 2022, in the old map
        "ap-northeast-1",  # open before August 2022, missing from the old six-Region map
        "ap-south-2",  # opened after August 2022: never had an ELB account
        "eu-central-2",
        "xx-future-9",  # a Region nobody has listed yet
    ],
)
def test_the_log_bucket_lets_the_elb_log_delivery_service_write_in_every_region(region: str) -> None:
    statement = next(s for s in bucket_policy(region)["Statement"] if s["Sid"] == "AlbAccessLogs")
    assert statement["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    # Only this account's load balancers, under the prefix the role sets (access_logs.s3.prefix: alb).
    assert statement["Resource"] == f"arn:aws:s3:::{BUCKET}/alb/AWSLogs/{ACCOUNT}/*"


# --------------------------------------------------------------------------- ECR lifecycle


def lifecycle(keep: int | None = None, untagged_days: int | None = None) -> dict[str, Any]:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return template(
        "ecr_lifecycle.json.j2",
        app_deploy_image_dirty_days=defaults["app_deploy_image_dirty_days"],
        app_deploy_image_keep=defaults["app_deploy_image_keep"] if keep is None else keep,
        app_deploy_image_untagged_days=defaults["app_deploy_image_untagged_days"]
        if untagged_days is None
        else untagged_days,
    )


def expired(policy: dict[str, Any], images: list[dict[str, Any]], now: float) -> set[str]:
    """The images ECR's lifecycle expires, by its documented evaluation rules: rules lowest priority
    first; an image whose tags a rule matched is never expired by a later rule, which still counts it;
    counts keep the newest pushes."""
    matched: set[str] = set()
    gone: set[str] = set()
    for rule in sorted(policy["rules"], key=lambda r: r["rulePriority"]):
        selection = rule["selection"]
        status = selection["tagStatus"]
        patterns = selection.get("tagPatternList")
        selected = [
            i
            for i in images
            if status == "any"
            or (status == "untagged" and not i["tags"])
            or (status == "tagged" and any(fnmatch.fnmatchcase(t, p) for t in i["tags"] for p in patterns or ["*"]))
        ]
        if selection["countType"] == "imageCountMoreThan":
            newest_first = sorted(selected, key=lambda i: i["pushed"], reverse=True)
            candidates = newest_first[selection["countNumber"] :]
        else:
            candidates = [i for i in selected if now - i["pushed"] > selection["countNumber"] * 86400]
        gone |= {i["digest"] for i in candidates if i["digest"] not in matched}
        matched |= {i["digest"] for i in selected}
    return gone


def test_the_lifecycle_policy_is_one_ecr_accepts() -> None:
    assert validation.ecr_lifecycle_refusal(lifecycle()) is None
    assert lifecycle()["rules"][-1]["selection"]["tagStatus"] == "any"


def test_the_running_image_and_its_rollback_target_outlive_a_busy_month_of_builds() -> None:
    """The running revision's image was pushed, then 30 more builds were pushed without a deploy
    (each an immutable commit tag); the rollback target is one push older. Both must stay pullable:
    ECS pulls them again whenever it replaces or adds a task."""
    day = 86400.0
    now = 100 * day
    rollback = {"digest": "sha256:rollback", "tags": ["0123456789ab"], "pushed": now - 40 * day}
    running = {"digest": "sha256:running", "tags": ["123456789abc"], "pushed": now - 39 * day}
    builds = [{"digest": f"sha256:b{n}", "tags": [f"{n:012x}"], "pushed": now - 38 * day + n * 3600} for n in range(30)]
    leftover = {"digest": "sha256:untagged-old", "tags": [], "pushed": now - 10 * day}
    fresh = {"digest": "sha256:untagged-new", "tags": [], "pushed": now - 3600}
    gone = expired(lifecycle(), [rollback, running, *builds, leftover, fresh], now)
    assert "sha256:running" not in gone
    assert "sha256:rollback" not in gone
    assert gone == {"sha256:untagged-old"}


def test_a_month_of_builds_of_uncommitted_changes_does_not_age_the_running_image_out() -> None:
    """After the running image, 100 dirty builds over 30 days (a new <commit>-dirty-<digest> tag per
    change), with ECR applying the policy once a day: the running image stays all month, and no dirty
    build outlives its week."""
    day = 86400.0
    running = {"digest": "sha256:running", "tags": ["123456789abc"], "pushed": 0.0}
    present = [running]
    for n in range(100):
        pushed = (n + 1) * 0.3 * day
        present.append({"digest": f"sha256:d{n}", "tags": [f"123456789abc-dirty-{n:012x}"], "pushed": pushed})
        if n % 3 == 2:  # the daily evaluation
            gone = expired(lifecycle(), present, pushed)
            present = [i for i in present if i["digest"] not in gone]
            assert running in present, f"the running image expired on day {pushed / day:.0f}"
            assert all(pushed - i["pushed"] <= 8 * day for i in present if i is not running)


def test_only_more_pushes_than_the_kept_count_age_a_tagged_image_out() -> None:
    now = 1000.0
    images = [{"digest": f"sha256:{n}", "tags": [f"t{n}"], "pushed": float(n)} for n in range(5)]
    assert expired(lifecycle(keep=3), images, now) == {"sha256:0", "sha256:1"}


# --------------------------------------------------------------------------- worker scaling

VARIABLES = {
    "app_deploy_cluster": "resume-prod",
    "app_deploy_queue_name": "resume-prod-jobs",
    "__app_deploy_api": "resume-prod-api",
    "__app_deploy_worker": "resume-prod-worker",
}


def render(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if isinstance(value, str) and "{{" in value:
        return JINJA.from_string(value).render(**variables)
    return value


def worker_policy() -> dict[str, Any]:
    """The worker's scaling policy as the task declares it, and as ecs_service_scaling sends it."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    tasks = yaml.safe_load((ROLE / "tasks" / "services.yml").read_text())
    task = next(t for t in tasks if "resumestack.cloud.ecs_service_scaling" in t)
    worker = next(i for i in task["loop"] if i["service"] == "{{ __app_deploy_worker }}")
    policy = render(worker["policies"][0], {**defaults, **VARIABLES})
    return dict(scaling.policy_config(policy))


def test_the_worker_scales_on_backlog_per_running_task_not_on_the_raw_queue_depth() -> None:
    config = worker_policy()
    assert config["TargetValue"] == 10.0
    spec = config["CustomizedMetricSpecification"]
    assert "MetricName" not in spec, "a single metric is the raw queue depth"
    queries = {q["Id"]: q for q in spec["Metrics"]}
    visible = queries["visible"]["MetricStat"]
    assert visible["Metric"] == {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "resume-prod-jobs"}],
    }
    running = queries["running"]["MetricStat"]
    assert running["Metric"]["Namespace"] == "ECS/ContainerInsights"
    assert running["Metric"]["MetricName"] == "RunningTaskCount"
    assert running["Metric"]["Dimensions"] == [
        {"Name": "ClusterName", "Value": "resume-prod"},
        {"Name": "ServiceName", "Value": "resume-prod-worker"},
    ]
    final = [q for q in spec["Metrics"] if q.get("ReturnData", True)]
    assert [q["Id"] for q in final] == ["backlog_per_task"]
    assert "visible / FILL(running, 0)" in final[0]["Expression"]
    assert validation.metric_math_refusal(spec) is None  # what Application Auto Scaling accepts


def metric_math(expression: str, values: dict[str, float | None]) -> float | None:
    """One data point of a CloudWatch metric math expression built from IF, FILL, comparisons and
    arithmetic (the functions the worker policy uses); None is a missing data point."""
    tokens = re.findall(r"\d+(?:\.\d+)?|[A-Za-z_]\w*|>=|<=|==|!=|[-+*/(),<>]", expression)
    position = 0

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def primary() -> float | None:
        word = take()
        if word == "(":
            value = comparison()
            take()  # ")"
            return value
        if word in ("IF", "FILL"):
            take()  # "("
            args = [comparison()]
            while take() == ",":
                args.append(comparison())
            if word == "FILL":
                return args[1] if args[0] is None else args[0]
            return None if args[0] is None else (args[1] if args[0] else args[2])
        return float(word) if word[0].isdigit() else values[word]

    def binary(operand: Any, operators: dict[str, Any]) -> Any:
        def parse() -> float | None:
            left = operand()
            while position < len(tokens) and tokens[position] in operators:
                op = operators[take()]
                right = operand()
                left = None if left is None or right is None else float(op(left, right))
            return left

        return parse

    term = binary(primary, {"*": operator.mul, "/": lambda a, b: a / b if b else math.inf})
    total = binary(term, {"+": operator.add, "-": operator.sub})
    comparison = binary(total, {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le})
    return comparison()


def worker_metric(visible: float, running: float | None) -> float | None:
    """The value the worker policy tracks: its one returned series, or the single metric it names."""
    spec = worker_policy()["CustomizedMetricSpecification"]
    if "Metrics" not in spec:
        return visible if spec["MetricName"] == "ApproximateNumberOfMessagesVisible" else None
    final = next(q for q in spec["Metrics"] if q.get("ReturnData", True))
    return metric_math(final["Expression"], {"visible": visible, "running": running})


def test_backlog_per_task_asks_for_tasks_in_proportion_to_the_backlog() -> None:
    """Target tracking sets the task count to ceil(running x metric / target) (the policy scales out
    proportionally to the metric). 100 visible messages on 5 tasks at 10 per task: 10 tasks. The raw
    queue depth (100) would ask for 50, already at 5 tasks draining it."""
    target = worker_policy()["TargetValue"]
    metric = worker_metric(100, 5)
    assert metric == 20
    assert math.ceil(5 * metric / target) == 10
    assert worker_metric(0, 3) == 0  # nothing waiting: scale in
    # No task running (or Container Insights silent): the backlog itself, so demand still reads as
    # demand and ECS scales out from zero by its minimum step.
    assert worker_metric(15, 0) == 15
    assert worker_metric(15, None) == 15


# --------------------------------------------------------------------------- load balancer alarms

LB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/resume-prod-alb/50dc6c495c0c9188"
TG_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/resume-prod-api/73e2d6bc24d8a067"


def alarms_as_sent() -> dict[str, dict[str, Any]]:
    """Each alarm as the role's task hands it to amazon.aws.cloudwatch_metric_alarm, by name."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    def trust(value: Any) -> Any:  # what Ansible does for the files it loads itself
        if isinstance(value, dict):
            return {k: trust(v) for k, v in value.items()}
        if isinstance(value, list):
            return [trust(v) for v in value]
        return trust_as_template(value) if isinstance(value, str) else value

    tasks = trust(yaml.safe_load((ROLE / "tasks" / "load_balancer.yml").read_text()))
    task = next(t for t in tasks if "amazon.aws.cloudwatch_metric_alarm" in t)
    variables = {
        **trust(yaml.safe_load((ROLE / "vars" / "main.yml").read_text())),
        "app_deploy_name": "resume-prod",
        "app_deploy_alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:resume-prod-alarms",
        "__app_deploy_alb": {"load_balancer_arn": LB_ARN},
        "__app_deploy_tg": {"target_group_arn": TG_ARN},
    }
    sent = {}
    variables |= task.get("vars", {})
    for item in Templar(loader=DataLoader(), variables=variables).template(task["loop"]):
        templar = Templar(loader=DataLoader(), variables={**variables, "item": item})
        args = templar.template(task["amazon.aws.cloudwatch_metric_alarm"])
        sent[args["name"]] = args
    return sent


def test_the_load_balancers_own_5xx_and_a_target_group_with_no_healthy_task_raise_alarms() -> None:
    alarms = alarms_as_sent()
    lb, tg = "app/resume-prod-alb/50dc6c495c0c9188", "targetgroup/resume-prod-api/73e2d6bc24d8a067"
    elb = alarms["resume-prod-alb-elb-5xx"]
    assert (elb["namespace"], elb["metric_name"], elb["statistic"]) == (
        "AWS/ApplicationELB",
        "HTTPCode_ELB_5XX_Count",
        "Sum",
    )
    assert elb["dimensions"] == {"LoadBalancer": lb}
    none_healthy = alarms["resume-prod-alb-no-healthy-hosts"]
    assert none_healthy["metric_name"] == "HealthyHostCount"
    assert (none_healthy["comparison"], float(none_healthy["threshold"])) == ("LessThanThreshold", 1.0)
    assert none_healthy["dimensions"] == {"LoadBalancer": lb, "TargetGroup": tg}
    assert none_healthy["treat_missing_data"] == "breaching"
    assert alarms["resume-prod-alb-5xx"]["metric_name"] == "HTTPCode_Target_5XX_Count"
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == ["arn:aws:sns:eu-west-1:123456789012:resume-prod-alarms"], alarm["name"]


def test_the_role_deletes_every_alarm_it_creates() -> None:
    tasks = yaml.safe_load((ROLE / "tasks" / "delete.yml").read_text())
    task = next(t for t in tasks if "amazon.aws.cloudwatch_metric_alarm" in t)
    assert task["loop"] == "{{ __app_deploy_alb_alarms | map(attribute='name') | list }}"
    assert len(alarms_as_sent()) == 4
