"""Request validation AWS does and moto does not: a policy moto stores here would be refused on AWS.

- ECR lifecycle policies (ECR User Guide, "Lifecycle policy properties" and "How lifecycle policies
  work"): moto checks the JSON schema only, not the rules between the rules.
- Application Auto Scaling target tracking with metric math (API reference,
  TargetTrackingMetricDataQuery; User Guide, "Create a target tracking scaling policy ... using
  metric math"): moto stores any CustomizedMetricSpecification.

Each check returns the reason for the refusal, or ``None``; ``install`` makes moto raise AWS's
exception with it. Idempotent per process.
"""

from __future__ import annotations

import re
from typing import Any

_METRIC_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")


def ecr_lifecycle_refusal(policy: dict[str, Any]) -> str | None:
    """Why ECR refuses this (schema-valid) lifecycle policy, or None."""
    rules = [r for r in policy.get("rules", []) if isinstance(r, dict)]
    priorities = [r.get("rulePriority") for r in rules]
    if len(set(priorities)) != len(priorities):
        return "rulePriority must be unique for each rule"
    untagged = 0
    for rule in rules:
        selection = rule.get("selection") or {}
        status = selection.get("tagStatus")
        lists = [k for k in ("tagPrefixList", "tagPatternList") if k in selection]
        if status == "tagged" and len(lists) != 1:
            return "a rule with tagStatus tagged needs exactly one of tagPrefixList, tagPatternList"
        if status != "tagged" and lists:
            return f"{lists[0]} is only allowed with tagStatus tagged"
        if status == "untagged":
            untagged += 1
        count_type, unit = selection.get("countType"), selection.get("countUnit")
        if count_type == "sinceImagePushed" and unit is None:
            return "countUnit is required when countType is sinceImagePushed"
        if count_type != "sinceImagePushed" and unit is not None:
            return "countUnit is only allowed when countType is sinceImagePushed"
        if status == "any" and rule.get("rulePriority") != max(priorities):
            return "the rule with tagStatus any must have the highest rulePriority"
    if untagged > 1:
        return "only one rule may select untagged images (tagStatus untagged)"
    return None


def metric_math_refusal(specification: dict[str, Any]) -> str | None:
    """Why Application Auto Scaling refuses this CustomizedMetricSpecification, or None."""
    queries = specification.get("Metrics")
    if queries is None:
        return None
    if any(k in specification for k in ("MetricName", "Namespace", "Dimensions", "Statistic", "Unit")):
        return "specify either Metrics or a single metric (MetricName, Namespace, ...), not both"
    ids = [q.get("Id", "") for q in queries]
    if len(set(ids)) != len(ids):
        return "each Id must be unique among the metric data queries"
    for query in queries:
        if not _METRIC_ID.match(query.get("Id", "")):
            return f"Id {query.get('Id')!r}: letters, numbers and underscores, starting with a lowercase letter"
        if ("Expression" in query) == ("MetricStat" in query):
            return f"query {query.get('Id')}: specify either Expression or MetricStat, but not both"
    # ReturnData defaults to true: the final expression returns the one time series, every other
    # query must say false.
    returning = [q["Id"] for q in queries if q.get("ReturnData", True)]
    if len(returning) != 1:
        return f"exactly one metric data query must return data (ReturnData true), found {returning}"
    return None


def install() -> None:
    """Make moto refuse, as AWS does, what these checks refuse."""
    if getattr(install, "_done", False):
        return
    install._done = True  # type: ignore[attr-defined]

    import json

    from moto.applicationautoscaling import models as aas_models
    from moto.applicationautoscaling.exceptions import AWSValidationException
    from moto.ecr.exceptions import InvalidParameterException
    from moto.ecr.policy_validation import EcrLifecyclePolicyValidator

    schema_valid = EcrLifecyclePolicyValidator.validate

    def validate(self: Any) -> None:
        schema_valid(self)
        reason = ecr_lifecycle_refusal(json.loads(self._policy_text))
        if reason:
            raise InvalidParameterException(f"{EcrLifecyclePolicyValidator.INVALID_PARAMETER_ERROR_MESSAGE}{reason}'")

    EcrLifecyclePolicyValidator.validate = validate  # type: ignore[method-assign]

    put_scaling_policy = aas_models.ApplicationAutoscalingBackend.put_scaling_policy

    def put_checked(self: Any, **kwargs: Any) -> Any:
        # moto's responses call it with keywords; policy_body is the step or target tracking configuration.
        specification = (kwargs.get("policy_body") or {}).get("CustomizedMetricSpecification")
        reason = metric_math_refusal(specification) if specification else None
        if reason:
            raise AWSValidationException(reason)
        return put_scaling_policy(self, **kwargs)

    aas_models.ApplicationAutoscalingBackend.put_scaling_policy = put_checked  # type: ignore[method-assign]
