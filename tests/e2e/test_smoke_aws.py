"""make smoke's real-account steps against moto in-process: the refusals, the checks that can fail, the clean-up."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from deploy import smoke
from deploy.smoke_aws import DeployedStage

REGION = "eu-west-3"
CODE = "482913"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def stage() -> tuple[DeployedStage, list]:
    ran: list = []
    options = smoke.options_from(["--stage", "smoke-t", "--region", REGION])
    return DeployedStage(options, run=lambda command, **_: ran.append(command)), ran


class FinishedFlow:
    """What the checks read of a flow that ran: its codes, its request count, when it started."""

    def __init__(self) -> None:
        self.codes = {"+12025550123": CODE, "+61491570156": "771205"}
        self.requests = 3
        self.started = datetime.now(UTC) - timedelta(minutes=1)


def table_with(*items: dict) -> str:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="otp-smoke-t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in items:
        dynamodb.put_item(TableName="otp-smoke-t", Item=item)
    return "otp-smoke-t"


SAFE_ITEM = {
    "id": {"S": "dest#9f86d081884c7d659a2feaa0c55ad015"},
    "ciphertext": {"B": b"\x01\x02AQICAHh" + bytes(range(40))},
    "destination": {"S": "+1******0123"},
    "expiry": {"N": "1764611234"},
    "codes": {"L": [{"M": {"attempts": {"N": "4"}, "purpose": {"S": "smoke"}}}]},
}


def test_a_table_that_holds_only_ciphertext_and_masks_passes(aws):
    deployed, _ = stage()
    deployed.outputs["TableName"] = table_with(SAFE_ITEM)
    assert "none holds" in deployed.table_scan(FinishedFlow())


@pytest.mark.parametrize(
    "leak",
    [
        {"code": {"S": CODE}},
        {"nested": {"L": [{"M": {"plain": {"S": f"code {CODE}"}}}]}},
        {"raw": {"B": b"ciphertext?" + CODE.encode()}},
        {"who": {"S": "+12025550123"}},
        {"digits": {"SS": ["12025550123"]}},
    ],
)
def test_a_table_that_holds_a_code_or_a_number_fails(aws, leak):
    deployed, _ = stage()
    deployed.outputs["TableName"] = table_with({**SAFE_ITEM, **leak})
    with pytest.raises(smoke.StepFailed, match="in the table"):
        deployed.table_scan(FinishedFlow())


def log_group(name: str, *messages: str) -> None:
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    now = int(datetime.now(UTC).timestamp() * 1000)
    events = [{"timestamp": now, "message": message} for message in messages]
    logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=events)


def test_the_access_log_must_hold_a_line_per_request_and_no_secret(aws):
    deployed, _ = stage()
    deployed.outputs["AccessLogGroup"] = "/aws/http-api/otp-smoke-t"
    line = json.dumps({"routeKey": "POST /generate", "status": "201", "sourceIp": "198.51.100.1"})
    log_group("/aws/http-api/otp-smoke-t", line, line, line)
    assert deployed.access_log(FinishedFlow()).startswith("3 lines for 3 requests")


def test_function_logs_with_a_full_number_fail(aws):
    deployed, _ = stage()
    verified = json.dumps(
        {"message": "code verified", "_aws": {"CloudWatchMetrics": [{"Metrics": [{"Name": "CodeVerified"}]}]}}
    )
    log_group("/aws/lambda/otp-smoke-t-generate", json.dumps({"message": "code delivered", "to": "+1******0123"}))
    log_group("/aws/lambda/otp-smoke-t-verify", verified)
    log_group("/aws/lambda/otp-smoke-t-verifications", "START RequestId: 1")
    assert deployed.function_logs(FinishedFlow()) == "3 lines checked"
    deployed._logs = None
    boto3.client("logs", region_name=REGION).put_log_events(
        logGroupName="/aws/lambda/otp-smoke-t-verifications",
        logStreamName="s",
        logEvents=[{"timestamp": int(datetime.now(UTC).timestamp() * 1000), "message": "to 12025550123"}],
    )
    with pytest.raises(smoke.StepFailed, match="function logs"):
        deployed.function_logs(FinishedFlow())


def test_an_existing_stack_is_never_deployed_over_nor_removed(aws):
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="otp-smoke-t", TemplateBody=json.dumps(template)
    )
    deployed, ran = stage()
    with pytest.raises(smoke.StepFailed, match="exists"):
        deployed.prepare()
    assert deployed.remove() == "nothing was deployed" and ran == []


def test_a_retained_table_is_not_deployed_over(aws):
    table_with()
    deployed, ran = stage()
    with pytest.raises(smoke.StepFailed, match="table otp-smoke-t exists"):
        deployed.prepare()
    assert ran == []


def test_a_failed_deploy_is_cleaned_up_and_the_codes_are_never_sent(aws):
    """serverless deploy failed after creating nothing: no stack to remove, and no /generate was made."""

    def failing_deploy(command, **_):
        raise RuntimeError("deploy failed")

    options = smoke.options_from(["--stage", "smoke-t", "--region", REGION])
    deployed = DeployedStage(options, run=failing_deploy)
    lines: list[str] = []
    assert smoke.run(deployed, out=lines.append) == 1
    assert "deploy the stage  FAIL" in lines[-1] and "generate" not in lines[-1]
    assert "the deploy created nothing" in lines[-1]


def test_the_removal_deletes_the_retained_table_and_schedules_the_keys(aws):
    deployed, ran = stage()
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    digest = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="otp-smoke-t", TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    )
    deployed.resources = {"OtpTable": table_with(), "OtpKey": key, "OtpDigestKey": digest}
    deployed._deploying = True
    assert "table otp-smoke-t deleted" in deployed.remove()
    assert ran == [["npx", "serverless", "remove", "--stage", "smoke-t", "--region", REGION]]
    assert "otp-smoke-t" not in boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    for key_id in (key, digest):
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
