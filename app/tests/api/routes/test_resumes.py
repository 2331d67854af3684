"""CRUD, validation (422 with field messages), 404s and pagination against real PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Postgres, sample_resume


def create(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    resp = client.post("/api/resumes", json=sample_resume(**overrides))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_create_get_update_delete(client: httpx.Client) -> None:
    created = create(client, name="Grace Hopper")
    rid = created["id"]
    assert created["views"] == 0
    assert created["contact"]["email"] == "ada@example.com"
    assert created["sections"]["skills"] == ["mathematics", "algorithms"]

    got = client.get(f"/api/resumes/{rid}")
    assert got.status_code == 200
    assert got.json()["name"] == "Grace Hopper"

    new = sample_resume(name="Grace B. Hopper", headline="Rear admiral")
    new["sections"]["skills"] = ["COBOL"]
    put = client.put(f"/api/resumes/{rid}", json=new)
    assert put.status_code == 200, put.text
    assert put.json()["name"] == "Grace B. Hopper"
    assert put.json()["sections"]["skills"] == ["COBOL"]
    assert put.json()["updated_at"] >= created["updated_at"]
    assert client.get(f"/api/resumes/{rid}").json()["headline"] == "Rear admiral"

    assert client.delete(f"/api/resumes/{rid}").status_code == 204
    assert client.get(f"/api/resumes/{rid}").status_code == 404
    assert client.delete(f"/api/resumes/{rid}").status_code == 404


def test_unknown_ids_are_404(client: httpx.Client) -> None:
    missing = 987654321
    assert client.get(f"/api/resumes/{missing}").status_code == 404
    assert client.put(f"/api/resumes/{missing}", json=sample_resume()).status_code == 404
    assert client.delete(f"/api/resumes/{missing}").status_code == 404
    assert client.post(f"/api/resumes/{missing}/views").status_code == 404
    assert client.get(f"/api/resumes/{missing}/views").status_code == 404
    resp = client.post(f"/api/resumes/{missing}/exports", json={"format": "html"})
    assert resp.status_code == 404
    assert "not found" in resp.json()["detail"]


def _errors(resp: httpx.Response) -> dict[tuple[str | int, ...], str]:
    assert resp.status_code == 422, resp.text
    return {tuple(e["loc"]): e["msg"] for e in resp.json()["detail"]}


def test_validation_422_names_fields(client: httpx.Client) -> None:
    bad = sample_resume(name="")
    bad["contact"]["email"] = "not-an-email"
    bad["sections"]["experience"][0]["end_date"] = "1800-01-01"  # before start_date
    bad["sections"]["skills"] = ["ok", ""]
    errors = _errors(client.post("/api/resumes", json=bad))
    assert ("body", "name") in errors
    assert ("body", "contact", "email") in errors
    assert "email" in errors[("body", "contact", "email")].lower()
    assert any(
        loc[:4] == ("body", "sections", "experience", 0) and "end_date" in msg
        for loc, msg in errors.items()
    )
    assert ("body", "sections", "skills", 1) in errors


def test_validation_missing_and_unknown_fields(client: httpx.Client) -> None:
    body = sample_resume()
    del body["contact"]
    body["unexpected"] = 1
    errors = _errors(client.post("/api/resumes", json=body))
    assert errors[("body", "contact")] == "Field required"
    assert ("body", "unexpected") in errors
    # Path and query parameters are validated too.
    assert client.get("/api/resumes/not-a-number").status_code == 422
    errors = _errors(client.get("/api/resumes", params={"limit": 0, "offset": -1}))
    assert ("query", "limit") in errors and ("query", "offset") in errors
    errors = _errors(client.post("/api/resumes/1/exports", json={"format": "docx"}))
    assert ("body", "format") in errors


def test_pagination(client: httpx.Client, pg: Postgres) -> None:
    ids = [create(client, name=f"Paged {i}")["id"] for i in range(5)]
    total = pg.fetch("SELECT count(*) AS n FROM resumes")[0]["n"]
    seen: list[int] = []
    offset = 0
    while True:
        page = client.get("/api/resumes", params={"limit": 2, "offset": offset}).json()
        assert page["total"] == total
        assert page["limit"] == 2 and page["offset"] == offset
        assert len(page["items"]) <= 2
        if not page["items"]:
            break
        seen += [item["id"] for item in page["items"]]
        offset += 2
    assert seen == sorted(seen), "stable ordering by id"
    assert len(seen) == total and len(set(seen)) == total
    assert set(ids) <= set(seen)
    default = client.get("/api/resumes").json()
    assert default["limit"] == 20 and default["offset"] == 0
    assert client.get("/api/resumes", params={"limit": 101}).status_code == 422


def test_openapi_docs(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in (
        "/health",
        "/health/ready",
        "/api/resumes",
        "/api/resumes/{resume_id}",
        "/api/resumes/{resume_id}/views",
        "/api/resumes/{resume_id}/exports",
        "/api/jobs/{job_id}",
    ):
        assert path in spec["paths"], path
