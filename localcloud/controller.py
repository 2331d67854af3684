"""The local cloud's controller: it follows what the emulator holds and makes it real on this machine.

``localcloud.server`` shows it every successful API call (``observe``). From the calls it learns
what changed and acts, as AWS's own machinery would, with no command from any playbook or role:

========================================  ==================================================
calls                                     what follows (module)
========================================  ==================================================
EC2 Run/Start/Stop/TerminateInstances,    test hosts, their networks, DB names and forwarders,
Secrets Manager and RDS changes           databases on PostgreSQL (``localcloud.dataplane``)
EC2 security groups and their rules,      the security groups enforced on the local cloud's
RDS Proxies, ELBv2 SetSecurityGroups      networks (``localcloud.firewall``, by the data plane)
ECS Create/Update/DeleteService           the service's tasks and deployment (``localcloud.ecs``)
ECS RunTask                               the one-off task, to its exit (``localcloud.ecs``)
ELBv2 load balancers, listeners, targets  listener processes under the DNS name (``localcloud.elb``)
========================================  ==================================================

Work runs on the controller's threads, never on the request's, except the few model corrections
that must be in place before the client's next call (a new ECS deployment). Every minute a
sweep repairs what drifted (a container that died, an interrupted pass).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from localcloud import fidelity, iam, models
from localcloud.dataplane import ROOT, DataPlane
from localcloud.ecs import Scheduler, ServiceKey
from localcloud.elb import Balancers
from localcloud.server import ApiCall

LOG = logging.getLogger("localcloud.controller")
SWEEP_SECONDS = 60.0

HOST_CALLS = {
    ("ec2", "RunInstances"),
    ("ec2", "StartInstances"),
    ("ec2", "StopInstances"),
    ("ec2", "TerminateInstances"),
    ("ec2", "DeleteKeyPair"),
    ("secretsmanager", "CreateSecret"),
    ("secretsmanager", "PutSecretValue"),
    ("secretsmanager", "UpdateSecret"),
    ("secretsmanager", "DeleteSecret"),
    ("secretsmanager", "RestoreSecret"),
    ("rds", "CreateDBCluster"),
    ("rds", "CreateDBInstance"),
    ("rds", "DeleteDBCluster"),
    ("rds", "DeleteDBInstance"),
    ("rds", "ModifyDBCluster"),
    ("rds", "ModifyDBInstance"),
    ("route53", "ChangeResourceRecordSets"),
    # Security groups, and the interfaces that carry them: the firewall follows (localcloud.firewall).
    ("ec2", "CreateSecurityGroup"),
    ("ec2", "DeleteSecurityGroup"),
    ("ec2", "AuthorizeSecurityGroupIngress"),
    ("ec2", "AuthorizeSecurityGroupEgress"),
    ("ec2", "RevokeSecurityGroupIngress"),
    ("ec2", "RevokeSecurityGroupEgress"),
    ("ec2", "ModifySecurityGroupRules"),
    ("ec2", "ModifyNetworkInterfaceAttribute"),
    ("ec2", "ModifyInstanceAttribute"),
    ("rds", "CreateDBProxy"),
    ("rds", "ModifyDBProxy"),
    ("rds", "DeleteDBProxy"),
    ("rds", "RegisterDBProxyTargets"),
    ("rds", "DeregisterDBProxyTargets"),
}
BALANCER_CALLS = {
    ("elasticloadbalancing", action)
    for action in (
        "CreateLoadBalancer",
        "DeleteLoadBalancer",
        "SetSecurityGroups",
        "CreateListener",
        "ModifyListener",
        "DeleteListener",
        "ModifyTargetGroup",
        "ModifyTargetGroupAttributes",
        "ModifyLoadBalancerAttributes",
        "DeleteTargetGroup",
        "RegisterTargets",
        "DeregisterTargets",
    )
} | {("acm", "ImportCertificate"), ("acm", "DeleteCertificate")}
# The web ACL the listener applies: its association and its rules.
BALANCER_CALLS |= {
    ("wafv2", action) for action in ("AssociateWebACL", "DisassociateWebACL", "UpdateWebACL", "DeleteWebACL")
}


class Controller:
    def __init__(self, endpoint: str, project: str | None = None, state_dir: Path | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.project = project or os.environ.get("LOCALCLOUD_PROJECT", "resume")
        self.state_dir = state_dir or Path(os.environ.get("LOCALCLOUD_DATAPLANE_DIR", ROOT / ".state" / "dataplane"))
        self.account = os.environ.get("LOCALCLOUD_ACCOUNT", "123456789012")
        self.scheduler = Scheduler(self)
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.dirty: set[tuple[str, str]] = set()  # (kind, region)
        self.regions: set[str] = set()
        self.lock = threading.Lock()
        self.balancer_lock = threading.Lock()
        self.planes: dict[str, DataPlane] = {}
        self.thread = threading.Thread(target=self.loop, name="controller", daemon=True)

    # -- wiring ----------------------------------------------------------------
    def plane(self, region: str) -> DataPlane:
        with self.lock:
            if region not in self.planes:
                self.planes[region] = DataPlane(
                    endpoint=self.endpoint,
                    region=region,
                    project=self.project,
                    state_dir=self.state_dir,
                    access_key=fidelity.INTERNAL_ACCESS_KEY,
                )
            return self.planes[region]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.scheduler.stop()

    def mark(self, kind: str, region: str) -> None:
        with self.lock:
            self.dirty.add((kind, region))
            self.regions.add(region)
        self.wake.set()

    # -- the API layer's view ----------------------------------------------------
    def gate(self, call: ApiCall) -> tuple[tuple[str, list[tuple[str, str]], bytes] | None, dict[str, Any]]:
        """Before moto: AWS's refusal of this call now (fidelity), and what a deletion takes away."""
        account = self.account_of(call)
        refusal = None
        if fidelity.enabled() and call.access_key != fidelity.INTERNAL_ACCESS_KEY:
            refusal = iam.authorize(call, account)  # a role session's or IAM user's call (localcloud.iam)
        refusal = refusal or fidelity.check(call, account)
        if refusal is not None:
            LOG.info("fidelity: %s.%s answered %s", call.service, call.action, refusal.code)
            return fidelity.render(call.service, call.json, refusal), {}
        return None, fidelity.snapshot(call, account)

    def observe(self, call: ApiCall, _status: int, body: bytes, context: dict[str, Any] | None = None) -> None:
        region = call.region or "us-east-1"
        key = (call.service, call.action)
        fidelity.observe(call, self.account_of(call), body, context or {})
        if key in HOST_CALLS:
            self.mark("hosts", region)
        elif key in BALANCER_CALLS:
            self.mark("balancers", region)
        elif call.service == "ecs":
            self.observe_ecs(call, region, body)

    def account_of(self, call: ApiCall) -> str:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(call.access_key) if call.access_key else self.account

    def observe_ecs(self, call: ApiCall, region: str, body: bytes) -> None:
        account = self.account_of(call)
        cluster = str(call.params.get("cluster", "default")).rsplit("/", 1)[-1]
        if call.action in ("CreateService", "UpdateService", "DeleteService"):
            name = str(call.params.get("serviceName") or call.params.get("service", "")).rsplit("/", 1)[-1]
            with models.LOCK:
                svc = models.service(account, region, cluster, name)
                if svc is not None and call.action == "CreateService":
                    models.keep_what_moto_drops(svc, call.params)
                elif svc is not None and call.action == "UpdateService":
                    self.after_update_service(svc, call.params)
                elif svc is not None and call.action == "DeleteService" and fidelity.enabled():
                    # AWS: DRAINING until the tasks stopped, then INACTIVE (the scheduler moves it on).
                    svc.status = "DRAINING"
                    svc._lc_drained_at = fidelity.now() + fidelity.BEHAVIOURS["service_drain"].local_seconds
            self.scheduler.service_changed(ServiceKey(account, region, cluster, name))
        elif call.action == "RunTask":
            arns = [t["taskArn"] for t in json.loads(body or b"{}").get("tasks", [])]
            with models.LOCK:
                for arn in arns:
                    tsk = models.task(account, region, cluster, arn)
                    if tsk is not None:
                        models.set_task_status(tsk, "PROVISIONING")
            self.scheduler.run_tasks(account, region, cluster, arns, call.params)

    @staticmethod
    def after_update_service(svc: Any, params: dict[str, Any]) -> None:
        """What ECS does on UpdateService and moto does not: a new revision (or a forced one) starts
        a new deployment; a new desired count only moves the PRIMARY one's target. moto also claims
        the new desired count runs at once: the scheduler's counts stand instead."""
        deployment = models.primary(svc)
        running = int(deployment.get("runningCount", 0)) if deployment else 0
        if (
            deployment is None
            or deployment.get("taskDefinition") != svc.task_definition
            or params.get("forceNewDeployment")
        ):
            models.start_deployment(svc)
        else:
            deployment["desiredCount"] = svc.desired_count
            if running != svc.desired_count and deployment.get("rolloutState") == "COMPLETED":
                deployment["pendingCount"] = max(svc.desired_count - running, 0)
        svc.running_count = running
        svc.pending_count = max(svc.desired_count - running, 0)

    def booting(self, region: str, instance_id: str) -> bool:
        """True while a running instance is still booting (fidelity): its test host comes later, and
        the controller looks again then."""
        remaining = fidelity.boot_remaining(self.account, region, instance_id)
        if remaining > 0:
            timer = threading.Timer(remaining + 0.2, self.mark, args=("hosts", region))
            timer.daemon = True
            timer.start()
        return remaining > 0

    def follow_databases(self, region: str) -> None:
        """A database still creating (fidelity) becomes reachable when it is available: look again then."""
        remaining = fidelity.database_ready_in(self.account, region)
        if remaining is not None:
            timer = threading.Timer(remaining + 0.2, self.mark, args=("hosts", region))
            timer.daemon = True
            timer.start()

    def balancers_changed(self, region: str, *, wait: bool = False) -> None:
        """Called by the scheduler when targets moved; with ``wait``, synchronously, so that traffic
        reaches the new targets before the old tasks stop."""
        if wait:
            self.sync_balancers(region)
            time.sleep(1.0)  # the listener re-reads its config on its next connection
        else:
            self.mark("balancers", region)

    # -- the loop ------------------------------------------------------------------
    def loop(self) -> None:
        last_sweep = time.monotonic()
        while not self.stopping.is_set():
            self.wake.wait(timeout=2.0)
            self.wake.clear()
            if time.monotonic() - last_sweep > SWEEP_SECONDS:
                last_sweep = time.monotonic()
                with self.lock:
                    self.dirty |= {(kind, region) for region in self.regions for kind in ("hosts", "balancers")}
                self.scheduler.sweep()
            with self.lock:
                work, self.dirty = sorted(self.dirty), set()
            for kind, region in work:
                try:
                    if kind == "hosts":
                        changes = self.plane(region).sync(hold=lambda i, r=region: self.booting(r, i))
                        self.plane(region).changes.clear()
                        self.follow_databases(region)
                    else:
                        changes = self.sync_balancers(region)
                    for change in changes:
                        LOG.info("changed: %s", change)
                except Exception:
                    LOG.exception("localcloud: %s in %s failed; retrying", kind, region)
                    time.sleep(1.0)
                    self.mark(kind, region)

    def sync_balancers(self, region: str) -> list[str]:
        with self.balancer_lock:
            return Balancers(self.plane(region), self.account, self.scheduler.checked_targets).sync()
