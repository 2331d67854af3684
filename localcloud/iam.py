"""IAM enforced by the local cloud: calls signed with a role session's or an IAM user's keys are
authorized against that principal's policies, as AWS does; the local cloud's own keys stay unrestricted.

moto can authorize requests (``INITIAL_NO_AUTH_ACTION_COUNT``, ``moto.iam.access_control``) but only
all or nothing, for every key, and with gaps that would let a missing permission pass: only SQS, STS
and S3 name the resource they check (every other service checks ``*``), ``NotResource`` is ignored,
an Allow whose condition does not hold counts as an explicit Deny, conditions are read from the
request's parameters only (``StringEquals``), and no resource-based policy (a KMS key policy) is
consulted. So the local cloud evaluates the policies itself, before moto sees the call
(``localcloud.server`` -> ``Controller.gate``), reading the principals and policies from moto's IAM
and STS models:

* **Who.** The access key of an STS session (AssumeRole: ``ASIA...``) -> the role's session; of an
  IAM user -> the user (and its groups). Any other key (the playbooks' admin keys, the controller's
  own) is not an IAM principal of the emulator: unrestricted, as before.
* **What.** The identity-based policies: inline and attached managed ones, AWS managed ones included
  (moto ships their documents). Explicit Deny wins, then an Allow, else the implicit deny. Action and
  NotAction (case-insensitive, ``*`` and ``?``), Resource and NotResource against the ARN of the
  resource the call targets (``requests``), conditions with the operators in ``OPERATORS`` over the
  context keys the local cloud knows (``aws:PrincipalArn``, ``aws:PrincipalAccount``,
  ``aws:RequestedRegion``, ``kms:ViaService``, ``kms:CallerAccount``, ``aws:RequestTag/<key>`` of
  the tags an EC2, ECS or KMS create call carries (``request_tags``), and for a service's
  AssumeRole ``aws:SourceArn``/``aws:SourceAccount``); a key it does not know is absent, as AWS
  treats an absent key (``...IfExists``, ``Null``, the negated operators and ``ForAllValues`` hold
  then). An operator it does not implement applies a Deny and never grants an Allow (logged).
* **KMS.** A call on a secret, queue or parameter encrypted with a customer managed key needs the
  key's permission too (``kms:Decrypt`` / ``kms:GenerateDataKey`` with ``kms:ViaService``), and the
  key policy must allow it: directly, or by delegating to the account (``arn:...:root``) and an
  identity policy allowing it. AWS managed keys (``alias/aws/...``) need nothing more.
* **Not enforced** (said in the README): resource-based policies other than KMS key policies (queue,
  secret, bucket policies), permission boundaries, session policies, SCPs, REST-protocol services
  (S3, whose calls the local cloud does not classify), the session's expiry and token.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from localcloud.fidelity import Refusal

LOG = logging.getLogger(__name__)

PARTITION = "aws"

# The IAM service prefix where it differs from the SigV4 signing name.
PREFIXES = {"monitoring": "cloudwatch", "email": "ses"}


class Decision(Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


@dataclass(frozen=True)
class Principal:
    """The caller behind an access key: its ARN as AWS names it in errors, and its policies."""

    arn: str  # arn:aws:sts::<acct>:assumed-role/<role>/<session> or arn:aws:iam::<acct>:user/<name>
    account: str
    entity_arn: str  # the role's or user's own ARN (aws:PrincipalArn)
    documents: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Request:
    """One permission a call needs: an action on a resource (None: the action is checked for any
    resource), with its extra context keys."""

    action: str
    resource: str | None
    context: dict[str, str] = field(default_factory=dict)
    # A key policy to satisfy as well (KMS): (key ARN, the key's policy document).
    key_policy: dict[str, Any] | None = None
    # How the service names the refusal when this request (a KMS key behind another service) fails.
    via: str = ""
    # Whether the request's tags (aws:RequestTag/<key>) are in this request's context: only for the
    # resource the call creates, not for the existing ones it uses (a NAT gateway's subnet and address).
    tagged: bool = True


# ----------------------------------------------------------------------------- matching


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _action_matches(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(p, action, ignore_case=True) for p in _listed(statement["NotAction"]))
    return any(_glob(p, action, ignore_case=True) for p in _listed(statement.get("Action")))


def _resource_matches(statement: dict[str, Any], resource: str | None) -> bool:
    if resource is None:  # no resource to compare: the statement counts if it names any
        return "Resource" in statement or "NotResource" in statement
    if "NotResource" in statement:
        return not any(_glob(p, resource) for p in _listed(statement["NotResource"]))
    return any(_glob(p, resource) for p in _listed(statement.get("Resource")))


def _string_equals(expected: str, actual: str) -> bool:
    return expected == actual


def _arn_like(expected: str, actual: str) -> bool:
    # ARN matching goes part by part; a glob over the whole ARN agrees for the ARNs used here.
    return _glob(expected, actual)


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def test(expected: str, actual: str) -> bool:
        try:
            return compare(float(actual), float(expected))
        except ValueError:
            return False

    return test


def _instant(text: str) -> datetime | None:
    """A date condition's value: ISO 8601, or seconds since the epoch."""
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _date(compare: Callable[[datetime, datetime], bool]) -> Callable[[str, str], bool]:
    def test(expected: str, actual: str) -> bool:
        left, right = _instant(actual), _instant(expected)
        return left is not None and right is not None and compare(left, right)

    return test


def _ip_address(expected: str, actual: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": lambda e, a: e.lower() == a.lower(),
    "StringLike": lambda e, a: _glob(e, a),
    "ArnEquals": _string_equals,
    "ArnLike": _arn_like,
    "Bool": lambda e, a: str(e).lower() == a.lower(),
    "NumericEquals": _numeric(lambda a, e: a == e),
    "NumericLessThan": _numeric(lambda a, e: a < e),
    "NumericLessThanEquals": _numeric(lambda a, e: a <= e),
    "NumericGreaterThan": _numeric(lambda a, e: a > e),
    "NumericGreaterThanEquals": _numeric(lambda a, e: a >= e),
    "DateEquals": _date(lambda a, e: a == e),
    "DateLessThan": _date(lambda a, e: a < e),
    "DateLessThanEquals": _date(lambda a, e: a <= e),
    "DateGreaterThan": _date(lambda a, e: a > e),
    "DateGreaterThanEquals": _date(lambda a, e: a >= e),
    "IpAddress": _ip_address,
}
# The negated operators: they hold when none of the values match, and on an absent key.
NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
}


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool | None:
    """One operator on one key, as AWS evaluates it; None for an operator the local cloud does not
    implement (``conditions_hold`` decides what that means)."""
    lowered = {k.lower(): v for k, v in context.items()}
    actual = lowered.get(key.lower())
    if operator == "Null":
        return (actual is None) == (str(_listed(expected)[0]).lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    qualifier = ""
    if base.startswith(("ForAnyValue:", "ForAllValues:")):
        qualifier, base = base.split(":", 1)
    if base not in OPERATORS and base not in NEGATED:
        return None
    if actual is None:
        # An absent key: ForAllValues holds (no value fails), ForAnyValue does not (no value
        # matches); a negated operator holds; ...IfExists holds; any other operator does not.
        if qualifier:
            return qualifier == "ForAllValues"
        return if_exists or base in NEGATED
    if base in NEGATED:
        test = OPERATORS[NEGATED[base]]
        return not any(test(str(e), actual) for e in _listed(expected))
    return any(OPERATORS[base](str(e), actual) for e in _listed(expected))


def conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    """Every condition of the statement holds. An operator the local cloud does not implement is
    never skipped: in a Deny it counts as holding (the deny applies: the safe side), in an Allow as
    not holding (no access it might not give); either way it is logged."""
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            verdict = _condition_holds(operator, key, expected, context)
            if verdict is None:
                deny = statement.get("Effect") == "Deny"
                LOG.warning(
                    "IAM condition operator %s is not implemented by the local cloud: the %s statement %s",
                    operator,
                    statement.get("Effect"),
                    "applies as if it held" if deny else "does not apply",
                )
                verdict = deny
            if not verdict:
                return False
    return True


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _listed(document.get("Statement")) if isinstance(s, dict)]


def evaluate(
    documents: Iterable[dict[str, Any]], action: str, resource: str | None, context: dict[str, str] | None = None
) -> Decision:
    """AWS's evaluation of identity-based policies: an explicit Deny wins, then any Allow; else the
    implicit deny."""
    context = context or {}
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
                continue
            if not conditions_hold(statement, context):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _principal_named(statement: dict[str, Any], names: set[str]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(p == "*" or p in names for values in principal.values() for p in _listed(values))


def key_policy_decision(policy: dict[str, Any], principal: Principal, request: Request) -> Decision:
    """A KMS key policy (a resource-based policy): ALLOW when it names the caller itself,
    IMPLICIT_DENY when it delegates to the account (IAM decides) or says nothing, EXPLICIT_DENY on a Deny."""
    caller = {principal.arn, principal.entity_arn}
    account = {f"arn:{PARTITION}:iam::{principal.account}:root", principal.account}
    decision = Decision.IMPLICIT_DENY
    for statement in _statements(policy):
        if not (_action_matches(statement, request.action) and conditions_hold(statement, request.context)):
            continue
        if statement.get("Effect") == "Deny" and _principal_named(statement, caller | account):
            return Decision.EXPLICIT_DENY
        if statement.get("Effect") == "Allow" and _principal_named(statement, caller):
            decision = Decision.ALLOW
    return decision


def key_policy_delegates(policy: dict[str, Any], principal: Principal, action: str) -> bool:
    """True when the key policy lets IAM policies of the account grant ``action`` (the root statement)."""
    account = {f"arn:{PARTITION}:iam::{principal.account}:root", principal.account}
    return any(
        s.get("Effect") == "Allow" and _action_matches(s, action) and _principal_named(s, account)
        for s in _statements(policy)
    )


def decide(principal: Principal, request: Request) -> Decision:
    """Identity policies, and the key policy where the request is on a KMS key."""
    context = {
        "aws:PrincipalArn": principal.entity_arn,
        "aws:PrincipalAccount": principal.account,
        **request.context,
    }
    request = Request(request.action, request.resource, context, request.key_policy, request.via)
    identity = evaluate(principal.documents, request.action, request.resource, context)
    if request.key_policy is None:
        return identity
    key = key_policy_decision(request.key_policy, principal, request)
    if Decision.EXPLICIT_DENY in (identity, key):
        return Decision.EXPLICIT_DENY
    if key is Decision.ALLOW:
        return Decision.ALLOW
    if identity is Decision.ALLOW and key_policy_delegates(request.key_policy, principal, request.action):
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


def denial_message(principal: Principal, request: Request, decision: Decision) -> str:
    resource = request.resource or "*"
    base = f"User: {principal.arn} is not authorized to perform: {request.action} on resource: {resource}"
    if decision is Decision.EXPLICIT_DENY:
        return f"{base} with an explicit deny in an identity-based policy"
    if request.key_policy is not None:
        return f"{base} because no resource-based policy allows the {request.action} action"
    return f"{base} because no identity-based policy allows the {request.action} action"


# ----------------------------------------------------------------------------- the emulator's models


def _partition_backend(backends: Any, account: str) -> Any:
    return backends[account][PARTITION]


def _policy_document(raw: Any) -> dict[str, Any] | None:
    text = raw if isinstance(raw, str) else None
    if text is None and hasattr(raw, "versions"):
        default = next((v for v in raw.versions if v.is_default), None)
        text = default.document if default is not None else None
    if not text:
        return None
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def role_documents(account: str, role_name: str) -> tuple[dict[str, Any], ...]:
    from moto.iam.models import iam_backends

    backend = _partition_backend(iam_backends, account)
    try:
        role = backend.get_role(role_name)
    except Exception:  # the role was deleted: its sessions keep no permissions
        return ()
    raws = [*role.policies.values(), *role.managed_policies.values()]
    return tuple(d for d in (_policy_document(r) for r in raws) if d is not None)


def user_documents(account: str, user: Any) -> tuple[dict[str, Any], ...]:
    from moto.iam.models import iam_backends

    backend = _partition_backend(iam_backends, account)
    raws: list[Any] = [*user.policies.values(), *user.managed_policies.values()]
    for group in backend.get_groups_for_user(user.name):
        raws += [*group.policies.values(), *group.managed_policies.values()]
    return tuple(d for d in (_policy_document(r) for r in raws) if d is not None)


def principal_of(access_key: str, account: str) -> Principal | None:
    """The IAM principal an access key belongs to in the emulator, or None (not an IAM principal's
    key: the local cloud's own keys)."""
    if not access_key:
        return None
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    if account not in iam_backends:
        return None
    backend = _partition_backend(iam_backends, account)
    for session in list(_partition_backend(sts_backends, account).assumed_roles):
        if session.access_key_id == access_key:
            role_name = session.role_arn.rsplit("/", 1)[-1]
            return Principal(
                arn=f"arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{session.session_name}",
                account=account,
                entity_arn=session.role_arn,
                documents=role_documents(account, role_name),
            )
    for user in list(backend.users.values()):
        if any(key.access_key_id == access_key for key in user.access_keys):
            return Principal(
                arn=user.arn, account=account, entity_arn=user.arn, documents=user_documents(account, user)
            )
    return None


def _kms_key(account: str, region: str, key_id: str) -> tuple[str, dict[str, Any]] | None:
    """(key ARN, key policy) of a customer managed key; None for an AWS managed one or an unknown key."""
    if not key_id or key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
        return None
    from moto.kms.models import kms_backends

    try:
        backend = kms_backends[account][region]
        key = backend.describe_key(key_id)
    except Exception:
        return None
    if getattr(key, "key_manager", "CUSTOMER") == "AWS":
        return None
    try:
        policy = json.loads(key.policy)
    except (TypeError, ValueError):
        policy = {}
    return key.arn, policy if isinstance(policy, dict) else {}


def _kms_request(account: str, region: str, key_id: str, action: str, via: str = "") -> Request | None:
    found = _kms_key(account, region, key_id)
    if found is None:
        return None
    arn, policy = found
    context = {"kms:CallerAccount": account}
    if via:
        context["kms:ViaService"] = f"{via}.{region}.amazonaws.com"
    return Request(f"kms:{action}", arn, context, key_policy=policy, via=via)


# ----------------------------------------------------------------------------- what a call needs


def _queue_arn(region: str, account: str, url_or_name: str) -> tuple[str, str, str]:
    """(ARN, owner account, name) of a queue from its URL (http(s)://host/<acct>/<name>) or name."""
    parts = url_or_name.rstrip("/").split("/")
    name = parts[-1]
    owner = parts[-2] if len(parts) >= 2 and parts[-2].isdigit() else account
    return f"arn:{PARTITION}:sqs:{region}:{owner}:{name}", owner, name


def _sqs(call: Any, account: str) -> list[Request]:
    region = call.region
    if call.action == "GetQueueUrl":
        owner = str(call.params.get("QueueOwnerAWSAccountId") or account)
        name = str(call.params.get("QueueName", ""))
        return [Request("sqs:GetQueueUrl", f"arn:{PARTITION}:sqs:{region}:{owner}:{name}")]
    url = str(call.params.get("QueueUrl") or "")
    if not url:
        return [Request(f"sqs:{call.action}", None)]
    arn, owner, name = _queue_arn(region, account, url)
    requests = [Request(f"sqs:{call.action.removesuffix('Batch')}", arn)]
    # A queue under a customer managed key: the producer needs kms:GenerateDataKey and kms:Decrypt
    # (SQS's key management docs), the consumer kms:Decrypt.
    kms_actions = {
        "SendMessage": ("GenerateDataKey", "Decrypt"),
        "SendMessageBatch": ("GenerateDataKey", "Decrypt"),
        "ReceiveMessage": ("Decrypt",),
    }.get(call.action, ())
    if kms_actions:
        from moto.sqs.models import sqs_backends

        try:
            queue = sqs_backends[owner][region].get_queue(name)
            key_id = str(getattr(queue, "kms_master_key_id", "") or "")
        except Exception:
            key_id = ""
        for kms_action in kms_actions:
            extra = _kms_request(owner, region, key_id, kms_action, via="sqs")
            if extra is not None:
                requests.append(extra)
    return requests


def _secretsmanager(call: Any, account: str) -> list[Request]:
    region = call.region
    secret_id = str(call.params.get("SecretId") or "")
    if not secret_id:
        return [Request(f"secretsmanager:{call.action}", None)]
    from moto.secretsmanager.models import secretsmanager_backends

    secret = None
    try:
        secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    except Exception:
        secret = None
    if secret is not None:
        arn = str(secret.arn)
    elif secret_id.startswith("arn:"):
        arn = secret_id
    else:
        arn = f"arn:{PARTITION}:secretsmanager:{region}:{account}:secret:{secret_id}"
    requests = [Request(f"secretsmanager:{call.action}", arn)]
    if call.action == "GetSecretValue" and secret is not None:
        extra = _kms_request(account, region, str(getattr(secret, "kms_key_id", "") or ""), "Decrypt", "secretsmanager")
        if extra is not None:
            requests.append(extra)
    return requests


def _ssm_arn(region: str, account: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:{PARTITION}:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def _ssm(call: Any, account: str) -> list[Request]:
    region = call.region
    if call.action == "GetParameters":
        names = [str(n) for n in _listed(call.params.get("Names"))]
    elif "Name" in call.params:
        names = [str(call.params["Name"])]
    else:
        return [Request(f"ssm:{call.action}", None)]
    requests = [Request(f"ssm:{call.action}", _ssm_arn(region, account, n)) for n in names]
    if call.action in ("GetParameter", "GetParameters") and call.params.get("WithDecryption"):
        from moto.ssm.models import ssm_backends

        for name in names:
            try:
                parameter = ssm_backends[account][region].get_parameter(name)
            except Exception:
                parameter = None
            # moto's Parameter names its type parameter_type.
            if parameter is not None and getattr(parameter, "parameter_type", "") == "SecureString":
                extra = _kms_request(account, region, str(getattr(parameter, "keyid", "") or ""), "Decrypt", "ssm")
                if extra is not None:
                    requests.append(extra)
    return requests


def _kms(call: Any, account: str) -> list[Request]:
    key_id = str(call.params.get("KeyId") or "")
    extra = _kms_request(account, call.region, key_id, call.action) if key_id else None
    return [extra] if extra is not None else [Request(f"kms:{call.action}", None)]


def _logs(call: Any, account: str) -> list[Request]:
    group = str(call.params.get("logGroupName") or "")
    stream = str(call.params.get("logStreamName") or "")
    if not group:
        return [Request(f"logs:{call.action}", None)]
    arn = f"arn:{PARTITION}:logs:{call.region}:{account}:log-group:{group}"
    arn += f":log-stream:{stream}" if stream else ":*"
    return [Request(f"logs:{call.action}", arn)]


def _ecr(call: Any, account: str) -> list[Request]:
    repository = str(call.params.get("repositoryName") or "")
    if call.action == "GetAuthorizationToken" or not repository:
        return [Request(f"ecr:{call.action}", "*" if call.action == "GetAuthorizationToken" else None)]
    owner = str(call.params.get("registryId") or account)
    return [Request(f"ecr:{call.action}", f"arn:{PARTITION}:ecr:{call.region}:{owner}:repository/{repository}")]


def _sts(call: Any, _account: str) -> list[Request]:
    if call.action in ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        return [Request(f"sts:{call.action}", str(call.params.get("RoleArn") or "") or None)]
    return [Request(f"sts:{call.action}", None)]


# EC2 actions that create a resource, by the resource type they create: AWS authorizes them on the new
# resource's ARN (arn:aws:ec2:<region>:<account>:<type>/*), with the tags of the request's
# TagSpecifications as aws:RequestTag/<key>. They are authorized on the existing resources they use
# as well (the service authorization reference's resource types of the action), without the request's
# tags: a policy that conditions the whole action on aws:RequestTag refuses it, as on AWS.
EC2_CREATES = {"AllocateAddress": "elastic-ip", "CreateNatGateway": "natgateway"}
EC2_USES = {"CreateNatGateway": (("SubnetId", "subnet"), ("AllocationId", "elastic-ip"))}


def _ec2(call: Any, account: str) -> list[Request]:
    kind = EC2_CREATES.get(call.action)
    base = f"arn:{PARTITION}:ec2:{call.region}:{account}"
    found = [Request(f"ec2:{call.action}", f"{base}:{kind}/*" if kind else None)]
    for param, used in EC2_USES.get(call.action, ()):
        if call.params.get(param):
            found.append(Request(f"ec2:{call.action}", f"{base}:{used}/{call.params[param]}", tagged=False))
    return found


def _ecs(call: Any, account: str) -> list[Request]:
    if call.action == "CreateCluster":
        name = str(call.params.get("clusterName") or "default")
        return [Request("ecs:CreateCluster", f"arn:{PARTITION}:ecs:{call.region}:{account}:cluster/{name}")]
    return [Request(f"ecs:{call.action}", None)]


def request_tags(call: Any) -> dict[str, str]:
    """The tags a create call carries (aws:RequestTag/<key>): EC2's TagSpecification.N.Tag.M (query
    protocol), ECS's ``tags`` ({key, value}) and KMS's ``Tags`` ({TagKey, TagValue})."""
    params = call.params
    if call.service == "ec2":
        found = {}
        for name, key in params.items():
            match = re.fullmatch(r"TagSpecification\.(\d+)\.Tag\.(\d+)\.Key", str(name))
            if match:
                found[str(key)] = str(params.get(f"TagSpecification.{match[1]}.Tag.{match[2]}.Value", ""))
        return found
    pairs = {"ecs": ("tags", "key", "value"), "kms": ("Tags", "TagKey", "TagValue")}.get(call.service)
    if pairs is None or not isinstance(params.get(pairs[0]), list):
        return {}
    listed, key, value = pairs
    return {str(t.get(key)): str(t.get(value, "")) for t in params[listed] if isinstance(t, dict) and key in t}


RESOURCES: dict[str, Callable[[Any, str], list[Request]]] = {
    "ec2": _ec2,
    "ecs": _ecs,
    "sqs": _sqs,
    "secretsmanager": _secretsmanager,
    "ssm": _ssm,
    "kms": _kms,
    "logs": _logs,
    "ecr": _ecr,
    "sts": _sts,
}


def requests(call: Any, account: str) -> list[Request]:
    """Every permission the call needs, with the resource ARNs it targets (None where the local
    cloud does not know the resource: the action alone is checked)."""
    handler = RESOURCES.get(call.service)
    if handler is not None:
        found = handler(call, account)
    else:
        found = [Request(f"{PREFIXES.get(call.service, call.service)}:{call.action}", None)]
    region = call.region
    tags = {f"aws:RequestTag/{k}": v for k, v in request_tags(call).items()}
    return [
        Request(
            r.action,
            r.resource,
            {"aws:RequestedRegion": region, **(tags if r.tagged else {}), **r.context},
            r.key_policy,
            r.via,
            r.tagged,
        )
        for r in found
    ]


def _denial(call: Any, principal: Principal, request: Request, decision: Decision) -> Refusal:
    """JSON-protocol services answer AccessDeniedException (400), query-protocol ones AccessDenied
    (403), EC2 UnauthorizedOperation; a KMS refusal behind another service is that service's own error."""
    message = denial_message(principal, request, decision)
    if request.via == "secretsmanager":  # Secrets Manager's own answer when KMS refuses
        return Refusal(400, "AccessDeniedException", "Access to KMS is not allowed")
    if request.via == "sqs":
        return Refusal(400, "KMS.AccessDeniedException", message)
    if call.service == "ec2":
        return Refusal(403, "UnauthorizedOperation", f"You are not authorized to perform this operation. {message}")
    if call.service == "sqs":
        return Refusal(403, "AccessDenied", message)
    if call.json:
        return Refusal(400, "AccessDeniedException", message)
    return Refusal(403, "AccessDenied", message)


def authorize(call: Any, account: str) -> Refusal | None:
    """None when the call may go on (not an IAM principal's key, or every permission it needs holds),
    else AWS's refusal."""
    if call.service == "sts" and call.action == "GetCallerIdentity":
        return None  # always allowed, even under an explicit deny
    principal = principal_of(call.access_key, account)
    if principal is None:
        return None
    for request in requests(call, account):
        decision = decide(principal, request)
        if decision is not Decision.ALLOW:
            return _denial(call, principal, request, decision)
    return None


# ----------------------------------------------------------------------------- credentials for a service


class TrustError(Exception):
    """The role's trust policy does not let the service assume it."""


def trust_admits(document: dict[str, Any], service: str, context: dict[str, str]) -> bool:
    """True when the trust policy lets ``service`` (e.g. ecs-tasks.amazonaws.com) sts:AssumeRole."""
    allowed = False
    for statement in _statements(document):
        if not _action_matches(statement, "sts:AssumeRole"):
            continue
        principal = statement.get("Principal")
        named = principal == "*" or (
            isinstance(principal, dict) and any(p in ("*", service) for p in _listed(principal.get("Service")))
        )
        if not named or not conditions_hold(statement, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def assume_for_service(
    iam: Any,
    sts: Any,
    role_arn: str,
    service: str,
    session_name: str,
    *,
    account: str,
    source_arn: str = "",
    duration: int = 43200,
) -> dict[str, str]:
    """Credentials of ``role_arn`` as the AWS service ``service`` obtains them for what it runs (an
    ECS task, an EC2 instance): the trust policy must admit the service, else TrustError. ``iam`` and
    ``sts`` are the local cloud's own clients (its admin key)."""
    role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    context = {"aws:SourceAccount": account}
    if source_arn:
        context["aws:SourceArn"] = source_arn
    if not trust_admits(document, service, context):
        raise TrustError(f"the trust policy of {role_arn} does not let {service} assume it")
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=_session_name(session_name), DurationSeconds=duration)[
        "Credentials"
    ]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def _session_name(text: str) -> str:
    """A RoleSessionName from any text (AWS allows [\\w+=,.@-], 2 to 64 characters)."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", text)[:64]
    return cleaned if len(cleaned) >= 2 else f"{cleaned}--"


__all__ = [
    "Decision",
    "Principal",
    "Request",
    "TrustError",
    "assume_for_service",
    "authorize",
    "decide",
    "evaluate",
]
