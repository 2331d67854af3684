"""The app_deploy role's edge as AWS applies it: its web ACL rules, converted as community.aws.wafv2_web_acl
sends them and evaluated by the local cloud's WAF model, and a smoke test that verifies the certificate."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jinja2
import yaml
from ansible.module_utils.common.dict_transformations import snake_dict_to_camel_dict
from ansible_collections.community.aws.plugins.module_utils.wafv2 import (
    compare_priority_rules,
    wafv2_snake_dict_to_camel_dict,
)

from localcloud import waf

ROLE = Path(__file__).resolve().parents[2] / "roles" / "app_deploy"


def render(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if isinstance(value, str) and "{{" in value:
        env = jinja2.Environment(autoescape=False)  # noqa: S701 - not HTML
        env.filters["regex_escape"] = re.escape
        text = env.from_string(value).render(**variables)
        return int(text) if text.isdigit() else text
    return value


def web_acl() -> dict[str, Any]:
    """The web ACL the role creates, as the module sends it to AWS (its own conversions)."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    tasks = yaml.safe_load((ROLE / "tasks" / "load_balancer.yml").read_text())
    task = next(t for t in tasks if "community.aws.wafv2_web_acl" in t)["community.aws.wafv2_web_acl"]
    task = render(task, defaults)
    rules = [wafv2_snake_dict_to_camel_dict(snake_dict_to_camel_dict(r, capitalize_first=True)) for r in task["rules"]]
    bodies = {k: snake_dict_to_camel_dict(v, capitalize_first=True) for k, v in task["custom_response_bodies"].items()}
    return {"Name": task["name"], "DefaultAction": {"Allow": {}}, "Rules": rules, "CustomResponseBodies": bodies}


def evaluate(acl: dict[str, Any], path: str, body: bytes) -> waf.Verdict:
    model = waf.WebAcl()
    model.load(acl)
    headers = [("Host", "example.test"), ("User-Agent", "test/1.0"), ("Content-Type", "application/json")]
    return model.evaluate(waf.WebRequest("POST", path, "", headers, body, "198.51.100.1"))


def resume_body(size: int) -> bytes:
    return json.dumps({"name": "Ada", "contact": {"email": "ada@example.com"}, "summary": "x" * size}).encode()


def test_a_resume_save_over_8_kb_passes_the_web_acl_and_the_api_bounds_it() -> None:
    acl = web_acl()
    assert evaluate(acl, "/api/resumes", resume_body(9000)).allowed
    assert evaluate(acl, "/api/resumes/12", resume_body(3_000_000)).allowed  # the API answers its 413


def test_a_large_body_elsewhere_gets_the_web_acls_json_413_not_a_bare_403() -> None:
    verdict = evaluate(web_acl(), "/api/jobs", resume_body(9000))
    assert (verdict.allowed, verdict.status, verdict.content_type) == (False, 413, "application/json")
    assert json.loads(verdict.body)["detail"].startswith("request body too large: at most 8192 bytes")
    assert "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body" in verdict.labels


def test_the_other_managed_rules_still_inspect_resume_saves() -> None:
    verdict = evaluate(web_acl(), "/api/resumes", b'{"summary": "${jndi:ldap://x/a}"}')
    assert not verdict.allowed and verdict.status == 403 and verdict.rule == "aws-known-bad-inputs"


def test_the_smoke_test_verifies_the_certificate() -> None:
    tasks = yaml.safe_load((ROLE / "tasks" / "smoke.yml").read_text())
    calls = [t["ansible.builtin.uri"] for t in tasks if "ansible.builtin.uri" in t]
    assert calls
    for call in calls:
        assert call.get("validate_certs") is True, call["url"]
        assert "ca_path" in call, call["url"]


def as_aws_returns(value: Any) -> Any:
    """A rule as GetWebACL returns it through botocore: byte match search strings are bytes (a blob),
    and a rate-based statement carries its evaluation window even when none was sent (300 s)."""
    if isinstance(value, dict):
        returned = {
            k: v.encode() if k == "SearchString" and isinstance(v, str) else as_aws_returns(v) for k, v in value.items()
        }
        if "RateBasedStatement" in returned:
            returned["RateBasedStatement"] = {"EvaluationWindowSec": 300, **returned["RateBasedStatement"]}
        return returned
    if isinstance(value, list):
        return [as_aws_returns(v) for v in value]
    return value


def test_a_rerun_finds_the_web_acl_rules_unchanged() -> None:
    requested = web_acl()["Rules"]
    existing = as_aws_returns(copy.deepcopy(requested))
    changed, _ = compare_priority_rules(existing, requested, True, "present")
    assert not changed
