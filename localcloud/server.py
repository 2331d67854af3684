"""``python -m localcloud serve``: the local cloud's one endpoint, as Ansible, boto3 and the AWS CLI see it.

One process holds the moto emulator (the AWS control plane, in memory) behind a thin WSGI layer that
sees every API call, and the controller (``localcloud.controller``) that makes what the emulator
records real on this machine: instances as test hosts, databases on PostgreSQL, ECS services and
one-off tasks as containers, load balancers as local listeners. The layer only reads the calls and,
after moto has answered, tells the controller what changed; where ECS state moves on its own on AWS
(a deployment in progress, a task that stops), the controller writes it into moto's models, because
the API has no call for it. Nothing in ``roles/`` knows any of this exists.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import secrets
import signal
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("localcloud")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class ApiCall:
    """One AWS API request: the signing service, region, action and parameters."""

    service: str
    region: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    access_key: str = ""
    json: bool = False  # a JSON protocol (X-Amz-Target): errors are JSON too


def classify(environ: dict[str, Any], body: bytes) -> ApiCall:
    """The call a request makes: service and region from the SigV4 credential scope, the action from
    ``X-Amz-Target`` (JSON protocols) or ``Action`` (query protocol), the parameters from the body."""
    service = region = access_key = ""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].strip()
        parts = scope.split("/")
        if len(parts) == 5:
            access_key, _, region, service, _ = parts
    params: dict[str, Any] = {}
    action = ""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        action = target.rsplit(".", 1)[-1]
        try:
            loaded = json.loads(body or b"{}")
            params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            params = {}
    else:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            query.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
        params = {key: values[0] for key, values in query.items()}
        action = str(params.get("Action", ""))
        # REST protocols name the action by method and path: only the ones the local cloud follows.
        path = str(environ.get("PATH_INFO", "")).rstrip("/")
        if service == "route53" and environ.get("REQUEST_METHOD") == "POST" and path.endswith("/rrset"):
            action = "ChangeResourceRecordSets"
    return ApiCall(
        service=service, region=region, action=action, params=params, access_key=access_key, json=bool(target)
    )


# Before moto: (an error answer to give instead, or None; what to remember for after).
Gate = Callable[[ApiCall], tuple[tuple[str, list[tuple[str, str]], bytes] | None, dict[str, Any]]]
Observer = Callable[[ApiCall, int, bytes, dict[str, Any]], None]


def open_gate(_call: ApiCall) -> tuple[None, dict[str, Any]]:
    return None, {}


class LocalCloudApp:
    """moto's WSGI application, behind a gate that may answer for AWS (a refusal, a throttle), with
    the controller told of every successful call after moto answered."""

    def __init__(self, inner: WsgiApp, observer: Observer, gate: Gate = open_gate) -> None:
        self.inner = inner
        self.observer = observer
        self.gate = gate

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        call = classify(environ, body)
        context: dict[str, Any] = {}
        if call.action:
            try:
                refusal, context = self.gate(call)
            except Exception:  # a fidelity bug must never fail the API call itself
                LOG.exception("localcloud: gating %s.%s failed", call.service, call.action)
                refusal = None
            if refusal is not None:
                status_line, headers, answer = refusal
                start_response(status_line, [*headers, ("Content-Length", str(len(answer)))])
                return [answer]
        status: list[int] = [0]

        def capture(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(code.split(" ", 1)[0])
            return start_response(code, headers, exc_info)

        # Drain moto's answer first: the observer must see the state after the call, and a model it
        # corrects must be corrected before the client's next call can read it.
        chunks = list(self.inner(environ, capture))
        if call.action and 200 <= status[0] < 300:
            try:
                self.observer(call, status[0], b"".join(chunks), context)
            except Exception:  # a data-plane bug must never fail the API call itself
                LOG.exception("localcloud: observing %s.%s failed", call.service, call.action)
        return chunks


# The EC2 resource types moto names differently from AWS (id prefix -> AWS's name).
EC2_RESOURCE_TYPES = {"nat": "natgateway", "eipalloc": "elastic-ip"}


def patch_moto() -> None:
    """Where moto departs from AWS in ways the controller cannot correct after the fact."""
    from moto.ecs import models as ecs_models

    from localcloud import validation

    validation.install()
    from moto.moto_api import state_manager

    # Tasks: the controller moves them (PROVISIONING .. RUNNING .. STOPPED) as their containers
    # start and stop; moto would otherwise report every task STOPPED at its first DescribeTasks.
    state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**9})

    original = ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements

    def requirements(task_definition: Any) -> dict[str, Any]:
        # Fargate task definitions size the task, not each container: moto adds None and fails RunTask.
        try:
            return dict(original(task_definition))
        except TypeError:
            return {
                "CPU": int(task_definition.cpu or 0),
                "MEMORY": int(task_definition.memory or 0),
                "PORTS": [],
                "PORTS_UDP": [],
            }

    ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(requirements)  # type: ignore[method-assign]

    from moto.ec2.models import tags as ec2_tags

    # DescribeTags names a NAT gateway's and an elastic IP's resource type as AWS does (natgateway,
    # elastic-ip: the values TagSpecifications take too); moto says nat-gateway and vpc-elastic-ip,
    # so a resource-type filter finds none of their tags and every module that tags on create
    # (amazon.aws's ensure_ec2_tags) re-tags them on every run.
    ec2_tags.EC2_PREFIX_TO_RESOURCE = {  # type: ignore[attr-defined]
        **ec2_tags.EC2_PREFIX_TO_RESOURCE,
        **EC2_RESOURCE_TYPES,
    }

    from moto.ec2.models.vpcs import VPCBackend

    modify_vpc_endpoint = VPCBackend.modify_vpc_endpoint

    def modify_vpc_endpoint_with_routes(self: Any, vpc_id: str, *args: Any, **kwargs: Any) -> None:
        # AWS adds the service's prefix-list route to a route table added to a gateway endpoint and
        # removes it from one taken off (ModifyVpcEndpoint); moto only edits the endpoint's list.
        endpoint = self.describe_vpc_endpoints(vpc_end_point_ids=[vpc_id])[0]
        before = set(endpoint.route_table_ids or [])
        modify_vpc_endpoint(self, vpc_id, *args, **kwargs)
        after = set(endpoint.route_table_ids or [])
        prefix_list = getattr(endpoint, "destination_prefix_list_id", None)
        if not prefix_list:
            return
        for table in sorted(after - before):
            self.create_route(table, None, gateway_id=endpoint.id, destination_prefix_list_id=prefix_list)
        for table in sorted(before - after):
            self.delete_route(table, None, destination_prefix_list_id=prefix_list)

    VPCBackend.modify_vpc_endpoint = modify_vpc_endpoint_with_routes  # type: ignore[method-assign]

    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    # An ENI in a VPC without DNS host names has no private DNS name: moto leaves the attribute
    # unset and RunTask (awsvpc) fails on it.
    NetworkInterface.private_dns_name = None  # type: ignore[attr-defined]

    from moto.elbv2 import models as elbv2_models

    create_load_balancer = elbv2_models.ELBv2Backend.create_load_balancer

    def named_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        # AWS names a load balancer <name>-<digits>.<region>.elb.amazonaws.com; moto always uses
        # "-1", so two local clouds holding the same stack would share a name (localcloud.elb maps it).
        lb = create_load_balancer(self, *args, **kwargs)
        if lb.dns_name.startswith(f"{lb.name}-1."):
            lb.dns_name = f"{lb.name}-{secrets.randbelow(9 * 10**9) + 10**9}.{self.region_name}.elb.amazonaws.com"
        return lb

    elbv2_models.ELBv2Backend.create_load_balancer = named_load_balancer  # type: ignore[method-assign]

    from moto.wafv2 import models as wafv2_models

    rule_init = wafv2_models.FakeRule.__init__

    def rule_with_aws_defaults(self: Any, *args: Any, **kwargs: Any) -> None:
        # AWS returns a rate-based statement's evaluation window even when the request left it out
        # (300 s, its default); moto returns the rule as sent, so a module comparing what it asks for
        # with what it reads back could not see that it would update the web ACL on every run.
        rule_init(self, *args, **kwargs)
        rate = (self.statement or {}).get("RateBasedStatement")
        if isinstance(rate, dict):
            rate.setdefault("EvaluationWindowSec", 300)

    wafv2_models.FakeRule.__init__ = rule_with_aws_defaults  # type: ignore[method-assign]

    from moto.core.responses import ActionResult
    from moto.rds import responses as rds_responses

    def modify_db_proxy(self: Any) -> ActionResult:
        # Not in moto: without it a proxy's security groups (or TLS, timeouts, role, auth) could never
        # change here, while on AWS ModifyDBProxy changes them in place.
        params = self.params
        proxy = self.backend.describe_db_proxies(db_proxy_name=params["DBProxyName"])[0]
        for key, attribute in (
            ("SecurityGroups", "vpc_security_group_ids"),
            ("RequireTLS", "require_tls"),
            ("IdleClientTimeout", "idle_client_timeout"),
            ("DebugLogging", "debug_logging"),
            ("RoleArn", "role_arn"),
            ("Auth", "auth"),
        ):
            if key in params:
                setattr(proxy, attribute, list(params[key]) if key == "SecurityGroups" else params[key])
        return ActionResult({"DBProxy": proxy})

    rds_responses.RDSResponse.modify_db_proxy = modify_db_proxy  # type: ignore[attr-defined]

    from moto.core.exceptions import ServiceException
    from moto.ecr import responses as ecr_responses

    class LayersNotFoundException(ServiceException):
        code = "LayersNotFoundException"

    def get_download_url_for_layer(self: Any) -> ActionResult:
        # Not in moto (NotImplementedError): the ECS agent's pull calls it, with the execution role's
        # session, for each layer of the image; a layer of none of the repository's images is not found.
        name, digest = self._get_param("repositoryName"), self._get_param("layerDigest")
        repository = self.ecr_backend._get_repository(name, self._get_param("registryId"))
        layers: set[str] = set()
        for image in repository.images:
            manifest = json.loads(image.image_manifest)
            layers |= {str(layer.get("digest")) for layer in manifest.get("layers", [])}
            layers.add(str((manifest.get("config") or {}).get("digest")))
        if digest not in layers:
            raise LayersNotFoundException(f"The layer {digest} does not exist in the repository {name}.")
        region = self.region
        url = f"https://prod-{region}-starport-layer-bucket.s3.{region}.amazonaws.com/{digest.replace(':', '-')}"
        return ActionResult({"downloadUrl": url, "layerDigest": digest})

    ecr_responses.ECRResponse.get_download_url_for_layer = get_download_url_for_layer  # type: ignore[method-assign]

    from moto.kms import responses as kms_responses

    def key_policy_left_to_the_gate(self: Any, key_id: str, action: str) -> None:
        # moto refuses DescribeKey to everyone as soon as its key policy has a Deny statement on kms:*,
        # whatever principal or condition the statement names; AWS applies a statement only to the
        # principals and conditions it names (a Deny of one role's sessions leaves the administrator
        # be). The gate (localcloud.iam) evaluates key policies as AWS does: leave it to that. An
        # unknown key still fails here, as before.
        self.kms_backend.describe_key(self.kms_backend.get_key_id(key_id))

    kms_responses.KmsResponse._validate_key_policy = key_policy_left_to_the_gate  # type: ignore[method-assign]

    _refuse_what_aws_refuses()


def _version(text: str) -> tuple[int, ...]:
    """An engine version as numbers ("16.10" > "16.9"); a part that is not a number counts 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in str(text).split("."))


def engine_version_refusal(engine: str, current: str, requested: str, allow_major: bool) -> str | None:
    """AWS's InvalidParameterCombination message for a ModifyDBCluster/ModifyDBInstance to
    ``requested``, or None when AWS accepts it: never a lower version (an automatic minor upgrade is
    never undone: "Cannot upgrade aurora-postgresql from 16.6 to 16.4", e.g.
    terraform-aws-modules/terraform-aws-rds-aurora#228), a new major only with AllowMajorVersionUpgrade
    (RDS API ModifyDBCluster, AllowMajorVersionUpgrade)."""
    if not requested or not current or requested == current:
        return None
    if _version(requested) < _version(current):
        return f"Cannot upgrade {engine} from {current} to {requested}"
    if _version(requested)[:1] != _version(current)[:1] and not allow_major:
        return "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version."
    return None


def _refuse_what_aws_refuses() -> None:
    """Refusals AWS always makes and moto does not (not timing: they hold with the fidelity off too)."""
    from moto.core.responses import ActionResult
    from moto.elbv2 import responses as elbv2_responses
    from moto.elbv2.exceptions import ELBClientError
    from moto.rds import responses as rds_responses
    from moto.rds.exceptions import InvalidParameterCombination

    class OperationNotPermitted(ELBClientError):
        code = "OperationNotPermitted"

    delete_load_balancer = elbv2_responses.ELBV2Response.delete_load_balancer

    def protected_delete_load_balancer(self: Any) -> ActionResult:
        # ELB API DeleteLoadBalancer: "You can't delete a load balancer if deletion protection is
        # enabled" (OperationNotPermitted); moto deletes it anyway.
        arn = self._get_param("LoadBalancerArn")
        balancer = self.elbv2_backend.load_balancers.get(arn)
        if balancer is not None and str(balancer.attrs.get("deletion_protection.enabled")).lower() == "true":
            raise OperationNotPermitted(
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        return delete_load_balancer(self)  # type: ignore[no-any-return]

    elbv2_responses.ELBV2Response.delete_load_balancer = protected_delete_load_balancer  # type: ignore[method-assign]

    def _check_version(self: Any, found: Any) -> None:
        requested = str(self._get_param("EngineVersion") or "")
        allow = str(self._get_param("AllowMajorVersionUpgrade") or "").lower() == "true"
        if found is None:
            return
        message = engine_version_refusal(str(found.engine), str(found.engine_version), requested, allow)
        if message:
            raise InvalidParameterCombination(message)

    modify_db_cluster = rds_responses.RDSResponse.modify_db_cluster
    modify_db_instance = rds_responses.RDSResponse.modify_db_instance

    def versioned_modify_db_cluster(self: Any) -> ActionResult:
        _check_version(self, self.backend.clusters.get(self._get_param("DBClusterIdentifier")))
        return modify_db_cluster(self)  # type: ignore[no-any-return]

    def versioned_modify_db_instance(self: Any) -> ActionResult:
        _check_version(self, self.backend.databases.get(self._get_param("DBInstanceIdentifier")))
        return modify_db_instance(self)  # type: ignore[no-any-return]

    rds_responses.RDSResponse.modify_db_cluster = versioned_modify_db_cluster  # type: ignore[method-assign]
    rds_responses.RDSResponse.modify_db_instance = versioned_modify_db_instance  # type: ignore[method-assign]


def serve(host: str, port: int) -> None:
    """Run the endpoint and the controller until SIGTERM or SIGINT."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from localcloud import fidelity
    from localcloud.controller import Controller

    patch_moto()
    if fidelity.enabled():
        fidelity.install()
    endpoint = f"http://{host}:{port}"
    controller = Controller(endpoint=endpoint)
    app = LocalCloudApp(DomainDispatcherApplication(create_backend_app), controller.observe, controller.gate)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)

    def stop(signum: int, _frame: Any) -> None:
        LOG.info("localcloud: signal %d, stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    controller.start()
    LOG.info("localcloud: serving %s (pid %d)", endpoint, os.getpid())
    try:
        server.serve_forever()
    finally:
        controller.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(message)s", stream=sys.stderr)
    # The request log of werkzeug is one line per API call: useful when a run needs reading.
    serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
