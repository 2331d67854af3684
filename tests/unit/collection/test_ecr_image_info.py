"""resumestack.cloud.ecr_image_info, run for real (ansible CLI) against an in-process moto server."""

import json
from typing import Any

from conftest import unique

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
)


def test_a_pushed_tag_exists_and_another_tag_does_not(run_module: Any, aws: Any) -> None:
    repository = unique("repo")
    aws("ecr").create_repository(repositoryName=repository)
    aws("ecr").put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag="abc123")

    found = run_module("ecr_image_info", {"repository": repository, "tag": "abc123"})
    assert found["changed"] is False
    assert found["exists"] is True, found
    assert found["image"]["image_digest"].startswith("sha256:")

    absent = run_module("ecr_image_info", {"repository": repository, "tag": "def456"})
    assert (absent["exists"], absent["repository_exists"]) == (False, True), absent
    assert absent["image"] == {}


def test_check_mode_looks_up_as_well(run_module: Any, aws: Any) -> None:
    repository = unique("repo")
    aws("ecr").create_repository(repositoryName=repository)
    aws("ecr").put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag="abc123")
    assert run_module("ecr_image_info", {"repository": repository, "tag": "abc123"}, check=True)["exists"] is True


def test_a_missing_repository_is_no_image_not_an_error(run_module: Any) -> None:
    result = run_module("ecr_image_info", {"repository": unique("none"), "tag": "abc123"})
    assert result.get("failed") is not True, result
    assert (result["exists"], result["repository_exists"]) == (False, False)


def test_an_unreachable_ecr_fails_clearly(run_module: Any) -> None:
    args = {"repository": "resume-dev/api", "tag": "abc123", "endpoint_url": "http://127.0.0.1:9"}
    result = run_module("ecr_image_info", args, endpoint=False)
    assert result.get("failed") is True, result
    assert "Could not look up resume-dev/api:abc123 in ECR" in result["msg"]
