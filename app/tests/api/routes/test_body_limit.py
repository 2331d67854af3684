"""The API's own body limit: the largest valid resume is accepted, a larger body gets a JSON 413
(documented in the OpenAPI schema), whether it comes with a Content-Length or chunked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from resume_service.schemas import MAX_BODY_BYTES, ResumeIn

WIDE = "\U0001f600"  # 4 bytes in UTF-8, one character for the schema


def largest_resume(char: str = WIDE) -> dict[str, Any]:
    """Every field at its maximum length (and count) in ``char``."""
    day = {"start_date": "2020-01-01", "end_date": "2021-01-01"}
    return {
        "name": char * 200,
        "headline": char * 300,
        "contact": {
            "email": "ada@example.com",
            "phone": "+44 20 7946 0000",
            "location": char * 200,
        },
        "summary": char * 10000,
        "sections": {
            "experience": [
                {"company": char * 200, "title": char * 200, "description": char * 5000, **day}
                for _ in range(100)
            ],
            "education": [
                {"institution": char * 200, "degree": char * 200, **day} for _ in range(50)
            ],
            "skills": [char * 60] * 200,
        },
    }


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def test_the_limit_fits_the_largest_valid_resume_and_not_much_more() -> None:
    largest = largest_resume()
    ResumeIn.model_validate(largest)
    assert len(encoded(largest)) <= MAX_BODY_BYTES < 1.25 * len(encoded(largest))


def test_the_largest_valid_resume_is_saved_and_replaced(client: httpx.Client) -> None:
    body = encoded(largest_resume())
    headers = {"Content-Type": "application/json"}
    created = client.post("/api/resumes", content=body, headers=headers, timeout=60)
    assert created.status_code == 201, created.text[:200]
    put = client.put(
        f"/api/resumes/{created.json()['id']}", content=body, headers=headers, timeout=60
    )
    assert put.status_code == 200, put.text[:200]


def test_a_body_over_the_limit_gets_a_json_413(client: httpx.Client) -> None:
    too_big = b'{"name": "' + b"a" * MAX_BODY_BYTES + b'"}'
    resp = client.post(
        "/api/resumes", content=too_big, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {"detail": f"request body too large: at most {MAX_BODY_BYTES} bytes"}


def test_a_chunked_body_over_the_limit_gets_a_json_413_and_a_small_one_passes(
    client: httpx.Client,
) -> None:
    def chunks(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    too_big = b'{"name": "' + b"a" * MAX_BODY_BYTES + b'"}'
    resp = client.post(
        "/api/resumes", content=chunks(too_big), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413 and resp.json()["detail"].startswith("request body too large")
    small = json.dumps({"name": "Ada", "contact": {"email": "ada@example.com"}}).encode()
    resp = client.post(
        "/api/resumes", content=chunks(small), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 201, resp.text


def test_the_openapi_schema_documents_the_413(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (("/api/resumes", "post"), ("/api/resumes/{resume_id}", "put")):
        answer = paths[path][method]["responses"]["413"]
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
