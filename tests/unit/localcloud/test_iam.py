"""IAM as the local cloud enforces it (localcloud/iam.py): the policy evaluation on its own, the
principals and resource ARNs read from moto's models in-process, and real boto3 calls with a role
session's keys against a running local cloud."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud import iam
from localcloud.iam import Decision, Principal, Request
from localcloud.server import ApiCall

ACCOUNT = "123456789012"
REGION = "eu-west-1"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_SEND = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": QUEUE}


# ----------------------------------------------------------------------------- evaluation


def test_an_allow_statement_on_the_action_and_resource_allows() -> None:
    assert iam.evaluate([_doc(ALLOW_SEND)], "sqs:SendMessage", QUEUE) is Decision.ALLOW


def test_no_matching_statement_is_the_implicit_deny() -> None:
    assert iam.evaluate([_doc(ALLOW_SEND)], "sqs:DeleteMessage", QUEUE) is Decision.IMPLICIT_DENY
    assert iam.evaluate([_doc(ALLOW_SEND)], "sqs:SendMessage", QUEUE + "-dlq") is Decision.IMPLICIT_DENY
    assert iam.evaluate([], "sqs:SendMessage", QUEUE) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow_in_any_policy() -> None:
    deny = _doc({"Effect": "Deny", "Action": "sqs:*", "Resource": "*"})
    admin = _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert iam.evaluate([admin, _doc(ALLOW_SEND), deny], "sqs:SendMessage", QUEUE) is Decision.EXPLICIT_DENY


def test_resources_match_with_wildcards_and_nothing_else_is_special() -> None:
    group = _doc({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:*:*:log-group:/ecs/x:*"})
    stream = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/x:log-stream:api/1"
    assert iam.evaluate([group], "logs:PutLogEvents", stream) is Decision.ALLOW
    other = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/xy:log-stream:api/1"
    assert iam.evaluate([group], "logs:PutLogEvents", other) is Decision.IMPLICIT_DENY
    one_char = _doc(
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:job?"}
    )
    assert iam.evaluate([one_char], "sqs:SendMessage", QUEUE) is Decision.ALLOW
    # A dot in a pattern is a dot, not any character (moto's own matcher treats it as a regex).
    dotted = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a.b/*"})
    assert iam.evaluate([dotted], "s3:GetObject", "arn:aws:s3:::axb/k") is Decision.IMPLICIT_DENY


def test_actions_match_case_insensitively_and_with_wildcards() -> None:
    policy = _doc({"Effect": "Allow", "Action": "SQS:send*", "Resource": QUEUE})
    assert iam.evaluate([policy], "sqs:SendMessage", QUEUE) is Decision.ALLOW


def test_not_action_allows_everything_but_the_actions_named() -> None:
    policy = _doc({"Effect": "Allow", "NotAction": ["sqs:DeleteQueue", "sqs:Purge*"], "Resource": "*"})
    assert iam.evaluate([policy], "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert iam.evaluate([policy], "sqs:PurgeQueue", QUEUE) is Decision.IMPLICIT_DENY


def test_not_resource_covers_every_resource_but_those_named() -> None:
    deny = _doc({"Effect": "Deny", "Action": "sqs:*", "NotResource": QUEUE})
    admin = _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert iam.evaluate([admin, deny], "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert iam.evaluate([admin, deny], "sqs:SendMessage", QUEUE + "-other") is Decision.EXPLICIT_DENY


def test_an_allow_whose_condition_does_not_hold_allows_nothing_and_denies_nothing() -> None:
    via = {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}},
    }
    other = _doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:*"})
    context = {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    assert iam.evaluate([_doc(via)], "kms:Decrypt", "arn:aws:kms:k", context) is Decision.ALLOW
    assert iam.evaluate([_doc(via)], "kms:Decrypt", "arn:aws:kms:k", {}) is Decision.IMPLICIT_DENY
    # moto counts the failed condition as an explicit deny: the other policy's Allow would be lost.
    assert iam.evaluate([_doc(via), other], "kms:Decrypt", "arn:aws:kms:k", {}) is Decision.ALLOW


def test_condition_operators_on_absent_keys_behave_as_on_aws() -> None:
    assert iam.conditions_hold({"Condition": {"StringEqualsIfExists": {"aws:SourceArn": "x"}}}, {})
    assert not iam.conditions_hold({"Condition": {"StringEquals": {"aws:SourceArn": "x"}}}, {})
    assert iam.conditions_hold({"Condition": {"StringNotEquals": {"aws:SourceArn": "x"}}}, {})
    assert iam.conditions_hold({"Condition": {"Null": {"aws:SourceArn": "true"}}}, {})
    assert not iam.conditions_hold({"Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "1"}}}, {"x": "1"})


@pytest.mark.parametrize(
    ("operator", "holds"),
    [
        ("ForAllValues:StringEquals", True),  # no value in the request fails it
        ("ForAnyValue:StringEquals", False),  # no value in the request matches it
        ("ForAllValues:StringLike", True),
        ("ForAnyValue:StringLike", False),
        ("NotIpAddress", True),
        ("NumericNotEquals", True),
        ("DateNotEquals", True),
        ("IpAddress", False),
        ("NumericEquals", False),
        ("DateEquals", False),
    ],
)
def test_set_and_negated_operators_on_an_absent_key_as_the_condition_operators_docs_say(
    operator: str, holds: bool
) -> None:
    value = {"IpAddress": "10.0.0.0/8", "NotIpAddress": "10.0.0.0/8"}.get(operator, "1")
    assert iam.conditions_hold({"Condition": {operator: {"aws:SomeAbsentKey": value}}}, {}) is holds


def test_numeric_date_and_ip_operators_compare_values() -> None:
    def holds(operator: str, expected: str, actual: str) -> bool:
        return iam.conditions_hold({"Condition": {operator: {"k": expected}}}, {"k": actual})

    assert holds("NumericLessThan", "3600", "60") and not holds("NumericLessThan", "3600", "7200")
    assert holds("NumericNotEquals", "1", "2") and not holds("NumericNotEquals", "1", "1")
    assert holds("DateGreaterThan", "2020-01-01T00:00:00Z", "2026-11-29T09:00:00Z")
    assert not holds("DateLessThan", "2020-01-01T00:00:00Z", "1700000000")  # epoch seconds: 2023
    assert holds("IpAddress", "203.0.113.0/24", "203.0.113.7") and holds("NotIpAddress", "10.0.0.0/8", "203.0.113.7")


def test_an_operator_the_local_cloud_does_not_implement_applies_a_deny_and_refuses_an_allow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unknown = {"BinaryEquals": {"aws:SomeKey": "QmluYXJ5"}}
    admin = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "sqs:*", "Resource": "*", "Condition": unknown}
    assert iam.evaluate([_doc(admin, deny)], "sqs:SendMessage", QUEUE, {"aws:SomeKey": "x"}) is Decision.EXPLICIT_DENY
    allow = {**ALLOW_SEND, "Condition": unknown}
    assert iam.evaluate([_doc(allow)], "sqs:SendMessage", QUEUE, {"aws:SomeKey": "x"}) is Decision.IMPLICIT_DENY
    assert "BinaryEquals is not implemented" in caplog.text


def test_a_key_policy_delegating_to_the_account_needs_the_identity_policy_too() -> None:
    root = _doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
    )
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    request = Request("kms:Decrypt", key, {}, key_policy=root)
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    bare = Principal(arn="arn:aws:sts::123456789012:assumed-role/r/s", account=ACCOUNT, entity_arn=role)
    assert iam.decide(bare, request) is Decision.IMPLICIT_DENY
    granted = Principal(bare.arn, ACCOUNT, role, (_doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}),))
    assert iam.decide(granted, request) is Decision.ALLOW
    # A key policy that names only another principal does not delegate: the identity policy is not enough.
    other = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}, "Action": "kms:*"})
    assert iam.decide(granted, Request("kms:Decrypt", key, {}, key_policy=other)) is Decision.IMPLICIT_DENY


def test_a_trust_policy_admits_only_its_service_and_its_conditions() -> None:
    trust = _doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    )
    assert iam.trust_admits(trust, "ecs-tasks.amazonaws.com", {"aws:SourceAccount": ACCOUNT})
    assert not iam.trust_admits(trust, "ec2.amazonaws.com", {"aws:SourceAccount": ACCOUNT})
    assert not iam.trust_admits(trust, "ecs-tasks.amazonaws.com", {"aws:SourceAccount": "210987654321"})


# ----------------------------------------------------------------------------- against moto's models


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    with mock_aws():
        services = ("iam", "sts", "sqs", "secretsmanager", "kms", "ssm")
        clients = {s: boto3.client(s, region_name=REGION) for s in services}
        yield clients


def _role(aws: dict[str, Any], name: str, *documents: dict[str, Any], managed: tuple[str, ...] = ()) -> str:
    trust = _doc({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"})
    arn = aws["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for i, document in enumerate(documents):
        aws["iam"].put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=json.dumps(document))
    for policy_arn in managed:
        aws["iam"].attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return str(arn)


def _session_key(aws: dict[str, Any], role_arn: str) -> str:
    creds = iam.assume_for_service(aws["iam"], aws["sts"], role_arn, "ecs-tasks.amazonaws.com", "task", account=ACCOUNT)
    return creds["AWS_ACCESS_KEY_ID"]


def _call(service: str, action: str, key: str, *, json_protocol: bool = True, **params: Any) -> ApiCall:
    return ApiCall(service=service, region=REGION, action=action, params=params, access_key=key, json=json_protocol)


def test_a_role_session_is_refused_what_its_policies_do_not_grant_on_the_queue_it_targets(aws: dict[str, Any]) -> None:
    url = aws["sqs"].create_queue(QueueName="jobs")["QueueUrl"]
    other = aws["sqs"].create_queue(QueueName="other")["QueueUrl"]
    key = _session_key(aws, _role(aws, "task", _doc(ALLOW_SEND)))
    assert iam.authorize(_call("sqs", "SendMessage", key, QueueUrl=url), ACCOUNT) is None
    refusal = iam.authorize(_call("sqs", "SendMessage", key, QueueUrl=other), ACCOUNT)
    assert refusal is not None
    assert (refusal.status, refusal.code) == (403, "AccessDenied")
    assert refusal.message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/task/task is not authorized to perform: sqs:SendMessage"
        f" on resource: arn:aws:sqs:{REGION}:{ACCOUNT}:other because no identity-based policy allows the"
        " sqs:SendMessage action"
    )
    assert iam.authorize(_call("sqs", "ReceiveMessage", key, QueueUrl=url), ACCOUNT) is not None


def test_the_local_clouds_own_keys_are_not_iam_principals(aws: dict[str, Any]) -> None:
    url = aws["sqs"].create_queue(QueueName="jobs")["QueueUrl"]
    assert iam.authorize(_call("sqs", "SendMessage", "testing", QueueUrl=url), ACCOUNT) is None
    assert iam.authorize(_call("sqs", "SendMessage", "localcloud-controller", QueueUrl=url), ACCOUNT) is None


def test_an_aws_managed_policy_attached_to_the_role_grants_its_actions(aws: dict[str, Any]) -> None:
    managed = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    key = _session_key(aws, _role(aws, "execution", managed=(managed,)))
    logs = _call("logs", "PutLogEvents", key, logGroupName="/ecs/x", logStreamName="api/1")
    assert iam.authorize(logs, ACCOUNT) is None
    secret = aws["secretsmanager"].create_secret(Name="db", SecretString="{}")["ARN"]
    refusal = iam.authorize(_call("secretsmanager", "GetSecretValue", key, SecretId="db"), ACCOUNT)
    assert refusal is not None
    assert (refusal.status, refusal.code) == (400, "AccessDeniedException")
    assert f"on resource: {secret} because" in refusal.message  # the secret's full ARN, found by name


def test_a_secret_under_a_customer_key_needs_kms_decrypt_via_secrets_manager(aws: dict[str, Any]) -> None:
    key_arn = aws["kms"].create_key()["KeyMetadata"]["Arn"]
    secret = aws["secretsmanager"].create_secret(Name="db", SecretString="{}", KmsKeyId=key_arn)["ARN"]
    read = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret}
    decrypt = {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}},
    }
    only_read = _session_key(aws, _role(aws, "r1", _doc(read)))
    refusal = iam.authorize(_call("secretsmanager", "GetSecretValue", only_read, SecretId=secret), ACCOUNT)
    assert refusal is not None
    assert (refusal.code, refusal.message) == ("AccessDeniedException", "Access to KMS is not allowed")
    both = _session_key(aws, _role(aws, "r2", _doc(read, decrypt)))
    assert iam.authorize(_call("secretsmanager", "GetSecretValue", both, SecretId=secret), ACCOUNT) is None
    # The same key permission does not let the role decrypt directly (kms:ViaService is absent then).
    direct = _call("kms", "Decrypt", both, KeyId=key_arn, CiphertextBlob="x")
    assert iam.authorize(direct, ACCOUNT) is not None


def test_a_securestring_under_a_customer_key_needs_kms_decrypt_and_under_aws_ssm_nothing_more(
    aws: dict[str, Any],
) -> None:
    """AmazonSSMManagedInstanceCore grants ssm:GetParameter on *: under the AWS managed aws/ssm key that
    reads any SecureString; under a customer managed key, kms:Decrypt (identity and key policy) too."""
    key_arn = aws["kms"].create_key()["KeyMetadata"]["Arn"]
    aws["ssm"].put_parameter(Name="/own-key", Value="s", Type="SecureString", KeyId=key_arn)
    aws["ssm"].put_parameter(Name="/managed-key", Value="s", Type="SecureString")
    core = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    key = _session_key(aws, _role(aws, "instance", managed=(core,)))
    assert iam.authorize(_call("ssm", "GetParameter", key, Name="/managed-key", WithDecryption=True), ACCOUNT) is None
    refusal = iam.authorize(_call("ssm", "GetParameter", key, Name="/own-key", WithDecryption=True), ACCOUNT)
    assert refusal is not None
    assert refusal.code == "AccessDeniedException" and f"kms:Decrypt on resource: {key_arn}" in refusal.message
    # Without decryption the parameter's metadata and ciphertext need no key permission.
    assert iam.authorize(_call("ssm", "GetParameter", key, Name="/own-key"), ACCOUNT) is None


def test_sending_to_a_queue_under_a_customer_key_needs_generate_data_key_and_decrypt(aws: dict[str, Any]) -> None:
    key_arn = aws["kms"].create_key()["KeyMetadata"]["Arn"]
    url = aws["sqs"].create_queue(QueueName="jobs", Attributes={"KmsMasterKeyId": key_arn})["QueueUrl"]

    def kms(*actions: str) -> dict[str, Any]:
        return {
            "Effect": "Allow",
            "Action": [f"kms:{a}" for a in actions],
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}},
        }

    only_generate = _session_key(aws, _role(aws, "p1", _doc(ALLOW_SEND, kms("GenerateDataKey"))))
    for action, params in (
        ("SendMessage", {"MessageBody": "x"}),
        ("SendMessageBatch", {"Entries": [{"Id": "1", "MessageBody": "x"}]}),
    ):
        refusal = iam.authorize(_call("sqs", action, only_generate, QueueUrl=url, **params), ACCOUNT)
        assert refusal is not None, action
        assert refusal.code == "KMS.AccessDeniedException"
        assert f"is not authorized to perform: kms:Decrypt on resource: {key_arn}" in refusal.message
    both = _session_key(aws, _role(aws, "p2", _doc(ALLOW_SEND, kms("GenerateDataKey", "Decrypt"))))
    assert iam.authorize(_call("sqs", "SendMessage", both, QueueUrl=url, MessageBody="x"), ACCOUNT) is None


def test_a_trust_policy_without_the_service_fails_the_assumption(aws: dict[str, Any]) -> None:
    role = _role(aws, "task")
    with pytest.raises(iam.TrustError, match=r"ec2\.amazonaws\.com"):
        iam.assume_for_service(aws["iam"], aws["sts"], role, "ec2.amazonaws.com", "i-1", account=ACCOUNT)


# ----------------------------------------------------------------------------- through the server


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.unit.localcloud.test_fidelity import _cloud

    with _cloud(tmp_path_factory.mktemp("iam")) as url:
        yield url


def _client(endpoint: str, service: str, **creds: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=creds.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=creds.get("AWS_SECRET_ACCESS_KEY", "testing"),
        aws_session_token=creds.get("AWS_SESSION_TOKEN"),
    )


def test_the_server_refuses_a_role_session_with_awss_error_and_serves_the_admin_keys(endpoint: str) -> None:
    admin = {s: _client(endpoint, s) for s in ("iam", "sts", "sqs", "secretsmanager")}
    url = admin["sqs"].create_queue(QueueName="jobs")["QueueUrl"]
    secret = admin["secretsmanager"].create_secret(Name="db-srv", SecretString="s3cret")["ARN"]
    arn = _role(admin, "task-srv", _doc({**ALLOW_SEND, "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"]}))
    creds = iam.assume_for_service(admin["iam"], admin["sts"], arn, "ecs-tasks.amazonaws.com", "t", account=ACCOUNT)
    sqs = _client(endpoint, "sqs", **creds)
    sqs.send_message(QueueUrl=url, MessageBody="job")
    with pytest.raises(ClientError) as denied:
        sqs.receive_message(QueueUrl=url)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "sqs:ReceiveMessage" in denied.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        _client(endpoint, "secretsmanager", **creds).get_secret_value(SecretId=secret)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert _client(endpoint, "sts", **creds).get_caller_identity()["Arn"].endswith(":assumed-role/task-srv/t--")
    assert admin["secretsmanager"].get_secret_value(SecretId=secret)["SecretString"] == "s3cret"
    assert admin["sqs"].receive_message(QueueUrl=url)["Messages"][0]["Body"] == "job"


def test_the_tags_of_a_create_call_are_its_request_tags() -> None:
    """aws:RequestTag/<key>: EC2's TagSpecifications (query protocol), ECS's and KMS's tag lists."""
    ec2 = ApiCall(
        service="ec2",
        region=REGION,
        action="AllocateAddress",
        params={
            "TagSpecification.1.ResourceType": "elastic-ip",
            "TagSpecification.1.Tag.1.Key": "Project",
            "TagSpecification.1.Tag.1.Value": "resume",
            "TagSpecification.1.Tag.2.Key": "Name",
            "TagSpecification.1.Tag.2.Value": "nat-a",
        },
    )
    assert iam.request_tags(ec2) == {"Project": "resume", "Name": "nat-a"}
    ecs = _call("ecs", "CreateCluster", "k", clusterName="c", tags=[{"key": "Project", "value": "resume"}])
    assert iam.request_tags(ecs) == {"Project": "resume"}
    kms = _call("kms", "CreateKey", "k", Tags=[{"TagKey": "Project", "TagValue": "resume"}])
    assert iam.request_tags(kms) == {"Project": "resume"}
    assert iam.request_tags(_call("ecs", "CreateCluster", "k", clusterName="c")) == {}


def test_a_create_the_policy_allows_only_with_a_tag_is_refused_without_it(aws: dict[str, Any]) -> None:
    """A tag-on-create policy (aws:RequestTag) as AWS applies it: the EC2 create is authorized on the
    new resource's ARN with the request's tags, and on the subnet and address it uses without them
    (so a condition on the whole action refuses it even tagged); the ECS cluster on its own ARN."""
    tagged = {"StringEquals": {"aws:RequestTag/Project": "resume"}}
    policy = _doc(
        {
            "Effect": "Allow",
            "Action": ["ec2:AllocateAddress", "ec2:CreateNatGateway"],
            "Resource": ["arn:aws:ec2:*:*:elastic-ip/*", "arn:aws:ec2:*:*:natgateway/*"],
            "Condition": tagged,
        },
        {
            "Effect": "Allow",
            "Action": "ec2:CreateNatGateway",
            "Resource": ["arn:aws:ec2:*:*:subnet/*", "arn:aws:ec2:*:*:elastic-ip/*"],
        },
        {
            "Effect": "Allow",
            "Action": "ecs:CreateCluster",
            "Resource": "arn:aws:ecs:*:*:cluster/resume-*",
            "Condition": tagged,
        },
    )
    whole_action = _doc({"Effect": "Allow", "Action": "ec2:CreateNatGateway", "Resource": "*", "Condition": tagged})
    aws["iam"].create_user(UserName="deployer")
    aws["iam"].put_user_policy(UserName="deployer", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = aws["iam"].create_access_key(UserName="deployer")["AccessKey"]["AccessKeyId"]
    aws["iam"].create_user(UserName="broad")
    aws["iam"].put_user_policy(UserName="broad", PolicyName="p", PolicyDocument=json.dumps(whole_action))
    broad = aws["iam"].create_access_key(UserName="broad")["AccessKey"]["AccessKeyId"]
    spec = {
        "SubnetId": "subnet-1",
        "AllocationId": "eipalloc-1",
        "TagSpecification.1.ResourceType": "natgateway",
        "TagSpecification.1.Tag.1.Key": "Project",
        "TagSpecification.1.Tag.1.Value": "resume",
    }
    untagged = _call("ec2", "CreateNatGateway", key, json_protocol=False, SubnetId="subnet-1")
    refusal = iam.authorize(untagged, ACCOUNT)
    assert refusal is not None and refusal.code == "UnauthorizedOperation"
    assert f"ec2:CreateNatGateway on resource: arn:aws:ec2:{REGION}:{ACCOUNT}:natgateway/*" in refusal.message
    assert iam.authorize(_call("ec2", "CreateNatGateway", key, json_protocol=False, **spec), ACCOUNT) is None
    on_subnet = iam.authorize(_call("ec2", "CreateNatGateway", broad, json_protocol=False, **spec), ACCOUNT)
    assert on_subnet is not None
    assert f"ec2:CreateNatGateway on resource: arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-1" in on_subnet.message
    assert iam.authorize(_call("ec2", "AllocateAddress", key, json_protocol=False, Domain="vpc"), ACCOUNT) is not None
    tags = [{"key": "Project", "value": "resume"}]
    assert iam.authorize(_call("ecs", "CreateCluster", key, clusterName="resume-x"), ACCOUNT) is not None
    assert iam.authorize(_call("ecs", "CreateCluster", key, clusterName="resume-x", tags=tags), ACCOUNT) is None
    assert iam.authorize(_call("ecs", "CreateCluster", key, clusterName="other", tags=tags), ACCOUNT) is not None
