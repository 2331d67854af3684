"""The load balancer as AWS runs it, through ``app_url`` (localcloud/alb.py, localcloud/waf.py):
HTTPS verified against the certificate the deploy trusts, the HTTP redirect, the web ACL's body
limit outside the resume write paths (a JSON 413, not the Common Rule Set's bare 403), a large
valid resume accepted, and the rate rule blocking one client and not another.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LOGS, ROOT, Stack
from tests.integration.helpers import ARTIFACTS, MAIN_PORT, PROJECT, run_playbook

PREFIX = f"{PROJECT}-local"
# Where inventories/local has the deploy write the self-signed certificate it trusts.
CA_BUNDLE = ROOT / ".state" / "ca" / f"localcloud-{MAIN_PORT}.pem"
OCTET = int(os.environ.get("TEST_VPC_OCTET", "90"))
AGENT = {"User-Agent": "resume-integration-tests/1.0", "Content-Type": "application/json"}


def read_outputs() -> dict[str, Any]:
    return dict(json.loads((ARTIFACTS / "local" / "outputs.json").read_text()))


@pytest.fixture(scope="module")
def outputs(stack: Stack) -> dict[str, Any]:
    if "app_url" not in read_outputs():
        first = run_playbook("playbooks/deploy.yml", port=stack.cloud.port, log=LOGS / "deploy-first-run.log")
        assert first.returncode == 0, first.why
    return read_outputs()


def host_of(outputs: dict[str, Any]) -> str:
    return str(outputs["app_url"]).removeprefix("https://")


def verified() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(CA_BUNDLE))


def request(
    outputs: dict[str, Any],
    method: str,
    path: str,
    body: bytes | None = None,
    source: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPSConnection(
        host_of(outputs), 443, timeout=30, context=verified(), source_address=(source, 0) if source else None
    )
    try:
        conn.request(method, path, body=body, headers=AGENT if headers is None else headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_https_verifies_against_the_certificate_the_deploy_trusts(stack: Stack, outputs: dict[str, Any]) -> None:
    served = stack.cloud.client("acm").get_certificate(CertificateArn=outputs["certificate_arn"])["Certificate"]
    assert CA_BUNDLE.read_text().strip() == served.strip()
    status, _, body = request(outputs, "GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    # The same connection without the deploy's CA: the system store does not know a self-signed one.
    conn = http.client.HTTPSConnection(host_of(outputs), 443, timeout=10, context=ssl.create_default_context())
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/health", headers=AGENT)
    conn.close()


def test_plain_http_gets_the_listeners_301_to_https(outputs: dict[str, Any]) -> None:
    conn = http.client.HTTPConnection(host_of(outputs), 80, timeout=10)
    conn.request("GET", "/api/resumes?limit=1", headers=AGENT)
    resp = conn.getresponse()
    assert resp.status == 301 and resp.getheader("Location") == f"https://{host_of(outputs)}/api/resumes?limit=1"
    conn.close()


def test_a_body_over_8_kb_outside_the_resume_writes_gets_the_web_acls_json_413(outputs: dict[str, Any]) -> None:
    body = json.dumps({"format": "markdown", "padding": "a" * 9000}).encode()
    status, headers, answer = request(outputs, "POST", "/api/jobs", body)
    assert status == 413 and headers["content-type"] == "application/json"
    assert json.loads(answer)["detail"].startswith("request body too large: at most 8192 bytes")
    # Under the limit the request reaches the API (which has no such route).
    assert request(outputs, "POST", "/api/jobs", b"{}")[0] in (404, 405)


def large_resume() -> dict[str, Any]:
    """A valid resume of about 120 KB: a full summary and twenty long positions."""
    position = {"company": "Analytical Engines", "title": "Engineer", "start_date": "2020-01-01"}
    return {
        "name": "Ada Lovelace",
        "contact": {"email": "ada@example.com"},
        "summary": "Wrote the first published program. " * 280,
        "sections": {"experience": [{**position, "description": "Designed notes. " * 312} for _ in range(20)]},
    }


def test_a_large_valid_resume_is_saved_and_a_body_over_the_apis_limit_gets_its_json_413(
    outputs: dict[str, Any],
) -> None:
    body = json.dumps(large_resume()).encode()
    assert len(body) > 100_000
    status, _, answer = request(outputs, "POST", "/api/resumes", body)
    assert status == 201, answer[:300]
    created = json.loads(answer)
    status, _, _ = request(outputs, "PUT", f"/api/resumes/{created['id']}", body)
    assert status == 200
    too_big = b'{"name": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    status, headers, answer = request(outputs, "POST", "/api/resumes", too_big)
    assert status == 413 and headers["content-type"] == "application/json"
    assert json.loads(answer)["detail"].startswith("request body too large")
    assert request(outputs, "DELETE", f"/api/resumes/{created['id']}")[0] == 204


def alb_config(stack: Stack) -> Path:
    found = sorted(ROOT.glob(f".state/**/alb/{PREFIX}-alb.json"), key=lambda p: p.stat().st_mtime)
    assert found, "no listener config"
    return found[-1]


@pytest.fixture
def rate_limit_10(stack: Stack, outputs: dict[str, Any]) -> Iterator[None]:
    """The rate rule at AWS's lowest limit (10 per 5 minutes) for this test, as an operator could set it:
    the suite's other requests come from 127.0.0.1 and stay under the deploy's 2000."""
    waf = stack.cloud.client("wafv2")

    def set_limit(limit: int) -> int:
        """Set the rate rule's limit; return the one it had."""
        acl = waf.get_web_acl(Name=f"{PREFIX}-waf", Scope="REGIONAL", Id=outputs["web_acl_arn"].rsplit("/", 1)[1])
        web_acl = acl["WebACL"]
        rules = web_acl["Rules"]
        before = 0
        for rule in rules:
            if "RateBasedStatement" in rule["Statement"]:
                before = int(rule["Statement"]["RateBasedStatement"]["Limit"])
                rule["Statement"]["RateBasedStatement"]["Limit"] = limit
        waf.update_web_acl(
            Name=web_acl["Name"],
            Scope="REGIONAL",
            Id=web_acl["Id"],
            DefaultAction=web_acl["DefaultAction"],
            Rules=rules,
            VisibilityConfig=web_acl["VisibilityConfig"],
            CustomResponseBodies=web_acl.get("CustomResponseBodies") or {},
            LockToken=acl["LockToken"],
        )
        deadline = time.monotonic() + 30  # the listener follows the web ACL
        while time.monotonic() < deadline:
            config = json.loads(alb_config(stack).read_text())
            limits = [
                r["Statement"]["RateBasedStatement"]["Limit"]
                for r in (config.get("web_acl") or {}).get("Rules", [])
                if "RateBasedStatement" in r["Statement"]
            ]
            if limits == [limit]:
                time.sleep(0.5)  # the listener re-reads its config within 0.2 s
                return before
            time.sleep(0.5)
        raise AssertionError(f"the listener never saw the rate limit {limit}")

    deployed = set_limit(10)
    try:
        yield
    finally:
        set_limit(deployed)


def test_the_rate_rule_blocks_a_client_over_its_limit_and_not_another(
    outputs: dict[str, Any], rate_limit_10: None
) -> None:
    busy, other = f"127.0.{OCTET}.21", f"127.0.{OCTET}.22"
    statuses = [request(outputs, "GET", "/health", source=busy)[0] for _ in range(12)]
    assert statuses[:10] == [200] * 10 and statuses[10:] == [403, 403], statuses
    assert request(outputs, "GET", "/health", source=other)[0] == 200
    assert request(outputs, "GET", "/health", source=busy)[0] == 403
