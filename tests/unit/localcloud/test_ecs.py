"""The ECS scheduler's side of the load balancer: targets it checked itself, and the deregistration
delay it waits before stopping replaced tasks."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud import ecs


class FakeElb:
    def __init__(self, registered: list[str], delay: str | None) -> None:
        self.registered = set(registered)
        self.delay = delay

    def describe_target_health(self, TargetGroupArn: str) -> dict[str, Any]:
        return {"TargetHealthDescriptions": [{"Target": {"Id": ip, "Port": 8000}} for ip in sorted(self.registered)]}

    def register_targets(self, TargetGroupArn: str, Targets: list[dict[str, Any]]) -> None:
        self.registered |= {t["Id"] for t in Targets}

    def deregister_targets(self, TargetGroupArn: str, Targets: list[dict[str, Any]]) -> None:
        self.registered -= {t["Id"] for t in Targets}

    def describe_target_group_attributes(self, TargetGroupArn: str) -> dict[str, Any]:
        attributes = (
            [] if self.delay is None else [{"Key": "deregistration_delay.timeout_seconds", "Value": self.delay}]
        )
        return {"Attributes": attributes}


class FakeController:
    def __init__(self, elb: FakeElb) -> None:
        self.elb = elb
        self.synced = 0

    def plane(self, _region: str) -> Any:
        controller = self

        class Plane:
            def _client(self, _service: str) -> FakeElb:
                return controller.elb

        return Plane()

    def balancers_changed(self, _region: str, *, wait: bool = False) -> None:
        self.synced += 1


LB = {"targetGroupArn": "arn:tg", "containerPort": 8000}


def test_a_replacement_waits_the_target_groups_deregistration_delay_on_the_local_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.02")
    elb = FakeElb(["10.0.0.1"], "30")
    scheduler = ecs.Scheduler(FakeController(elb))
    assert scheduler.register_targets("eu-west-1", LB, ["10.0.0.2"]) == pytest.approx(0.6)
    assert elb.registered == {"10.0.0.2"}
    assert scheduler.checked_targets == {"10.0.0.2:8000"}  # the listener puts it in rotation at once


def test_without_a_deregistration_there_is_nothing_to_wait_and_awss_default_is_300_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.01")
    scheduler = ecs.Scheduler(FakeController(FakeElb([], None)))
    assert scheduler.register_targets("eu-west-1", LB, ["10.0.0.2"]) == 0.0
    scheduler = ecs.Scheduler(FakeController(FakeElb(["10.0.0.1"], None)))
    assert scheduler.register_targets("eu-west-1", LB, ["10.0.0.2"]) == pytest.approx(3.0)
