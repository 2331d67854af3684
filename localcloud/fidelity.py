"""AWS's behaviour in time, put back between the API and the emulator: ``LOCALCLOUD_FIDELITY=aws`` (the
default) or ``off``.

moto answers every create as instantly ready and consistent. With the fidelity on, the local cloud
answers as AWS does instead:

* **Lifecycle.** A resource that takes time on AWS starts in AWS's transitional state and reaches
  its final state after AWS's typical duration times ``LOCALCLOUD_TIME_SCALE`` (``localcloud.timing``);
  fields AWS leaves out meanwhile are left out (an RDS instance's endpoint, a NAT gateway's public address).
* **Rejections.** Calls AWS refuses in those states are refused with AWS's error code.
* **Eventual consistency.** For a window after a create, the calls AWS documents as racing it fail as
  they fail on AWS (a new NAT gateway unknown to CreateRoute, a new instance profile refused by
  RunInstances, network interfaces that linger after a service, load balancer or proxy is deleted).
* **Throttling.** ``LOCALCLOUD_THROTTLE`` (a share of calls, 0 to 1) answers that share of calls with
  the service's throttling error.

Every behaviour, its AWS source and its durations are in ``BEHAVIOURS`` (the README's table is
made from it). The local cloud's own calls (its controller's) are never throttled or refused.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcloud import timing

INTERNAL_ACCESS_KEY = "localcloud-controller"


@dataclass(frozen=True)
class Behaviour:
    """One way AWS behaves in time: what, AWS's typical duration (seconds), its source."""

    what: str
    seconds: float
    source: str
    # Shortest window that still shows the race on this machine (the clients' own first retry).
    floor: float = 0.0

    @property
    def local_seconds(self) -> float:
        return timing.scaled(self.seconds, floor=self.floor if timing.race_floors() else 0.0)


BEHAVIOURS: dict[str, Behaviour] = {
    "aurora_cluster": Behaviour(
        "Aurora DB cluster creating -> available (its instances take longer); ModifyDBCluster, "
        "DeleteDBCluster and proxy target registration refused meanwhile (InvalidDBClusterStateFault)",
        90,
        "Aurora User Guide, Creating an Amazon Aurora DB cluster (status 'creating'; the cluster is "
        "available within one or two minutes, before its instances: hashicorp/terraform-provider-aws#50115); "
        "RDS API RegisterDBProxyTargets errors: InvalidDBClusterStateFault; kept above the RDS Proxy's "
        "creation here, so the proxy role's wait for the cluster runs",
        floor=10.0,
    ),
    "db_instance": Behaviour(
        "RDS / Aurora DB instance creating -> available; no Endpoint until available; DeleteDBInstance "
        "with a final snapshot refused meanwhile (InvalidDBInstanceState)",
        480,
        "RDS User Guide, Viewing DB instance status ('creating'; the endpoint is shown once available), "
        "typically 5-10 minutes; RDS API DeleteDBInstance errors: InvalidDBInstanceState",
    ),
    "db_proxy": Behaviour(
        "RDS Proxy creating -> available; ModifyDBProxy and DeleteDBProxy refused meanwhile (InvalidDBProxyStateFault)",
        300,
        "RDS User Guide, Creating an RDS Proxy ('can take several minutes')",
    ),
    "nat_gateway": Behaviour(
        "NAT gateway pending -> available; its address shows only the allocation id while pending",
        90,
        "VPC User Guide, NAT gateways ('pending' then 'available', typically 1-2 minutes)",
    ),
    "nat_gateway_delete": Behaviour(
        "NAT gateway deleting -> deleted",
        60,
        "VPC User Guide, Delete a NAT gateway ('deleting' for about a minute)",
    ),
    "ec2_instance": Behaviour(
        "EC2 instance pending -> running",
        20,
        "EC2 User Guide, Instance state changes ('pending' for tens of seconds)",
    ),
    "instance_boot": Behaviour(
        "A running instance answers (sshd, the SSM agent registered) only after it booted",
        90,
        "Systems Manager User Guide, the SSM Agent registers after boot (one to two minutes); kept above the "
        "time site.yml takes from the launch to configure.yml when the database is ready, so its wait runs",
        floor=45.0,
    ),
    "load_balancer": Behaviour(
        "Application Load Balancer provisioning -> active; AssociateWebACL refused meanwhile "
        "(WAFUnavailableEntityException)",
        150,
        "ELB User Guide, Create an Application Load Balancer (state 'provisioning', a few minutes); "
        "WAF API AssociateWebACL, temporary inconsistencies",
    ),
    "fargate_task": Behaviour(
        "A Fargate task PROVISIONING -> PENDING -> RUNNING before its container starts",
        40,
        "ECS Developer Guide, Task lifecycle (provisioning the elastic network interface and pulling the image, "
        "typically under a minute)",
    ),
    "service_drain": Behaviour(
        "A deleted ECS service is DRAINING until its tasks stopped (the target group's deregistration delay, "
        "then the stop timeout), then INACTIVE; meanwhile DeleteCluster is refused (ClusterContainsServicesException), "
        "and so are UpdateService (ServiceNotActiveException) and a CreateService of the same name "
        "(InvalidParameterException); DeleteCluster also waits for one-off tasks (ClusterContainsTasksException)",
        60,
        "ECS API DeleteService ('DRAINING ... INACTIVE'); ELB User Guide, deregistration delay (30 s here); ECS "
        "stopTimeout (30 s by default); kept above the time teardown takes from the services to the cluster",
        floor=15.0,
    ),
    "nat_gateway_id": Behaviour(
        "A new NAT gateway's id unknown to CreateRoute/ReplaceRoute (InvalidNatGatewayID.NotFound)",
        5,
        "EC2 API eventual consistency (ec2/latest/devguide/eventual-consistency.html); boto/boto3#779; kept "
        "above the time the network role takes from the gateways to the routes, so its retry runs",
        floor=15.0,
    ),
    "instance_profile": Behaviour(
        "A new instance profile refused by RunInstances (InvalidParameterValue: Invalid IAM Instance Profile)",
        30,
        "IAM User Guide, troubleshooting: changes are eventually consistent; amazon.aws.ec2_instance retries once "
        "after 10 s, so the window is kept above that",
        floor=20.0,
    ),
    "web_acl": Behaviour(
        "A new web ACL refused by AssociateWebACL (WAFUnavailableEntityException)",
        30,
        "WAF API AssociateWebACL, temporary inconsistencies ('a few seconds to a number of minutes'); kept above "
        "the time app_deploy takes from creating the web ACL to associating it after the rollout, so its retry runs",
        floor=25.0,
    ),
    "eni_release": Behaviour(
        "Network interfaces of a deleted ECS service, load balancer or RDS Proxy linger: their security "
        "groups and subnets cannot be deleted yet (DependencyViolation)",
        120,
        "VPC User Guide, requester-managed network interfaces are released minutes after the resource; "
        "kept above the time teardown takes from the deletions to the network layer, so its retries run",
        floor=60.0,
    ),
}


def enabled() -> bool:
    return os.environ.get("LOCALCLOUD_FIDELITY", "aws").lower() != "off"


def throttle_share() -> float:
    try:
        return min(max(float(os.environ.get("LOCALCLOUD_THROTTLE", "0") or 0), 0.0), 1.0)
    except ValueError:
        return 0.0


def now() -> float:
    return time.monotonic()


def ready_at(behaviour: str) -> float:
    return now() + BEHAVIOURS[behaviour].local_seconds


def not_ready(obj: Any) -> bool:
    return float(getattr(obj, "_lc_ready_at", 0.0)) > now()


def boot_remaining(account: str, region: str, instance_id: str) -> float:
    """Seconds until a running instance answers (0 once booted, or without the fidelity)."""
    if not enabled():
        return 0.0
    from moto.ec2.models import ec2_backends

    try:
        instance = ec2_backends[account][region].get_instance(instance_id)
    except Exception:  # gone, or another account's
        return 0.0
    booted = float(getattr(instance, "_lc_ready_at", 0.0)) + BEHAVIOURS["instance_boot"].local_seconds
    return max(booted - now(), 0.0)


def database_ready_in(account: str, region: str) -> float | None:
    """Seconds until the next RDS cluster or instance that is still creating becomes available."""
    if not enabled():
        return None
    backend = _rds()[account][region]
    waits = [
        float(getattr(obj, "_lc_ready_at", 0.0)) - now()
        for obj in [*backend.clusters.values(), *backend.databases.values()]
        if not_ready(obj)
    ]
    return min(waits) if waits else None


def fargate_start_delay() -> float:
    """Seconds a new Fargate task takes before its container starts (0 without the fidelity)."""
    return BEHAVIOURS["fargate_task"].local_seconds if enabled() else 0.0


# The longest chain of dependent AWS waits of site.yml on AWS: the database (started by its layer,
# waited for before the bastion's configuration and the deploy), then the migration task, then the
# services' rollout (a new task, the load balancer's health checks: grace period and two intervals).
CRITICAL_PATH = (
    ("the Aurora writer instance: creating -> available", BEHAVIOURS["db_instance"].seconds),
    ("the migration task starts (Fargate)", BEHAVIOURS["fargate_task"].seconds),
    ("the services' new tasks start (Fargate)", BEHAVIOURS["fargate_task"].seconds),
    ("the load balancer finds them healthy (two checks 15 s apart)", 30.0),
)


def critical_path_seconds() -> float:
    return sum(seconds for _, seconds in CRITICAL_PATH)


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Refusal:
    """An error answer in the protocol of the call's service."""

    status: int
    code: str
    message: str


def render(service: str, json_protocol: bool, refusal: Refusal) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of an AWS error answer, as botocore parses it for ``service``."""
    request_id = str(uuid.uuid4())
    reason = {400: "Bad Request", 403: "Forbidden", 503: "Service Unavailable"}.get(refusal.status, "Error")
    status = f"{refusal.status} {reason}"
    if json_protocol:
        body = json.dumps({"__type": refusal.code, "message": refusal.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
        if service == "sqs":  # SQS's JSON protocol keeps its query error codes in this header
            headers.append(("x-amzn-query-error", f"{refusal.code};Sender"))
        return status, headers, body
    if service == "ec2":
        xml = (
            f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{refusal.code}</Code>"
            f"<Message>{refusal.message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    else:
        xml = (
            "<?xml version='1.0' encoding='UTF-8'?><ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{refusal.code}</Code><Message>{refusal.message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


def throttling(service: str, json_protocol: bool) -> Refusal:
    """The throttling error each service answers with (all of them botocore retries)."""
    if service == "ec2":
        return Refusal(503, "RequestLimitExceeded", "Request limit exceeded.")
    if service == "s3":
        return Refusal(503, "SlowDown", "Please reduce your request rate.")
    if service == "sqs":  # SQS's own code (its API model's RequestThrottled)
        return Refusal(400, "RequestThrottled", "Request is throttled.")
    if json_protocol:
        return Refusal(400, "ThrottlingException", "Rate exceeded")
    return Refusal(400, "Throttling", "Rate exceeded")


# --------------------------------------------------------------------------- the model patches


def _status_property(attribute: str, transitional: str) -> property:
    """A status that reads ``transitional`` until the object's ready time, its stored value after."""

    def get(self: Any) -> Any:
        if not_ready(self):
            return transitional
        return self.__dict__.get(attribute)

    def put(self: Any, value: Any) -> None:
        self.__dict__[attribute] = value

    return property(get, put)


def _born(cls: type, behaviour: str) -> None:
    """Stamp every new object of ``cls`` with its ready time."""
    original = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._lc_ready_at = ready_at(behaviour)

    cls.__init__ = init  # type: ignore[method-assign]


def install() -> None:
    """Patch moto's models so that they report AWS's lifecycle. Idempotent per process."""
    if getattr(install, "_done", False):
        return
    install._done = True  # type: ignore[attr-defined]

    from moto.ec2.models.instances import Instance, InstanceState
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.elbv2.models import FakeLoadBalancer
    from moto.rds import models as rds

    # Aurora clusters: moto reports 'creating' once, then 'available'.
    def cluster_status(self: Any) -> str:
        if self.__dict__.get("_status") == "creating":
            self.__dict__["_status"] = "available"
        return "creating" if not_ready(self) else str(self.__dict__.get("_status"))

    def set_cluster_status(self: Any, value: str) -> None:
        self.__dict__["_status"] = value

    rds.DBCluster.status = property(cluster_status, set_cluster_status)  # type: ignore[assignment,method-assign]
    _born(rds.DBCluster, "aurora_cluster")

    rds.DBInstance.status = _status_property("_lc_status", "creating")  # type: ignore[assignment]
    endpoint = rds.DBInstance.endpoint

    def instance_endpoint(self: Any) -> Any:
        return None if not_ready(self) else endpoint.fget(self)  # type: ignore[union-attr]

    rds.DBInstance.endpoint = property(instance_endpoint)  # type: ignore[assignment,method-assign]
    _born(rds.DBInstance, "db_instance")

    rds.DBProxy.status = _status_property("_lc_status", "creating")  # type: ignore[attr-defined]
    _born(rds.DBProxy, "db_proxy")

    def nat_state(self: Any) -> str:
        stored = str(self.__dict__.get("_lc_state"))
        if stored == "deleted" and float(self.__dict__.get("_lc_gone_at", 0.0)) > now():
            return "deleting"
        return "pending" if not_ready(self) and stored == "available" else stored

    def set_nat_state(self: Any, value: str) -> None:
        if value == "deleted" and self.__dict__.get("_lc_state") != "deleted":
            self.__dict__["_lc_gone_at"] = ready_at("nat_gateway_delete")
        self.__dict__["_lc_state"] = value

    NatGateway.state = property(nat_state, set_nat_state)  # type: ignore[attr-defined]
    addresses = NatGateway.nat_gateway_addresses

    def nat_addresses(self: Any) -> Any:
        found = addresses.fget(self)  # type: ignore[attr-defined]
        if not not_ready(self):
            return found
        # Pending: only the allocation asked for (AWS's create-nat-gateway example answer).
        return [{"allocationId": a["allocationId"]} for a in found if a.get("allocationId")]

    NatGateway.nat_gateway_addresses = property(nat_addresses)  # type: ignore[assignment,method-assign]
    _born(NatGateway, "nat_gateway")

    pending = InstanceState("pending", 0)

    def instance_state(self: Any) -> Any:
        return pending if not_ready(self) and self._state.name == "running" else self._state

    Instance.instance_state = property(instance_state)  # type: ignore[assignment,method-assign]
    Instance.state = property(lambda self: instance_state(self).name)  # type: ignore[assignment,method-assign]
    Instance.state_code = property(lambda self: instance_state(self).code)  # type: ignore[assignment,method-assign]
    _born(Instance, "ec2_instance")

    activate = FakeLoadBalancer.activate

    def activate_when_ready(self: Any) -> None:
        if not not_ready(self):
            activate(self)

    FakeLoadBalancer.activate = activate_when_ready  # type: ignore[method-assign]
    _born(FakeLoadBalancer, "load_balancer")


# --------------------------------------------------------------------------- the gate


@dataclass
class Gate:
    """What the fidelity layer remembers between calls: new ids and what lingers."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    fresh: dict[str, float] = field(default_factory=dict)  # id -> end of its consistency window
    lingering: dict[str, float] = field(default_factory=dict)  # sg/subnet id -> until when
    random: random.Random = field(default_factory=random.Random)

    def remember(self, key: str, behaviour: str) -> None:
        with self.lock:
            self.fresh[key] = now() + BEHAVIOURS[behaviour].local_seconds

    def is_fresh(self, key: str) -> bool:
        with self.lock:
            return self.fresh.get(key, 0.0) > now()

    def linger(self, ids: list[str]) -> None:
        until = now() + BEHAVIOURS["eni_release"].local_seconds
        with self.lock:
            for ident in ids:
                self.lingering[ident] = max(self.lingering.get(ident, 0.0), until)

    def lingers(self, ident: str) -> bool:
        with self.lock:
            return self.lingering.get(ident, 0.0) > now()


GATE = Gate()
Before = Callable[[Any, str], Refusal | None]


def check(call: Any, account: str) -> Refusal | None:
    """The refusal AWS would give this call now, or None. Runs before moto sees the call."""
    if not enabled() or call.access_key == INTERNAL_ACCESS_KEY:
        return None
    share = throttle_share()
    if share and GATE.random.random() < share:
        return throttling(call.service, call.json)
    handler = RULES.get((call.service, call.action))
    return handler(call, account) if handler else None


def observe(call: Any, account: str, body: bytes, context: dict[str, Any]) -> None:
    """Remember what a successful call made or deleted (its consistency windows)."""
    if not enabled():
        return
    handler = AFTER.get((call.service, call.action))
    if handler:
        handler(call, context, body)


# -- rules (before) --------------------------------------------------------------


def _rds() -> Any:
    from moto.rds.models import rds_backends

    return rds_backends


def _cluster_not_ready(account: str, region: str, identifier: str) -> Refusal | None:
    cluster = _rds()[account][region].clusters.get(identifier)
    if cluster is not None and cluster.status != "available":
        return Refusal(400, "InvalidDBClusterStateFault", f"DbCluster {identifier} is not in available state.")
    return None


def rule_cluster_state(call: Any, account: str) -> Refusal | None:
    return _cluster_not_ready(account, call.region, str(call.params.get("DBClusterIdentifier", "")))


def _instance_not_ready(account: str, region: str, identifier: str) -> Refusal | None:
    instance = _rds()[account][region].databases.get(identifier)
    if instance is not None and not_ready(instance):
        return Refusal(400, "InvalidDBInstanceState", f"Instance {identifier} is currently creating.")
    return None


def rule_proxy_targets(call: Any, account: str) -> Refusal | None:
    for key, value in call.params.items():
        if key.startswith("DBClusterIdentifiers.member."):
            refusal = _cluster_not_ready(account, call.region, str(value))
        elif key.startswith("DBInstanceIdentifiers.member."):
            refusal = _instance_not_ready(account, call.region, str(value))
        else:
            continue
        if refusal:
            return refusal
    return None


def rule_delete_db_instance(call: Any, account: str) -> Refusal | None:
    """A final snapshot of an instance that is still creating cannot be taken."""
    identifier = str(call.params.get("DBInstanceIdentifier", ""))
    if str(call.params.get("SkipFinalSnapshot", "false")).lower() == "true":
        return None
    instance = _rds()[account][call.region].databases.get(identifier)
    if instance is not None and not_ready(instance):
        return Refusal(
            400,
            "InvalidDBInstanceState",
            f"Instance {identifier} is currently creating - a final snapshot cannot be taken.",
        )
    return None


def rule_db_proxy_state(call: Any, account: str) -> Refusal | None:
    """A proxy that is still creating can be neither changed nor deleted."""
    name = str(call.params.get("DBProxyName", ""))
    proxy = _rds()[account][call.region].db_proxies.get(name)
    if proxy is not None and not_ready(proxy):
        return Refusal(
            400,
            "InvalidDBProxyStateFault",
            f"The requested operation can't be performed while the proxy {name} is in this state (creating).",
        )
    return None


def rule_create_route(call: Any, _account: str) -> Refusal | None:
    nat = str(call.params.get("NatGatewayId", ""))
    if nat and GATE.is_fresh(nat):
        return Refusal(400, "InvalidNatGatewayID.NotFound", f"The natGateway ID '{nat}' does not exist")
    return None


def rule_run_instances(call: Any, _account: str) -> Refusal | None:
    for key in ("IamInstanceProfile.Arn", "IamInstanceProfile.Name"):
        value = str(call.params.get(key, ""))
        name = value.rsplit("/", 1)[-1]
        if value and GATE.is_fresh(f"instance-profile/{name}"):
            field_name, label = ("arn", "ARN") if key.endswith("Arn") else ("name", "name")
            return Refusal(
                400,
                "InvalidParameterValue",
                f"Value ({value}) for parameter iamInstanceProfile.{field_name} is invalid. "
                f"Invalid IAM Instance Profile {label}",
            )
    return None


def rule_associate_web_acl(call: Any, account: str) -> Refusal | None:
    from moto.elbv2.models import elbv2_backends

    acl, resource = str(call.params.get("WebACLArn", "")), str(call.params.get("ResourceArn", ""))
    balancer = elbv2_backends[account][call.region].load_balancers.get(resource)
    if GATE.is_fresh(acl) or (balancer is not None and not_ready(balancer)):
        return Refusal(
            400,
            "WAFUnavailableEntityException",
            "AWS WAF couldn't retrieve the resource that you requested. Retry your request.",
        )
    return None


def rule_delete_ecs_cluster(call: Any, account: str) -> Refusal | None:
    from moto.ecs.models import ecs_backends

    name = str(call.params.get("cluster", "")).rsplit("/", 1)[-1]
    backend = ecs_backends[account][call.region]
    live = [s for key, s in backend.services.items() if key.startswith(f"{name}:") and s.status != "INACTIVE"]
    if live:
        return Refusal(
            400,
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        )
    # A one-off task (RunTask) still running or stopping.
    tasks = backend.tasks.get(name, {}).values()
    if any(getattr(t, "last_status", "STOPPED") != "STOPPED" for t in tasks):
        return Refusal(
            400,
            "ClusterContainsTasksException",
            "The Cluster cannot be deleted while Tasks are active.",
        )
    return None


def _service(call: Any, account: str, name_key: str) -> Any:
    from moto.ecs.models import ecs_backends

    cluster = str(call.params.get("cluster", "default")).rsplit("/", 1)[-1]
    name = str(call.params.get(name_key, "")).rsplit("/", 1)[-1]
    return ecs_backends[account][call.region].services.get(f"{cluster}:{name}")


def _strategy(items: Any) -> list[tuple[str, int, int]]:
    """A capacity provider strategy as ECS compares it: order aside, base and weight 0 when absent."""
    return sorted(
        (str(i.get("capacityProvider", "")), int(i.get("base") or 0), int(i.get("weight") or 0)) for i in items or []
    )


def rule_update_service(call: Any, account: str) -> Refusal | None:
    """A deleted service (DRAINING, then INACTIVE) can no longer be updated. A new capacity
    provider strategy needs a new deployment: ECS refuses the change without forceNewDeployment
    (the error kayac/ecspresso#977 and pipe-cd/pipecd#6336 quote; UpdateService reference,
    capacityProviderStrategy)."""
    svc = _service(call, account, "service")
    if svc is not None and svc.status != "ACTIVE":
        return Refusal(400, "ServiceNotActiveException", "Service was not ACTIVE.")
    wanted = call.params.get("capacityProviderStrategy")
    if (
        svc is not None
        and wanted is not None
        and not call.params.get("forceNewDeployment")
        and _strategy(wanted) != _strategy(getattr(svc, "capacity_provider_strategy", None))
    ):
        return Refusal(
            400,
            "InvalidParameterException",
            "When switching from launch type to capacity provider strategy on an existing service, or making a "
            "change to a capacity provider strategy on a service that is already using one, you must force a new "
            "deployment.",
        )
    return None


def rule_create_service(call: Any, account: str) -> Refusal | None:
    """A service of the same name that still drains blocks its re-creation."""
    svc = _service(call, account, "serviceName")
    if svc is not None and svc.status == "DRAINING":
        return Refusal(400, "InvalidParameterException", "Unable to Start a service that is still Draining.")
    return None


def rule_delete_in_use(call: Any, _account: str) -> Refusal | None:
    ident = str(call.params.get("GroupId") or call.params.get("SubnetId") or "")
    if ident and GATE.lingers(ident):
        return Refusal(400, "DependencyViolation", f"resource {ident} has a dependent object")
    return None


def rule_delete_security_group(call: Any, account: str) -> Refusal | None:
    """EC2's DeleteSecurityGroup fails with DependencyViolation while a rule of another group
    references the group (EC2 API reference, DeleteSecurityGroup): moto deletes it and leaves the
    other group's rule pointing at nothing. Then the lingering interfaces (rule_delete_in_use)."""
    ident = str(call.params.get("GroupId") or "")
    if ident:
        from moto.ec2.models import ec2_backends

        try:
            groups = [g for vpc in ec2_backends[account][call.region].groups.values() for g in vpc.values()]
        except KeyError:
            groups = []
        for group in groups:
            if group.id == ident:
                continue
            for rule in [*group.ingress_rules, *group.egress_rules]:
                if (getattr(rule, "source_group", None) or {}).get("GroupId") == ident:
                    return Refusal(400, "DependencyViolation", f"resource {ident} has a dependent object")
    return rule_delete_in_use(call, account)


RULES: dict[tuple[str, str], Before] = {
    ("rds", "ModifyDBCluster"): rule_cluster_state,
    ("rds", "DeleteDBCluster"): rule_cluster_state,
    ("rds", "RegisterDBProxyTargets"): rule_proxy_targets,
    ("rds", "DeleteDBInstance"): rule_delete_db_instance,
    ("rds", "DeleteDBProxy"): rule_db_proxy_state,
    ("rds", "ModifyDBProxy"): rule_db_proxy_state,
    ("ec2", "CreateRoute"): rule_create_route,
    ("ec2", "ReplaceRoute"): rule_create_route,
    ("ec2", "RunInstances"): rule_run_instances,
    ("wafv2", "AssociateWebACL"): rule_associate_web_acl,
    ("ecs", "DeleteCluster"): rule_delete_ecs_cluster,
    ("ecs", "UpdateService"): rule_update_service,
    ("ecs", "CreateService"): rule_create_service,
    ("ec2", "DeleteSecurityGroup"): rule_delete_security_group,
    ("ec2", "DeleteSubnet"): rule_delete_in_use,
}


# -- after -----------------------------------------------------------------------


def _xml_ids(body: bytes, tag: str) -> list[str]:
    import re

    return re.findall(rf"<{tag}>([^<]+)</{tag}>", body.decode("utf-8", "replace"))


def after_nat_gateway(call: Any, _context: dict[str, Any], body: bytes) -> None:
    for nat in _xml_ids(body, "natGatewayId"):
        GATE.remember(nat, "nat_gateway_id")


def after_instance_profile(call: Any, _context: dict[str, Any], _body: bytes) -> None:
    name = str(call.params.get("InstanceProfileName", ""))
    if name:
        GATE.remember(f"instance-profile/{name}", "instance_profile")


def after_web_acl(call: Any, _context: dict[str, Any], body: bytes) -> None:
    summary = json.loads(body or b"{}").get("Summary", {})
    if summary.get("ARN"):
        GATE.remember(summary["ARN"], "web_acl")


def after_deletion(_call: Any, context: dict[str, Any], _body: bytes) -> None:
    """A deleted service, load balancer or proxy: its interfaces linger in its subnets and groups
    (read by ``snapshot`` before moto deleted it)."""
    GATE.linger(context.get("network", []))


AFTER: dict[tuple[str, str], Callable[[Any, dict[str, Any], bytes], None]] = {
    ("ec2", "CreateNatGateway"): after_nat_gateway,
    ("iam", "CreateInstanceProfile"): after_instance_profile,
    ("iam", "AddRoleToInstanceProfile"): after_instance_profile,
    ("wafv2", "CreateWebACL"): after_web_acl,
    ("ecs", "DeleteService"): after_deletion,
    ("elasticloadbalancing", "DeleteLoadBalancer"): after_deletion,
    ("rds", "DeleteDBProxy"): after_deletion,
}


def snapshot(call: Any, account: str) -> dict[str, Any]:
    """What a deletion takes away that AWS lets linger: read before moto deletes it."""
    if not enabled():
        return {}
    key = (call.service, call.action)
    try:
        if key == ("ecs", "DeleteService"):
            svc = _service(call, account, "service")
            config = (getattr(svc, "network_configuration", None) or {}).get("awsvpcConfiguration", {})
            return {"network": [*config.get("subnets", []), *config.get("securityGroups", [])]}
        if key == ("elasticloadbalancing", "DeleteLoadBalancer"):
            from moto.elbv2.models import elbv2_backends

            lb = elbv2_backends[account][call.region].load_balancers.get(str(call.params.get("LoadBalancerArn", "")))
            if lb is not None:
                return {"network": [*(s.id for s in lb.subnets), *(lb.security_groups or [])]}
        if key == ("rds", "DeleteDBProxy"):
            proxy = _rds()[account][call.region].db_proxies.get(str(call.params.get("DBProxyName", "")))
            if proxy is not None:
                return {"network": [*proxy.vpc_subnet_ids, *proxy.vpc_security_group_ids]}
    except Exception:  # a snapshot must never fail the call
        return {}
    return {}
