"""The web ACL model: rule order, managed rule groups and their overrides, labels, custom responses,
the rate-based rule per client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud import waf

CRS = {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}
BAD = {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesKnownBadInputsRuleSet"}}


def request(
    path: str = "/api/resumes",
    query: str = "",
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    ip: str = "198.51.100.1",
    method: str = "POST",
) -> waf.WebRequest:
    base = [("Host", "example.test"), ("User-Agent", "test/1.0")]
    return waf.WebRequest(method, path, query, base + (headers or []), body, ip)


def acl(*rules: dict[str, Any], default: str = "Allow", bodies: dict[str, Any] | None = None) -> waf.WebAcl:
    web_acl = waf.WebAcl()
    web_acl.load(
        {
            "Name": "acl",
            "LabelNamespace": "awswaf:123456789012:webacl:acl:",
            "DefaultAction": {default: {}},
            "Rules": [{"Priority": i, **r} for i, r in enumerate(rules)],
            "CustomResponseBodies": bodies or {},
        }
    )
    return web_acl


def group(statement: dict[str, Any], name: str = "g", count: bool = False, **extra: Any) -> dict[str, Any]:
    inner = {**statement["ManagedRuleGroupStatement"], **extra}
    return {
        "Name": name,
        "OverrideAction": {"Count": {}} if count else {"None": {}},
        "Statement": {"ManagedRuleGroupStatement": inner},
    }


def test_the_core_rule_set_blocks_bodies_over_8_kb_with_the_alb_403_page() -> None:
    web_acl = acl(group(CRS))
    assert web_acl.evaluate(request(body=b"a" * 8192)).allowed
    verdict = web_acl.evaluate(request(body=b"a" * 8193))
    assert not verdict.allowed and verdict.status == 403 and verdict.body == waf.BLOCK_PAGE
    assert "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body" in verdict.labels


@pytest.mark.parametrize(
    ("kwargs", "label"),
    [
        ({"headers": [], "path": "/"}, "NoUserAgent_Header"),
        ({"query": "q=" + "a" * 2050}, "SizeRestrictions_QueryString"),
        ({"path": "/" + "a" * 1100}, "SizeRestrictions_URIPath"),
        ({"query": "file=../../etc/passwd"}, "GenericLFI_QueryArguments"),
        ({"path": "/static/%2e%2e/..%2fetc"}, "GenericLFI_URIPath"),
        ({"query": "q=%3Cscript%3Ealert(1)%3C/script%3E"}, "CrossSiteScripting_QueryArguments"),
        ({"body": b'{"summary": "<script>alert(1)</script>"}'}, "CrossSiteScripting_Body"),
        ({"body": b"url=http://169.254.169.254/latest/meta-data"}, "EC2MetaDataSSRF_Body"),
        ({"path": "/backup.bak"}, "RestrictedExtensions_URIPath"),
    ],
)
def test_core_rule_set_signatures(kwargs: dict[str, Any], label: str) -> None:
    if "headers" in kwargs:
        req = waf.WebRequest("GET", kwargs["path"], "", [("Host", "example.test")], b"", "198.51.100.1")
    else:
        req = request(**kwargs)
    verdict = acl(group(CRS)).evaluate(req)
    assert not verdict.allowed and f"awswaf:managed:aws:core-rule-set:{label}" in verdict.labels


@pytest.mark.parametrize(
    ("kwargs", "label"),
    [
        ({"headers": [("X-Api-Version", "${jndi:ldap://evil/a}")]}, "Log4JRCE_Header"),
        ({"query": "x=%24%7Bjndi%3Aldap%3A%2F%2Fevil%7D"}, "Log4JRCE_QueryString"),
        ({"body": b"rO0ABXNyABFqYXZh"}, "JavaDeserRCE_Body"),
        ({"headers": [("Host", "localhost:8000")]}, "Host_Localhost_Header"),
        ({"method": "PROPFIND"}, "Propfind_Method"),
        ({"path": "/WEB-INF/web.xml"}, "ExploitablePaths_URIPath"),
    ],
)
def test_known_bad_inputs_signatures(kwargs: dict[str, Any], label: str) -> None:
    req = request(**kwargs)
    if any(k == "Host" and v.startswith("localhost") for k, v in kwargs.get("headers", [])):
        req.headers = [h for h in req.headers if h != ("Host", "example.test")]
    verdict = acl(group(BAD)).evaluate(req)
    assert not verdict.allowed and f"awswaf:managed:aws:known-bad-inputs:{label}" in verdict.labels


def test_a_clean_request_passes_both_groups() -> None:
    body = json.dumps({"name": "Ada", "summary": "Builds compilers; 10 years of C & Rust."}).encode()
    verdict = acl(group(CRS), group(BAD, "b")).evaluate(request(body=body, query="limit=5"))
    assert verdict.allowed and verdict.labels == []


def test_body_signatures_see_only_the_first_8_kb_as_an_alb_sends_them() -> None:
    overridden = group(CRS, RuleActionOverrides=[{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}])
    late = b"a" * 9000 + b"<script>alert(1)</script>"
    early = b"<script>alert(1)</script>" + b"a" * 9000
    assert acl(overridden).evaluate(request(body=late)).allowed
    assert not acl(overridden).evaluate(request(body=early)).allowed


LARGE_BODY = {
    "Name": "body-size-outside-resume-writes",
    "Action": {
        "Block": {"CustomResponse": {"ResponseCode": 413, "CustomResponseBodyKey": "too_large"}},
    },
    "Statement": {
        "AndStatement": {
            "Statements": [
                {
                    "LabelMatchStatement": {
                        "Scope": "LABEL",
                        "Key": "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body",
                    }
                },
                {
                    "NotStatement": {
                        "Statement": {
                            "ByteMatchStatement": {
                                "SearchString": b"/api/resumes",
                                "FieldToMatch": {"UriPath": {}},
                                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                                "PositionalConstraint": "STARTS_WITH",
                            }
                        }
                    }
                },
            ]
        }
    },
}


def test_the_size_rule_counted_and_a_label_rule_block_large_bodies_outside_the_exempt_paths() -> None:
    overridden = group(CRS, RuleActionOverrides=[{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}])
    bodies = {"too_large": {"ContentType": "APPLICATION_JSON", "Content": '{"detail": "too large"}'}}
    web_acl = acl(overridden, LARGE_BODY, bodies=bodies)
    big = b"a" * 20000
    assert web_acl.evaluate(request(path="/api/resumes/7", body=big)).allowed
    verdict = web_acl.evaluate(request(path="/api/other", body=big))
    assert (verdict.allowed, verdict.status, verdict.rule) == (False, 413, "body-size-outside-resume-writes")
    assert verdict.content_type == "application/json" and json.loads(verdict.body) == {"detail": "too large"}
    # Without the override the managed rule answers first, with a bare 403.
    assert acl(group(CRS), LARGE_BODY, bodies=bodies).evaluate(request(body=big)).status == 403


def test_a_group_in_count_mode_blocks_nothing_but_still_labels_and_excluded_rules_count() -> None:
    verdict = acl(group(CRS, count=True)).evaluate(request(body=b"a" * 9000))
    assert verdict.allowed and verdict.labels == ["awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"]
    excluded = group(CRS, ExcludedRules=[{"Name": "SizeRestrictions_BODY"}])
    assert acl(excluded).evaluate(request(body=b"a" * 9000)).allowed


def test_rules_run_in_priority_order_and_allow_ends_the_evaluation() -> None:
    allow_path = {
        "Name": "allow-health",
        "Action": {"Allow": {}},
        "Statement": {
            "ByteMatchStatement": {
                "SearchString": "/health",
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                "PositionalConstraint": "EXACTLY",
            }
        },
    }
    req = waf.WebRequest("GET", "/HEALTH", "", [("Host", "h")], b"", "198.51.100.1")  # no User-Agent
    assert acl(allow_path, group(CRS)).evaluate(req).allowed
    assert not acl(group(CRS), allow_path).evaluate(req).allowed


def test_the_default_action_block_answers_403() -> None:
    verdict = acl(default="Block").evaluate(request())
    assert not verdict.allowed and verdict.status == 403 and verdict.rule == "Default_Action"


def test_the_rate_rule_blocks_a_client_over_its_limit_and_not_another_until_the_window_passes() -> None:
    now = [1000.0]
    web_acl = acl({"Name": "rate", "Action": {"Block": {}}, "Statement": {"RateBasedStatement": {"Limit": 10}}})
    web_acl.clock = lambda: now[0]
    results = []
    for _ in range(12):
        results.append(web_acl.evaluate(request(ip="198.51.100.1")).allowed)
        now[0] += 1
    assert results == [True] * 10 + [False] * 2
    assert web_acl.evaluate(request(ip="198.51.100.2")).allowed
    now[0] += 300  # AWS's default evaluation window
    assert web_acl.evaluate(request(ip="198.51.100.1")).allowed


def test_the_readme_table_names_every_modelled_rule() -> None:
    table = waf.readme_table()
    for rules in waf.MANAGED_RULES.values():
        for rule in rules:
            assert f"| {rule.name} |" in table
