"""The web ACL of a load balancer, applied to each request as AWS WAF does (``localcloud.alb`` calls it).

The web ACL comes from the emulator as ``GetWebACLForResource`` returns it. Its rules run in
priority order: a rule that matches applies its action (``Block`` and ``Allow`` end the evaluation,
``Count`` goes on) and adds its labels, which later rules can match (``LabelMatchStatement``); with
no terminating match the default action applies. ``Block`` answers 403 with the page an ALB shows,
or the rule's ``CustomResponse`` with a body from the web ACL's ``CustomResponseBodies``.

Statements: ``ByteMatch``, ``RegexMatch``, ``SizeConstraint``, ``LabelMatch``, ``And``/``Or``/``Not``,
``RateBased`` (per client IP, forwarded IP or constant, with its scope-down statement; counted over
``EvaluationWindowSec``, 300 s by default, on the real clock as AWS does) and ``ManagedRuleGroup``
for the two AWS groups below, with ``RuleActionOverrides``, ``ExcludedRules`` and the web ACL
rule's ``OverrideAction``. Other statements never match (and are logged once).

An ALB hands AWS WAF only the first 8 KB of a body (``BODY_LIMIT``): body signatures see no more.
The managed rules are AWS's published rule names and labels with representative signatures (AWS
does not publish its patterns); ``MANAGED_RULES`` is the table the README reproduces.
"""

from __future__ import annotations

import html
import logging
import re
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("localcloud.waf")

BODY_LIMIT = 8 * 1024  # what an ALB forwards to AWS WAF for inspection
DEFAULT_WINDOW = 300
BLOCK_PAGE = (
    b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    b"<center><h1>403 Forbidden</h1></center>\r\n</body>\r\n</html>\r\n"
)
CONTENT_TYPES = {"APPLICATION_JSON": "application/json", "TEXT_PLAIN": "text/plain", "TEXT_HTML": "text/html"}


@dataclass
class WebRequest:
    """What AWS WAF sees of a request."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    client_ip: str

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclass
class Verdict:
    allowed: bool
    status: int = 200
    content_type: str = "text/html"
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    rule: str = "Default_Action"
    # Headers a Count or Allow action inserts into the request (x-amzn-waf-<name>).
    request_headers: list[tuple[str, str]] = field(default_factory=list)


def decoded(text: str) -> str:
    return urllib.parse.unquote_plus(text)


def query_values(query: str) -> str:
    return " ".join(value for _key, value in urllib.parse.parse_qsl(query, keep_blank_values=True))


def inspected_body(request: WebRequest) -> str:
    return request.body[:BODY_LIMIT].decode("utf-8", "replace")


def contains(pattern: str) -> Callable[[str], bool]:
    regex = re.compile(pattern, re.IGNORECASE)
    return lambda text: bool(regex.search(text))


XSS = r"<\s*/?\s*script\b|javascript\s*:|\bon(?:error|load|mouseover)\s*=|<\s*iframe\b|<\s*img[^>]+src\s*="
LFI = r"\.\.[/\\]"
SSRF = r"169\.254\.169\.254"
LOG4J = r"\$\{\s*jndi\s*:"
JAVA_DESER = r"java\.lang\.(?:runtime|processbuilder)|rO0AB|\(java\.lang\.reflect"


@dataclass(frozen=True)
class ManagedRule:
    name: str
    label: str
    where: str  # the request component, for the README
    signature: str  # what the model matches, for the README
    test: Callable[[WebRequest], bool]


def _rule(name: str, label: str, where: str, signature: str, test: Callable[[WebRequest], bool]) -> ManagedRule:
    return ManagedRule(name, label, where, signature, test)


def _user_agent(request: WebRequest) -> str:
    return request.header("User-Agent") or ""


CORE = "awswaf:managed:aws:core-rule-set:"
BAD_INPUTS = "awswaf:managed:aws:known-bad-inputs:"
XSS_TEXT = contains(XSS)
LFI_TEXT = contains(LFI)
LOG4J_TEXT = contains(LOG4J)
JAVA_TEXT = contains(JAVA_DESER)

MANAGED_RULES: dict[str, list[ManagedRule]] = {
    "AWSManagedRulesCommonRuleSet": [
        _rule(
            "NoUserAgent_HEADER",
            CORE + "NoUserAgent_Header",
            "User-Agent",
            "absent or empty",
            lambda r: not _user_agent(r).strip(),
        ),
        _rule(
            "UserAgent_BadBots_HEADER",
            CORE + "BadBots_Header",
            "User-Agent",
            "`nessus`, `nmap`",
            lambda r: bool(re.search(r"nessus|nmap", _user_agent(r), re.I)),
        ),
        _rule(
            "SizeRestrictions_QUERYSTRING",
            CORE + "SizeRestrictions_QueryString",
            "query string",
            "over 2,048 bytes",
            lambda r: len(r.query.encode()) > 2048,
        ),
        _rule(
            "SizeRestrictions_Cookie_HEADER",
            CORE + "SizeRestrictions_Cookie_Header",
            "Cookie",
            "over 10,240 bytes",
            lambda r: len((r.header("Cookie") or "").encode()) > 10240,
        ),
        _rule(
            "SizeRestrictions_BODY",
            CORE + "SizeRestrictions_Body",
            "body",
            "over 8 KB (8,192 bytes)",
            lambda r: len(r.body) > BODY_LIMIT,
        ),
        _rule(
            "SizeRestrictions_URIPATH",
            CORE + "SizeRestrictions_URIPath",
            "URI path",
            "over 1,024 bytes",
            lambda r: len(r.path.encode()) > 1024,
        ),
        _rule(
            "EC2MetaDataSSRF_BODY",
            CORE + "EC2MetaDataSSRF_Body",
            "body (first 8 KB)",
            "`169.254.169.254`",
            lambda r: bool(re.search(SSRF, inspected_body(r))),
        ),
        _rule(
            "EC2MetaDataSSRF_QUERYARGUMENTS",
            CORE + "EC2MetaDataSSRF_QueryArguments",
            "query arguments",
            "`169.254.169.254`",
            lambda r: bool(re.search(SSRF, query_values(r.query))),
        ),
        _rule(
            "GenericLFI_QUERYARGUMENTS",
            CORE + "GenericLFI_QueryArguments",
            "query arguments",
            "`../`, `..\\`",
            lambda r: LFI_TEXT(query_values(r.query)),
        ),
        _rule(
            "GenericLFI_URIPATH",
            CORE + "GenericLFI_URIPath",
            "URI path",
            "`../`, `..\\` (URL-decoded)",
            lambda r: LFI_TEXT(decoded(r.path)),
        ),
        _rule(
            "GenericLFI_BODY",
            CORE + "GenericLFI_Body",
            "body (first 8 KB)",
            "`../`, `..\\`",
            lambda r: LFI_TEXT(inspected_body(r)),
        ),
        _rule(
            "RestrictedExtensions_URIPATH",
            CORE + "RestrictedExtensions_URIPath",
            "URI path",
            "ends in `.log`, `.ini`, `.bak`, `.cfg`, `.conf`",
            lambda r: bool(re.search(r"\.(?:log|ini|bak|cfg|conf)$", decoded(r.path), re.I)),
        ),
        _rule(
            "CrossSiteScripting_QUERYARGUMENTS",
            CORE + "CrossSiteScripting_QueryArguments",
            "query arguments",
            "`<script`, `javascript:`, `onerror=`, `<iframe` (URL- and HTML-decoded)",
            lambda r: XSS_TEXT(html.unescape(query_values(r.query))),
        ),
        _rule(
            "CrossSiteScripting_URIPATH",
            CORE + "CrossSiteScripting_URIPath",
            "URI path",
            "as above",
            lambda r: XSS_TEXT(html.unescape(decoded(r.path))),
        ),
        _rule(
            "CrossSiteScripting_BODY",
            CORE + "CrossSiteScripting_Body",
            "body (first 8 KB)",
            "as above",
            lambda r: XSS_TEXT(html.unescape(inspected_body(r))),
        ),
    ],
    "AWSManagedRulesKnownBadInputsRuleSet": [
        _rule(
            "JavaDeserRCE_HEADER",
            BAD_INPUTS + "JavaDeserRCE_Header",
            "headers",
            "`java.lang.Runtime`, `java.lang.ProcessBuilder`, `rO0AB`",
            lambda r: any(JAVA_TEXT(value) for _k, value in r.headers),
        ),
        _rule(
            "JavaDeserRCE_BODY",
            BAD_INPUTS + "JavaDeserRCE_Body",
            "body (first 8 KB)",
            "as above",
            lambda r: JAVA_TEXT(inspected_body(r)),
        ),
        _rule(
            "JavaDeserRCE_URIPATH",
            BAD_INPUTS + "JavaDeserRCE_URIPath",
            "URI path",
            "as above",
            lambda r: JAVA_TEXT(decoded(r.path)),
        ),
        _rule(
            "JavaDeserRCE_QUERYSTRING",
            BAD_INPUTS + "JavaDeserRCE_QueryString",
            "query string",
            "as above",
            lambda r: JAVA_TEXT(decoded(r.query)),
        ),
        _rule(
            "Host_localhost_HEADER",
            BAD_INPUTS + "Host_Localhost_Header",
            "Host",
            "`localhost`",
            lambda r: (r.header("Host") or "").strip().lower().rsplit(":", 1)[0] == "localhost",
        ),
        _rule(
            "PROPFIND_METHOD",
            BAD_INPUTS + "Propfind_Method",
            "method",
            "`PROPFIND`",
            lambda r: r.method.upper() == "PROPFIND",
        ),
        _rule(
            "ExploitablePaths_URIPATH",
            BAD_INPUTS + "ExploitablePaths_URIPath",
            "URI path",
            "`web-inf`",
            lambda r: "web-inf" in decoded(r.path).lower(),
        ),
        _rule(
            "Log4JRCE_HEADER",
            BAD_INPUTS + "Log4JRCE_Header",
            "headers",
            "`${jndi:`",
            lambda r: any(LOG4J_TEXT(decoded(value)) for _k, value in r.headers),
        ),
        _rule(
            "Log4JRCE_QUERYSTRING",
            BAD_INPUTS + "Log4JRCE_QueryString",
            "query string",
            "`${jndi:`",
            lambda r: LOG4J_TEXT(decoded(r.query)),
        ),
        _rule(
            "Log4JRCE_BODY",
            BAD_INPUTS + "Log4JRCE_Body",
            "body (first 8 KB)",
            "`${jndi:`",
            lambda r: LOG4J_TEXT(inspected_body(r)),
        ),
        _rule(
            "Log4JRCE_URIPATH",
            BAD_INPUTS + "Log4JRCE_URIPath",
            "URI path",
            "`${jndi:`",
            lambda r: LOG4J_TEXT(decoded(r.path)),
        ),
    ],
}


def transform(text: str, transformations: list[dict[str, Any]]) -> str:
    for step in sorted(transformations or [], key=lambda t: int(t.get("Priority", 0))):
        kind = str(step.get("Type", "NONE"))
        if kind == "LOWERCASE":
            text = text.lower()
        elif kind in ("URL_DECODE", "URL_DECODE_UNI"):
            text = urllib.parse.unquote_plus(text)
        elif kind == "HTML_ENTITY_DECODE":
            text = html.unescape(text)
        elif kind == "COMPRESS_WHITE_SPACE":
            text = re.sub(r"\s+", " ", text)
    return text


def field_value(request: WebRequest, field_to_match: dict[str, Any]) -> str | None:
    """The request component a statement inspects (None: not modelled)."""
    if "UriPath" in field_to_match:
        return request.path
    if "QueryString" in field_to_match:
        return request.query
    if "AllQueryArguments" in field_to_match:
        return query_values(request.query)
    if "Method" in field_to_match:
        return request.method
    if "Body" in field_to_match or "JsonBody" in field_to_match:
        return inspected_body(request)
    if "SingleHeader" in field_to_match:
        return request.header(str(field_to_match["SingleHeader"].get("Name", ""))) or ""
    if "SingleQueryArgument" in field_to_match:
        name = str(field_to_match["SingleQueryArgument"].get("Name", "")).lower()
        pairs = urllib.parse.parse_qsl(request.query, keep_blank_values=True)
        return next((v for k, v in pairs if k.lower() == name), "")
    return None


def positional(text: str, search: str, constraint: str) -> bool:
    if constraint == "EXACTLY":
        return text == search
    if constraint == "STARTS_WITH":
        return text.startswith(search)
    if constraint == "ENDS_WITH":
        return text.endswith(search)
    if constraint == "CONTAINS_WORD":
        return bool(re.search(rf"(?<![A-Za-z0-9_]){re.escape(search)}(?![A-Za-z0-9_])", text))
    return search in text


def action_name(action: dict[str, Any] | None) -> str:
    return next(iter(action or {"Count": {}}))


class WebAcl:
    """One web ACL; its rate counters outlive a change of its rules (``load``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.acl: dict[str, Any] = {}
        self.rates: dict[tuple[str, str], deque[float]] = {}
        self.unsupported: set[str] = set()

    def load(self, acl: dict[str, Any] | None) -> None:
        self.acl = acl or {}

    @property
    def namespace(self) -> str:
        return str(self.acl.get("LabelNamespace") or "")

    def evaluate(self, request: WebRequest) -> Verdict:
        if not self.acl:
            return Verdict(allowed=True)
        labels: list[str] = []
        inserted: list[tuple[str, str]] = []
        for rule in sorted(self.acl.get("Rules") or [], key=lambda r: int(r.get("Priority", 0))):
            name = str(rule.get("Name", ""))
            statement = rule.get("Statement") or {}
            if "ManagedRuleGroupStatement" in statement:
                outcome = self.managed_group(statement["ManagedRuleGroupStatement"], request, labels)
                if outcome is None:
                    continue
                if action_name(rule.get("OverrideAction") or {"None": {}}) == "Count":
                    continue
                verdict = self.apply(outcome, f"{name}", labels, inserted)
                if verdict is not None:
                    return verdict
                continue
            if not self.matches(statement, request, labels, name):
                continue
            labels.extend(self.namespace + str(label.get("Name", "")) for label in rule.get("RuleLabels") or [])
            verdict = self.apply(rule.get("Action") or {}, name, labels, inserted)
            if verdict is not None:
                return verdict
        default = self.acl.get("DefaultAction") or {"Allow": {}}
        verdict = self.apply(default, "Default_Action", labels, inserted)
        return verdict or Verdict(allowed=True, labels=labels, request_headers=inserted)

    def apply(
        self, action: dict[str, Any], rule: str, labels: list[str], inserted: list[tuple[str, str]]
    ) -> Verdict | None:
        """A terminating action's verdict; None for Count (the evaluation goes on)."""
        kind = action_name(action)
        settings = action.get(kind) or {}
        handling = settings.get("CustomRequestHandling", {}).get("InsertHeaders", [])
        if kind in ("Count", "Allow"):
            inserted.extend((f"x-amzn-waf-{h['Name']}", str(h["Value"])) for h in handling)
        if kind == "Count":
            return None
        if kind == "Allow":
            return Verdict(allowed=True, rule=rule, labels=labels, request_headers=inserted)
        if kind in ("Captcha", "Challenge"):  # a client without the token: 405 / 202 as AWS answers
            status = 405 if kind == "Captcha" else 202
            return Verdict(allowed=False, status=status, body=b"", rule=rule, labels=labels)
        custom = settings.get("CustomResponse")
        if not custom:
            return Verdict(allowed=False, status=403, body=BLOCK_PAGE, rule=rule, labels=labels)
        body, content_type = b"", "text/plain"
        key = custom.get("CustomResponseBodyKey")
        if key:
            spec = (self.acl.get("CustomResponseBodies") or {}).get(key, {})
            body = str(spec.get("Content", "")).encode()
            content_type = CONTENT_TYPES.get(str(spec.get("ContentType", "")), "text/plain")
        headers = [(f"x-amzn-waf-{h['Name']}", str(h["Value"])) for h in custom.get("ResponseHeaders") or []]
        return Verdict(
            allowed=False,
            status=int(custom.get("ResponseCode", 403)),
            content_type=content_type,
            body=body,
            headers=headers,
            rule=rule,
            labels=labels,
        )

    def managed_group(self, group: dict[str, Any], request: WebRequest, labels: list[str]) -> dict[str, Any] | None:
        """Run an AWS managed rule group: the terminating action of its first blocking rule, or None.
        Every matching rule adds its label, counted or not."""
        rules = MANAGED_RULES.get(str(group.get("Name", "")))
        if rules is None or group.get("VendorName") != "AWS":
            self.warn(f"managed rule group {group.get('VendorName')}/{group.get('Name')}")
            return None
        scope = group.get("ScopeDownStatement")
        if scope and not self.matches(scope, request, labels, str(group.get("Name"))):
            return None
        overrides = {str(o.get("Name")): o.get("ActionToUse") or {} for o in group.get("RuleActionOverrides") or []}
        overrides.update({str(e.get("Name")): {"Count": {}} for e in group.get("ExcludedRules") or []})
        for rule in rules:
            if not rule.test(request):
                continue
            labels.append(rule.label)
            action = overrides.get(rule.name, {"Block": {}})
            if action_name(action) != "Count":
                return action
        return None

    def matches(self, statement: dict[str, Any], request: WebRequest, labels: list[str], rule: str) -> bool:
        if "AndStatement" in statement:
            return all(self.matches(s, request, labels, rule) for s in statement["AndStatement"]["Statements"])
        if "OrStatement" in statement:
            return any(self.matches(s, request, labels, rule) for s in statement["OrStatement"]["Statements"])
        if "NotStatement" in statement:
            return not self.matches(statement["NotStatement"]["Statement"], request, labels, rule)
        if "LabelMatchStatement" in statement:
            spec = statement["LabelMatchStatement"]
            key = str(spec.get("Key", ""))
            if spec.get("Scope") == "NAMESPACE":
                prefix = key if key.endswith(":") else key + ":"
                return any(label.startswith((prefix, self.namespace + prefix)) for label in labels)
            return any(label in (key, self.namespace + key) for label in labels)
        if "ByteMatchStatement" in statement:
            spec = statement["ByteMatchStatement"]
            value = field_value(request, spec.get("FieldToMatch") or {})
            if value is None:
                self.warn(f"field {spec.get('FieldToMatch')}")
                return False
            search = spec.get("SearchString", "")
            search = search.decode("utf-8", "replace") if isinstance(search, bytes) else str(search)
            value = transform(value, spec.get("TextTransformations") or [])
            return positional(value, search, str(spec.get("PositionalConstraint", "CONTAINS")))
        if "RegexMatchStatement" in statement:
            spec = statement["RegexMatchStatement"]
            value = field_value(request, spec.get("FieldToMatch") or {})
            value = transform(value or "", spec.get("TextTransformations") or [])
            return bool(re.search(str(spec.get("RegexString", "")), value))
        if "SizeConstraintStatement" in statement:
            spec = statement["SizeConstraintStatement"]
            target = spec.get("FieldToMatch") or {}
            if "Body" in target or "JsonBody" in target:
                size = len(request.body)
            else:
                value = field_value(request, target)
                if value is None:
                    self.warn(f"field {target}")
                    return False
                size = len(transform(value, spec.get("TextTransformations") or []).encode())
            limit = int(spec.get("Size", 0))
            compare = {
                "EQ": size == limit,
                "NE": size != limit,
                "LE": size <= limit,
                "LT": size < limit,
                "GE": size >= limit,
                "GT": size > limit,
            }
            return compare.get(str(spec.get("ComparisonOperator", "GT")), False)
        if "RateBasedStatement" in statement:
            return self.over_rate(statement["RateBasedStatement"], request, labels, rule)
        self.warn(f"statement {next(iter(statement), '?')}")
        return False

    def over_rate(self, spec: dict[str, Any], request: WebRequest, labels: list[str], rule: str) -> bool:
        """Count this request for its aggregation key; match while the key is over the limit."""
        scope = spec.get("ScopeDownStatement")
        if scope and not self.matches(scope, request, labels, rule):
            return False
        kind = str(spec.get("AggregateKeyType", "IP"))
        if kind == "CONSTANT":
            key = "*"
        elif kind == "FORWARDED_IP":
            header = str((spec.get("ForwardedIPConfig") or {}).get("HeaderName", "X-Forwarded-For"))
            forwarded = (request.header(header) or "").split(",")[0].strip()
            if not forwarded:
                return (spec.get("ForwardedIPConfig") or {}).get("FallbackBehavior") == "MATCH"
            key = forwarded
        else:
            key = request.client_ip
        window = float(spec.get("EvaluationWindowSec") or DEFAULT_WINDOW)
        now = self.clock()
        seen = self.rates.setdefault((rule, key), deque())
        while seen and seen[0] <= now - window:
            seen.popleft()
        seen.append(now)
        return len(seen) > int(spec.get("Limit", 2000))

    def warn(self, what: str) -> None:
        if what not in self.unsupported:
            self.unsupported.add(what)
            LOG.warning("web ACL: %s is not modelled here: it never matches", what)


def readme_table() -> str:
    """The managed rules the local cloud models, as the README shows them."""
    lines = ["| Rule group | Rule | Inspects | Matches (model) | Label |", "| --- | --- | --- | --- | --- |"]
    for group, rules in MANAGED_RULES.items():
        for rule in rules:
            lines.append(f"| {group} | {rule.name} | {rule.where} | {rule.signature} | `{rule.label}` |")
    return "\n".join(lines)
