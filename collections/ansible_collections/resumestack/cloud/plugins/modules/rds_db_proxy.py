#!/usr/bin/python
# ruff: noqa: EXE001  (ansible-test requires the shebang on a non-executable module)

# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rds_db_proxy
version_added: 1.0.0
short_description: Manage an Amazon RDS Proxy
description:
  - Create, update or delete an RDS Proxy and register a DB cluster or DB instance in its C(default) target group.
  - The proxy is described first; only differences are applied. Mutable settings (O(auth), O(role_arn),
    O(vpc_security_group_ids), O(require_tls), O(idle_client_timeout), O(debug_logging)) are changed in place with
    C(ModifyDBProxy). O(engine_family) and O(vpc_subnet_ids) cannot be changed by AWS; a difference is reported as an
    error (the module never silently recreates a proxy, since that would change its endpoint).
  - Targets are only ever registered, never deregistered; a target that is already registered is left alone.
  - "IAM permissions needed by the caller: C(rds:DescribeDBProxies), C(rds:CreateDBProxy), C(rds:ModifyDBProxy),
    C(rds:DeleteDBProxy), C(rds:DescribeDBProxyTargets), C(rds:RegisterDBProxyTargets), C(rds:ListTagsForResource),
    C(rds:AddTagsToResource), C(rds:RemoveTagsFromResource), C(iam:PassRole) on O(role_arn), plus
    C(ec2:DescribeSubnets), C(ec2:DescribeVpcs), C(ec2:DescribeSecurityGroups) and C(ec2:CreateNetworkInterface)
    family used by the service. The proxy role (O(role_arn)) must trust C(rds.amazonaws.com) and be allowed
    C(secretsmanager:GetSecretValue) on the secrets in O(auth) (and C(kms:Decrypt) on their key if it is a CMK)."
author:
  - ResumeStack maintainers (@resumestack)
options:
  name:
    description:
      - Name of the proxy (C(DBProxyName)).
    type: str
    required: true
    aliases: ['db_proxy_name']
  state:
    description:
      - Desired state of the proxy.
    type: str
    choices: ['present', 'absent']
    default: present
  engine_family:
    description:
      - Database engine family. Immutable.
    type: str
    choices: ['POSTGRESQL', 'MYSQL', 'SQLSERVER']
    default: POSTGRESQL
  auth:
    description:
      - Authorization mechanisms the proxy uses to connect to the database (one entry per Secrets Manager secret).
      - Required when the proxy is created. When set on an existing proxy it is compared (by O(auth[].secret_arn))
        and replaced as a whole with C(ModifyDBProxy) on any difference.
    type: list
    elements: dict
    suboptions:
      secret_arn:
        description: ARN of the Secrets Manager secret holding the database credentials.
        type: str
        required: true
      auth_scheme:
        description: Authentication scheme.
        type: str
        choices: ['SECRETS']
        default: SECRETS
      iam_auth:
        description: Whether clients must use IAM authentication to connect to the proxy.
        type: str
        choices: ['DISABLED', 'REQUIRED', 'ENABLED']
        default: DISABLED
      client_password_auth_type:
        description:
          - Client-to-proxy password authentication. When omitted AWS picks the engine default and it is not compared.
        type: str
        choices:
          - MYSQL_NATIVE_PASSWORD
          - MYSQL_CACHING_SHA2_PASSWORD
          - POSTGRES_SCRAM_SHA_256
          - POSTGRES_MD5
          - SQL_SERVER_AUTHENTICATION
      description:
        description: Free-form description of this auth entry. Not compared when omitted.
        type: str
  role_arn:
    description:
      - ARN of the IAM role the proxy uses to read the secrets. Required when the proxy is created.
    type: str
  vpc_subnet_ids:
    description:
      - Subnets the proxy runs in (at least two AZs). Required when the proxy is created. Immutable.
    type: list
    elements: str
  vpc_security_group_ids:
    description:
      - Security groups of the proxy. When omitted on creation AWS uses the VPC default security group.
    type: list
    elements: str
  require_tls:
    description:
      - Whether client connections to the proxy must use TLS.
    type: bool
    default: true
  idle_client_timeout:
    description:
      - Seconds a client connection may stay idle before the proxy closes it (1 - 28800). Not compared when omitted.
    type: int
  debug_logging:
    description:
      - Whether the proxy logs detailed SQL statement information. Not compared when omitted.
    type: bool
  target_cluster_identifier:
    description:
      - Aurora DB cluster to register in the C(default) target group.
    type: str
  target_instance_identifier:
    description:
      - RDS DB instance to register in the C(default) target group.
    type: str
  wait:
    description:
      - Wait for the proxy to reach status C(available) (O(state=present)) or to be gone (O(state=absent)).
      - Registering a target always waits for C(available) first, because AWS rejects it on a proxy that is still
        being created.
    type: bool
    default: true
  wait_timeout:
    description:
      - Maximum seconds to wait.
    type: int
    default: 900
notes:
  - Supports C(check_mode) (no API writes) and C(diff_mode).
  - Member of the action group C(resumestack.cloud.aws), which extends C(amazon.aws.aws) and C(community.aws.aws);
    use C(module_defaults) on C(group/resumestack.cloud.aws) to share credentials, region and endpoint with every AWS
    module. C(group/amazon.aws.aws) and C(group/aws) do B(not) reach this module.
  - The moto emulator (5.2.5) does not implement C(ModifyDBProxy); against it the module fails with an explicit
    message when an in-place update is needed. Creation, tagging, targets and deletion work.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: RDS Proxy in front of the Aurora PostgreSQL cluster
  resumestack.cloud.rds_db_proxy:
    name: resumestack-db
    engine_family: POSTGRESQL
    auth:
      - secret_arn: "{{ db_secret.arn }}"
        iam_auth: REQUIRED
        client_password_auth_type: POSTGRES_SCRAM_SHA_256
    role_arn: "{{ proxy_role.iam_role.arn }}"
    vpc_subnet_ids: "{{ private_subnet_ids }}"
    vpc_security_group_ids: ["{{ proxy_sg.group_id }}"]
    require_tls: true
    idle_client_timeout: 1800
    target_cluster_identifier: resumestack-aurora
    tags:
      Project: resumestack
  register: proxy

- name: Use the endpoint
  ansible.builtin.debug:
    msg: "{{ proxy.db_proxy.endpoint }}"

- name: Delete the proxy and wait until it is gone
  resumestack.cloud.rds_db_proxy:
    name: resumestack-db
    state: absent
"""

RETURN = r"""
db_proxy:
  description:
    - The proxy as returned by C(DescribeDBProxies), keys in snake_case, plus C(tags) and C(targets).
    - Empty dict when O(state=absent).
    - In check mode, when the proxy would be created, contains the requested settings only.
  returned: always
  type: dict
  contains:
    db_proxy_name:
      description: Name of the proxy.
      type: str
      sample: resumestack-db
    db_proxy_arn:
      description: ARN of the proxy.
      type: str
      sample: arn:aws:rds:eu-west-1:123456789012:db-proxy:prx-0123456789abcdef
    status:
      description: Proxy status.
      type: str
      sample: available
    endpoint:
      description: DNS name clients connect to.
      type: str
      sample: resumestack-db.proxy-abcdefghij.eu-west-1.rds.amazonaws.com
    engine_family:
      description: Engine family.
      type: str
      sample: POSTGRESQL
    vpc_id:
      description: VPC of the proxy.
      type: str
    vpc_subnet_ids:
      description: Subnets.
      type: list
      elements: str
    vpc_security_group_ids:
      description: Security groups.
      type: list
      elements: str
    auth:
      description: Auth entries.
      type: list
      elements: dict
    role_arn:
      description: IAM role of the proxy.
      type: str
    require_tls:
      description: Whether TLS is required.
      type: bool
    idle_client_timeout:
      description: Idle client timeout in seconds.
      type: int
    debug_logging:
      description: Whether debug logging is enabled.
      type: bool
    tags:
      description: Tags of the proxy.
      type: dict
      sample: {"Project": "resumestack"}
    targets:
      description: Targets of the C(default) target group (C(DescribeDBProxyTargets)), snake_case.
      type: list
      elements: dict
      sample: [{"rds_resource_id": "resumestack-aurora", "type": "TRACKED_CLUSTER", "port": 5432}]
"""

import time
from collections.abc import Callable
from typing import Any

try:
    import botocore.parsers
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.resumestack.cloud.plugins.module_utils.errors import (
    aws_call,
    aws_errors,
    aws_paginate,
    retrying_client,
)
from ansible_collections.resumestack.cloud.plugins.module_utils.results import Outcome, snake_resource
from ansible_collections.resumestack.cloud.plugins.module_utils.tags import (
    ensure_rds_resource_tags,
    rds_resource_tags,
)

Proxy = dict[str, Any]
Target = tuple[str, str]  # (target type, identifier)

# A server that does not implement an operation (moto answers with an HTML 500 page) surfaces as a
# ResponseParserError or as a ClientError with one of these codes.
NOT_IMPLEMENTED_CODES = ("NotImplemented", "InternalFailure", "InternalError", "500")

AUTH_FIELDS = (
    # (module suboption, API key)
    ("secret_arn", "SecretArn"),
    ("auth_scheme", "AuthScheme"),
    ("iam_auth", "IAMAuth"),
    ("client_password_auth_type", "ClientPasswordAuthType"),
    ("description", "Description"),
)

IMMUTABLE = (
    # (API key, module option): AWS cannot change these, and recreating the proxy would change its endpoint.
    ("EngineFamily", "engine_family"),
    ("VpcSubnetIds", "vpc_subnet_ids"),
)

MUTABLE = (
    # (API key in DescribeDBProxies, module option, ModifyDBProxy argument). Auth is compared on its own (per secret).
    ("RoleArn", "role_arn", "RoleArn"),
    ("VpcSecurityGroupIds", "vpc_security_group_ids", "SecurityGroups"),
    ("RequireTLS", "require_tls", "RequireTLS"),
    ("IdleClientTimeout", "idle_client_timeout", "IdleClientTimeout"),
    ("DebugLogging", "debug_logging", "DebugLogging"),
)
MODIFY_ARGUMENT = {api: argument for api, _, argument in MUTABLE}

# What diff mode shows of a proxy: everything the module manages.
VIEW_KEYS = tuple(api for api, _ in IMMUTABLE) + ("Auth",) + tuple(api for api, _, _ in MUTABLE)


def differs(current: Any, wanted: Any) -> bool:
    """Whether a requested setting differs; lists (subnets, security groups) are sets to AWS."""
    if isinstance(wanted, list):
        return set(wanted) != set(current or [])
    return wanted != current


def shown(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


class ProxyManager:
    def __init__(self, module: AnsibleAWSModule) -> None:
        self.module = module
        self.params = module.params
        self.name: str = module.params["name"]
        self.client = retrying_client(module, "rds")
        self.outcome = Outcome(module)

    # ---------------------------------------------------------------- reads
    def describe(self) -> Proxy | None:
        found = aws_call(
            self.module,
            f"Failed to describe DB proxy {self.name}",
            self.client.describe_db_proxies,
            DBProxyName=self.name,
            ignore_codes=("DBProxyNotFoundFault",),
        )
        proxies = (found or {}).get("DBProxies", [])
        return proxies[0] if proxies else None

    def describe_targets(self) -> list[dict[str, Any]]:
        result = aws_paginate(
            self.module,
            f"Failed to describe targets of DB proxy {self.name}",
            self.client,
            "describe_db_proxy_targets",
            DBProxyName=self.name,
            TargetGroupName="default",
            ignore_codes=("DBProxyNotFoundFault", "DBProxyTargetGroupNotFoundFault"),
        )
        return result.get("Targets", [])

    def wait_for(self, predicate: Callable[[Proxy | None], bool], what: str) -> Proxy | None:
        deadline = time.time() + self.params["wait_timeout"]
        delay = 2
        while True:
            proxy = self.describe()
            if predicate(proxy):
                return proxy
            if time.time() + delay > deadline:
                status = proxy.get("Status") if proxy else "deleted"
                self.module.fail_json(
                    msg=f"Timed out after {self.params['wait_timeout']}s waiting for DB proxy {self.name} {what} "
                    f"(last status: {status})"
                )
            time.sleep(delay)
            delay = min(delay * 2, 15)

    def wait_available(self) -> Proxy:
        return self.wait_for(lambda p: p is not None and p.get("Status") == "available", "to become available")

    # ---------------------------------------------------------------- compare
    def desired_auth(self) -> list[dict[str, Any]] | None:
        if self.params["auth"] is None:
            return None
        return [
            {api: entry[opt] for opt, api in AUTH_FIELDS if entry.get(opt) is not None} for entry in self.params["auth"]
        ]

    def auth_differs(self, current_auth: list[dict[str, Any]] | None) -> bool:
        desired = self.desired_auth()
        if desired is None:
            return False
        current = {a.get("SecretArn"): a for a in current_auth or []}
        if set(current) != {d["SecretArn"] for d in desired}:
            return True
        # Only compare keys the user set (AWS fills in engine defaults for the rest).
        return any(current[d["SecretArn"]].get(k) != v for d in desired for k, v in d.items())

    def requested(self) -> Proxy:
        """The settings the options ask for, keyed as DescribeDBProxies returns them; unset options left out."""
        wanted = {api: self.params[opt] for api, opt in IMMUTABLE}
        wanted["Auth"] = self.desired_auth()
        wanted.update({api: self.params[opt] for api, opt, _ in MUTABLE})
        return {k: v for k, v in wanted.items() if v is not None}

    def fail_immutable(self, proxy: Proxy) -> None:
        wanted = self.requested()
        errors = [
            f"{opt} {shown(proxy.get(api))} -> {shown(wanted[api])}"
            for api, opt in IMMUTABLE
            if api in wanted and differs(proxy.get(api), wanted[api])
        ]
        if errors:
            self.module.fail_json(
                msg=f"DB proxy {self.name} exists with immutable settings that differ: {'; '.join(errors)}. "
                "Delete it (state=absent) and create it again, or use a new name."
            )

    def changes(self, proxy: Proxy) -> Proxy:
        """The mutable settings that differ, keyed as DescribeDBProxies returns them."""
        wanted = self.requested()
        changes = {api: wanted[api] for api, _, _ in MUTABLE if api in wanted and differs(proxy.get(api), wanted[api])}
        if self.auth_differs(proxy.get("Auth")):
            changes["Auth"] = wanted["Auth"]
        return changes

    def wanted_target(self) -> Target | None:
        if self.params["target_cluster_identifier"]:
            return "TRACKED_CLUSTER", self.params["target_cluster_identifier"]
        if self.params["target_instance_identifier"]:
            return "RDS_INSTANCE", self.params["target_instance_identifier"]
        return None

    @staticmethod
    def target_registered(targets: list[dict[str, Any]], wanted: Target) -> bool:
        kind, ident = wanted
        return any(t.get("RdsResourceId") == ident and t.get("Type", kind) == kind for t in targets)

    @staticmethod
    def view(proxy: Proxy | None, tags: dict[str, str], targets: list[dict[str, Any]]) -> dict[str, Any]:
        """Reduced representation used in diff output."""
        if not proxy:
            return {}
        settings = camel_dict_to_snake_dict({k: proxy[k] for k in VIEW_KEYS if k in proxy})
        return {**settings, "tags": tags, "targets": sorted(t.get("RdsResourceId") for t in targets)}

    @staticmethod
    def output(proxy: Proxy | None, tags: dict[str, str], targets: list[dict[str, Any]]) -> dict[str, Any]:
        if not proxy:
            return {}
        return {**snake_resource(proxy), "tags": tags, "targets": [camel_dict_to_snake_dict(t) for t in targets]}

    def planned(self) -> Proxy:
        """What a proxy created by this run will look like (used in check mode)."""
        defaults = {"Auth": [], "RoleArn": None, "VpcSubnetIds": [], "VpcSecurityGroupIds": []}
        return {"DBProxyName": self.name, **defaults, **self.requested()}

    # ---------------------------------------------------------------- writes
    def create(self) -> Proxy:
        missing = [k for k in ("auth", "role_arn", "vpc_subnet_ids") if not self.params[k]]
        if missing:
            self.module.fail_json(msg=f"DB proxy {self.name} does not exist; to create it set: {', '.join(missing)}")
        request = {"DBProxyName": self.name, **self.requested()}
        if not request.get("VpcSecurityGroupIds"):
            request.pop("VpcSecurityGroupIds", None)  # AWS then uses the VPC's default security group
        if self.params["tags"]:
            request["Tags"] = ansible_dict_to_boto3_tag_list(self.params["tags"])
        created = aws_call(
            self.module, f"Failed to create DB proxy {self.name}", self.client.create_db_proxy, **request
        )
        return created["DBProxy"]

    def modify(self, changes: Proxy) -> None:
        request = {MODIFY_ARGUMENT.get(k, k): v for k, v in changes.items()}
        with aws_errors(self.module, f"Failed to modify DB proxy {self.name}"):
            try:
                self.client.modify_db_proxy(aws_retry=True, DBProxyName=self.name, **request)
            # An emulator answers an operation it lacks with a non-AWS (HTML) error page or a 500 code.
            except (is_boto3_error_code(NOT_IMPLEMENTED_CODES), botocore.parsers.ResponseParserError) as e:
                self.fail_not_implemented("ModifyDBProxy", request, e)

    def fail_not_implemented(self, operation: str, request: dict[str, Any], error: Exception) -> None:
        self.module.fail_json(
            msg=f"The endpoint does not implement {operation} (an AWS emulator such as moto 5.2.5 lacks it), so the "
            f"in-place update of DB proxy {self.name} ({', '.join(sorted(request))}) cannot be applied: {error}",
            changed=self.outcome.changed,
        )

    def register_target(self, wanted: Target) -> None:
        kind, ident = wanted
        key = "DBClusterIdentifiers" if kind == "TRACKED_CLUSTER" else "DBInstanceIdentifiers"
        aws_call(
            self.module,
            f"Failed to register {ident} as target of DB proxy {self.name}",
            self.client.register_db_proxy_targets,
            DBProxyName=self.name,
            TargetGroupName="default",
            ignore_codes=("DBProxyTargetAlreadyRegisteredFault",),
            **{key: [ident]},
        )

    def delete(self) -> None:
        aws_call(
            self.module,
            f"Failed to delete DB proxy {self.name}",
            self.client.delete_db_proxy,
            DBProxyName=self.name,
            ignore_codes=("DBProxyNotFoundFault",),
        )

    # ---------------------------------------------------------------- states
    def update(self, proxy: Proxy, tags: dict[str, str]) -> tuple[Proxy, dict[str, str]]:
        """Applies mutable settings and tags to an existing proxy; returns it (planned in check mode) and its tags."""
        self.fail_immutable(proxy)
        changes = self.changes(proxy)
        if self.outcome.record(bool(changes)):
            if self.module.check_mode:
                proxy = {**proxy, **changes}
            else:
                if proxy.get("Status") in ("creating", "modifying"):
                    # AWS refuses to change a proxy in transition (InvalidDBProxyStateFault).
                    self.wait_available()
                self.modify(changes)
        tags_changed, tags = ensure_rds_resource_tags(self.client, self.module, proxy["DBProxyArn"], tags)
        self.outcome.record(tags_changed)
        return proxy, tags

    def ensure_target(self, proxy: Proxy, targets: list[dict[str, Any]]) -> tuple[Proxy, list[dict[str, Any]]]:
        wanted = self.wanted_target()
        if not wanted or self.target_registered(targets, wanted):
            return proxy, targets
        self.outcome.record(True)
        if self.module.check_mode:
            return proxy, targets + [{"RdsResourceId": wanted[1], "Type": wanted[0]}]
        if proxy.get("Status") != "available":
            # AWS refuses to register a target on a proxy that is still being created.
            proxy = self.wait_available()
        self.register_target(wanted)
        return proxy, targets

    def ensure_present(self) -> None:
        proxy = self.describe()
        tags = rds_resource_tags(self.client, self.module, proxy["DBProxyArn"]) if proxy else {}
        targets = self.describe_targets() if proxy else []
        before = self.view(proxy, tags, targets)

        if proxy is None:
            self.outcome.record(True)
            tags = self.params["tags"] or {}
            if self.module.check_mode:
                wanted = self.wanted_target()
                planned_targets = [{"RdsResourceId": wanted[1], "Type": wanted[0]}] if wanted else []
                return self.finish(before, self.planned(), tags, planned_targets)
            proxy = self.create()
        else:
            proxy, tags = self.update(proxy, tags)
        proxy, targets = self.ensure_target(proxy, targets)

        if not self.module.check_mode and self.outcome.changed:
            proxy = self.wait_available() if self.params["wait"] else (self.describe() or proxy)
            targets = self.describe_targets()
        elif not self.module.check_mode and self.params["wait"] and proxy.get("Status") != "available":
            proxy = self.wait_available()
        return self.finish(before, proxy, tags, targets)

    def ensure_absent(self) -> None:
        proxy = self.describe()
        if proxy is None:
            return self.finish({}, None, {}, [])
        before = self.view(
            proxy, rds_resource_tags(self.client, self.module, proxy["DBProxyArn"]), self.describe_targets()
        )
        self.outcome.record(True)
        if not self.module.check_mode:
            if proxy.get("Status") in ("creating", "modifying"):
                # AWS refuses to delete a proxy in transition (InvalidDBProxyStateFault).
                self.wait_available()
            if proxy.get("Status") != "deleting":
                self.delete()
            if self.params["wait"]:
                self.wait_for(lambda p: p is None, "to be deleted")
        return self.finish(before, None, {}, [])

    def finish(
        self, before: dict[str, Any], proxy: Proxy | None, tags: dict[str, str], targets: list[dict[str, Any]]
    ) -> None:
        self.outcome.exit(before, self.view(proxy, tags, targets), db_proxy=self.output(proxy, tags, targets))


def main() -> None:
    auth_spec = {
        "secret_arn": {"type": "str", "required": True, "no_log": False},
        "auth_scheme": {"type": "str", "default": "SECRETS", "choices": ["SECRETS"]},
        "iam_auth": {"type": "str", "default": "DISABLED", "choices": ["DISABLED", "REQUIRED", "ENABLED"]},
        "client_password_auth_type": {
            "type": "str",
            "choices": [
                "MYSQL_NATIVE_PASSWORD",
                "MYSQL_CACHING_SHA2_PASSWORD",
                "POSTGRES_SCRAM_SHA_256",
                "POSTGRES_MD5",
                "SQL_SERVER_AUTHENTICATION",
            ],
        },
        "description": {"type": "str"},
    }
    argument_spec = {
        "name": {"type": "str", "required": True, "aliases": ["db_proxy_name"]},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "engine_family": {"type": "str", "default": "POSTGRESQL", "choices": ["POSTGRESQL", "MYSQL", "SQLSERVER"]},
        "auth": {"type": "list", "elements": "dict", "options": auth_spec},
        "role_arn": {"type": "str"},
        "vpc_subnet_ids": {"type": "list", "elements": "str"},
        "vpc_security_group_ids": {"type": "list", "elements": "str"},
        "require_tls": {"type": "bool", "default": True},
        "idle_client_timeout": {"type": "int"},
        "debug_logging": {"type": "bool"},
        "target_cluster_identifier": {"type": "str"},
        "target_instance_identifier": {"type": "str"},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 900},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("target_cluster_identifier", "target_instance_identifier")],
        supports_check_mode=True,
    )
    if module.params["idle_client_timeout"] is not None and not 1 <= module.params["idle_client_timeout"] <= 28800:
        module.fail_json(msg="idle_client_timeout must be between 1 and 28800 seconds")

    manager = ProxyManager(module)
    if module.params["state"] == "present":
        manager.ensure_present()
    else:
        manager.ensure_absent()


if __name__ == "__main__":
    main()
