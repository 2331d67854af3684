"""localcloud.ecs: ECS's own rules, as the local cloud applies them to its task containers."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from localcloud import dataplane
from localcloud.ecs import breaker_threshold, task_storage_flags


@pytest.mark.parametrize(
    ("desired", "expected"),
    [(0, 3), (1, 3), (2, 3), (5, 3), (6, 3), (7, 4), (10, 5), (399, 200), (1000, 200)],
)
def test_the_circuit_breaker_tolerates_half_the_desired_count_between_3_and_200(desired: int, expected: int) -> None:
    assert breaker_threshold(desired, {"enable": True, "rollback": True}) == expected


def test_a_threshold_configuration_overrides_the_default() -> None:
    assert breaker_threshold(10, {"thresholdConfiguration": {"type": "COUNT", "value": 1}}) == 1
    assert breaker_threshold(2, {"thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 50}}) == 1
    assert breaker_threshold(2, {"thresholdConfiguration": {"type": "BOUNDED_PERCENT", "value": 100}}) == 3
    assert breaker_threshold(10, {"thresholdConfiguration": {"type": "BOUNDED_PERCENT", "value": 100}}) == 10


def test_task_storage_is_root_0755_unless_the_image_declares_the_volume() -> None:
    assert task_storage_flags("/tmp", set()) == ["--mount", "type=volume,destination=/tmp,volume-nocopy"]
    assert task_storage_flags("/tmp", {"/tmp"}) == ["--mount", "type=volume,destination=/tmp"]


@pytest.fixture(scope="module")
def images() -> Iterator[tuple[str, str]]:
    """Two images of a non-root user: one declares /tmp a VOLUME (owned by the user), one does not."""
    base, _ = dataplane.ensure_image()
    tag = uuid.uuid4().hex[:8]
    plain, declared = f"resume-localcloud/fargate-probe:plain-{tag}", f"resume-localcloud/fargate-probe:vol-{tag}"
    recipes = {
        plain: f"FROM {base}\nENTRYPOINT []\nUSER 10001:10001\n",
        declared: f'FROM {base}\nENTRYPOINT []\nRUN install -d -o 10001 -g 10001 -m 1777 /tmp\nVOLUME ["/tmp"]\n'
        "USER 10001:10001\n",
    }
    for name, recipe in recipes.items():
        subprocess.run(["docker", "build", "-q", "-t", name, "-"], input=recipe, text=True, check=True)
    try:
        yield plain, declared
    finally:
        subprocess.run(["docker", "image", "rm", "-f", plain, declared], capture_output=True, check=False)


def writes_tmp(image: str) -> bool:
    """Whether the image's user can create a file in /tmp of a task run read-only, as Fargate runs it."""
    volumes = dataplane.run(["docker", "image", "inspect", "--format", "{{json .Config.Volumes}}", image])
    declared = set(json.loads(volumes) or {})
    argv = ["docker", "run", "--rm", "--read-only", *task_storage_flags("/tmp", declared), image]
    probe = subprocess.run([*argv, "sh", "-c", "touch /tmp/probe && ! touch /probe"], capture_output=True, check=False)
    return probe.returncode == 0


def test_a_non_root_task_cannot_write_tmp_unless_the_image_declares_it(images: tuple[str, str]) -> None:
    plain, declared = images
    assert not writes_tmp(plain)
    assert writes_tmp(declared)
