"""The few places where the local cloud writes into moto's models: state that moves on its own on
AWS (an ECS deployment, a task's life) and that no API call can set.

Every function takes the account and region of the call it follows; all writes happen under
``LOCK``, which the API layer's hooks and the controller's workers share.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from typing import Any

LOCK = threading.RLock()


def now() -> datetime:
    return datetime.now(UTC)


def ecs_backend(account: str, region: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account][region]


def service(account: str, region: str, cluster: str, name: str) -> Any | None:
    """moto's Service object, or None when there is none (any more)."""
    backend = ecs_backend(account, region)
    return backend.services.get(f"{cluster.rsplit('/', 1)[-1]}:{name.rsplit('/', 1)[-1]}")


def new_deployment(svc: Any, *, reason: str = "") -> dict[str, Any]:
    """A PRIMARY deployment of the service's current task definition, IN_PROGRESS (as ECS starts one)."""
    deployment_id = f"ecs-svc/{secrets.randbelow(10**19):019d}"
    stamp = now()
    return {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": svc.task_definition,
        "desiredCount": svc.desired_count,
        "pendingCount": svc.desired_count,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": stamp,
        "updatedAt": stamp,
        "launchType": svc.launch_type,
        "networkConfiguration": getattr(svc, "network_configuration", {}) or None,
        "platformFamily": "EC2" if svc.launch_type == "EC2" else "FARGATE",
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
    }


def start_deployment(svc: Any, *, reason: str = "") -> dict[str, Any]:
    """Make a new PRIMARY deployment; the previous ones stay listed as ACTIVE until drained."""
    deployment = new_deployment(svc, reason=reason)
    for old in svc.deployments:
        if old.get("status") == "PRIMARY":
            old["status"] = "ACTIVE"
            old["updatedAt"] = deployment["createdAt"]
    svc.deployments = [deployment, *svc.deployments]
    return deployment


def primary(svc: Any) -> dict[str, Any] | None:
    return next((d for d in svc.deployments if d.get("status") == "PRIMARY"), None)


def event(svc: Any, message: str) -> None:
    """A service event, newest first, as DescribeServices lists them."""
    svc.events.insert(
        0, {"id": secrets.token_hex(16), "createdAt": now(), "message": f"(service {svc.name}) {message}"}
    )
    del svc.events[100:]


# CreateService settings moto does not keep (UpdateService keeps them): AWS returns them all.
DROPPED_ON_CREATE = {
    "deploymentConfiguration": "deployment_configuration",
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "enableExecuteCommand": "enable_execute_command",
    "capacityProviderStrategy": "capacity_provider_strategy",
}


def keep_what_moto_drops(svc: Any, params: dict[str, Any]) -> None:
    for key, attribute in DROPPED_ON_CREATE.items():
        if key in params and getattr(svc, attribute, None) is None:
            setattr(svc, attribute, params[key])


def task(account: str, region: str, cluster: str, arn: str) -> Any | None:
    backend = ecs_backend(account, region)
    return backend.tasks.get(cluster.rsplit("/", 1)[-1], {}).get(arn)


def set_task_status(tsk: Any, status: str, *, exit_code: int | None = None, reason: str = "") -> None:
    """Move a task (and its containers) to ``status``; a stopped one gets its exit code and reason."""
    tsk.status = status
    stamp = now()
    if status == "RUNNING":
        tsk.started_at = stamp
    for container in tsk.containers:
        container.last_status = status if status in ("RUNNING", "STOPPED") else "PENDING"
        # moto starts every container at exit code 0; ECS has none until the container exited, and
        # none for a task that stopped before its container ran (a secret it could not read).
        container.exitCode = exit_code
        container.exit_code = exit_code
    if status == "STOPPED":
        tsk.desired_status = "STOPPED"
        tsk.stopped_reason = reason
        tsk.stopped_at = stamp


def certificate_pem(account: str, region: str, arn: str) -> tuple[bytes, bytes] | None:
    """(certificate, private key) of an ACM certificate, as the load balancer would hold them."""
    from moto.acm.models import acm_backends

    try:
        bundle = acm_backends[account][region].get_certificate(arn)
    except Exception:  # moto raises its own NotFound types
        return None
    if not getattr(bundle, "key", None):
        return None
    return bytes(bundle.cert), bytes(bundle.key)
