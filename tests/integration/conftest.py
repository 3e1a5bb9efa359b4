"""Integration fixtures: an in-process AWS emulator (moto) and the handlers wired to it.

moto must be imported before any boto3 client exists, or the client escapes the mock.
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import moto  # noqa: F401  (import order matters, see above)
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import BotocoreStubber

from tests.helpers import GOOD_US, REGION, SENDER, TABLE, FakeClock


@pytest.fixture
def serialized_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto handle one request at a time.

    DynamoDB applies each conditional write atomically; moto evaluates the condition and applies
    the update in separate Python steps, so under threads it can interleave where DynamoDB never
    would. Serializing the emulator restores DynamoDB's guarantee, so concurrency tests exercise
    our conditions rather than moto's internals.
    """
    original = BotocoreStubber.process_request
    lock = threading.Lock()

    @functools.wraps(original)
    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", one_at_a_time)


@dataclass
class Aws:
    region: str
    key_id: str
    digest_key_id: str
    sessions: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=self.region)

    def sms(self) -> list[tuple[str, str]]:
        from moto.sns.models import sns_backends

        return list(sns_backends[DEFAULT_ACCOUNT_ID][self.region].sms_messages.values())

    def emails(self) -> list[Any]:
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID][self.region].sent_messages)

    def table_items(self) -> list[dict[str, Any]]:
        return self.client("dynamodb").scan(TableName=TABLE)["Items"]

    def live_codes(self) -> list[dict[str, Any]]:
        """Every stored code that still has a ciphertext: what could still verify."""
        found = []
        for item in self.table_items():
            if item.get("kind", {}).get("S") == "destination":
                ciphers = item["ciphers"]["M"]
                found += [entry["M"] for purpose, entry in item["codes"]["M"].items() if purpose in ciphers]
        return found

    def destination_items(self) -> dict[str, dict[str, Any]]:
        """Destination records, by the masked destination their codes carry."""
        found = {}
        for item in self.table_items():
            if item.get("kind", {}).get("S") == "destination":
                for entry in item["codes"]["M"].values():
                    found[entry["M"]["masked"]["S"]] = item
        return found


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, serialized_emulator: None) -> Iterator[Aws]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    from otp.aws.clients import renew_after_restore

    # New clients for every test (fault hooks live on them), from models parsed once per run.
    renew_after_restore()
    with mock_aws():
        import boto3

        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiry"}
        )
        kms = boto3.client("kms", region_name=REGION)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        digest_key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        yield Aws(region=REGION, key_id=key_id, digest_key_id=digest_key_id)
    renew_after_restore()


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def error(self) -> str | None:
        return self.body.get("error", {}).get("code")


@dataclass
class Api:
    """Calls the real handlers, built by each function's bootstrap, with API Gateway HTTP API events."""

    generate_deps: Any
    verify_deps: Any
    verifications_deps: Any
    handlers: dict[str, Any]
    clock: FakeClock
    aws: Aws

    def call(self, endpoint: str, body: Any, **event_options: Any) -> Reply:
        from local.events import LambdaContext, http_api_event

        handler = self.handlers[endpoint]
        payload = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        event_options.setdefault("headers", {"content-type": "application/json"})
        event = http_api_event("POST", f"/{endpoint}", payload, **event_options)
        result = handler(event, LambdaContext(function_name=f"otp-{endpoint}"))
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        return Reply(result["statusCode"], json.loads(result["body"]), headers)

    def status(self, verification_id: str) -> Reply:
        return self._verifications("GET", f"/verifications/{verification_id}", None, verification_id)

    def cancel(self, verification_id: str, body: str | None = None) -> Reply:
        return self._verifications("POST", f"/verifications/{verification_id}/cancel", body, verification_id)

    def _verifications(self, method: str, path: str, body: str | None, verification_id: str) -> Reply:
        from local.events import LambdaContext, http_api_event

        route = "/verifications/{verification_id}" + ("/cancel" if path.endswith("/cancel") else "")
        event = http_api_event(
            method,
            path,
            body,
            path_parameters={"verification_id": verification_id},
            route_key=f"{method} {route}",
        )
        result = self.handlers["verifications"](event, LambdaContext(function_name="otp-verifications"))
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        return Reply(result["statusCode"], json.loads(result["body"]), headers)

    def generate(self, body: Any, **event_options: Any) -> Reply:
        return self.call("generate", body, **event_options)

    def verify(self, body: Any, **event_options: Any) -> Reply:
        return self.call("verify", body, **event_options)

    def last_code(self, destination: str) -> str:
        """The code from the newest message delivered to ``destination``."""
        import re

        for phone, text in reversed(self.aws.sms()):
            if phone == destination:
                return re.search(r"\b(\d{4,10})\b", text).group(1)
        for email in reversed(self.aws.emails()):
            if destination in email.destinations["ToAddresses"]:
                return re.search(r"<strong>(\d{4,10})</strong>", email.body).group(1)
        raise AssertionError(f"nothing was delivered to {destination}")

    def issue(self, destination: str = GOOD_US, channel: str = "sms", **fields: Any) -> tuple[Reply, str]:
        reply = self.generate({"channel": channel, "destination": destination, **fields})
        assert reply.status == 201, reply.body
        return reply, self.last_code(destination)


@pytest.fixture
def make_api(aws: Aws):
    """Each function's app under the given OTP_* settings, wired by its bootstrap as a cold start does."""
    from otp import bootstrap
    from otp.config import load_settings
    from otp.http import generate, verifications, verify
    from otp.http.app import lambda_entry

    def build(**settings: Any) -> Api:
        env = {
            "OTP_KMS_KEY_ID": aws.key_id,
            "OTP_DIGEST_KEY_ID": aws.digest_key_id,
            "OTP_EMAIL_SENDER": SENDER,
            "OTP_TABLE_NAME": TABLE,
        }
        env.update({k: str(v) for k, v in settings.items()})
        loaded = load_settings(env)
        clock = FakeClock()
        deps = (
            bootstrap.generate_dependencies(loaded, clock=clock),
            bootstrap.verify_dependencies(loaded, clock=clock),
            bootstrap.verification_dependencies(loaded, clock=clock),
        )
        handlers = {
            "generate": lambda_entry(generate.create_app(deps[0])),
            "verify": lambda_entry(verify.create_app(deps[1])),
            "verifications": lambda_entry(verifications.create_app(deps[2])),
        }
        return Api(*deps, handlers=handlers, clock=clock, aws=aws)

    return build


@pytest.fixture
def api(make_api) -> Api:
    return make_api()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the service logs, as the JSON lines Lambda would ship to CloudWatch."""
    buffer = io.StringIO()
    handlers = logging.getLogger("otp").handlers
    previous = [handler.setStream(buffer) for handler in handlers if isinstance(handler, logging.StreamHandler)]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=False):
        handler.setStream(stream)


@pytest.fixture
def faults(aws: Aws):
    from tests.integration.faults import Faults

    return Faults()


@pytest.fixture
def backoff_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """boto3's retry backoff, recorded instead of slept, so fault tests stay fast."""
    import types

    import botocore.endpoint

    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


# ---- the table's stream and the pumping guard's consumer (handlers/stream.py) ----------------------


def enable_stream(aws: Aws) -> str:
    """The stream the deployment gives the table (NEW_AND_OLD_IMAGES); its ARN."""
    return str(
        aws.client("dynamodb").update_table(
            TableName=TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        )["TableDescription"]["LatestStreamArn"]
    )


def stream_records(stream_arn: str) -> list[dict[str, Any]]:
    """Every record of the stream so far, as DynamoDB Streams returns them."""
    import boto3

    from deploy.stream_records import read_stream

    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
    )
    return read_stream(streams, stream_arn)


def lambda_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The records as Lambda delivers them: JSON, binary values in base64, times in epoch seconds."""
    from local.streams import as_lambda_json

    return json.loads(json.dumps({"Records": as_lambda_json(records)}))


@pytest.fixture
def stream(aws, monkeypatch: pytest.MonkeyPatch):
    """handlers/stream.py as a cold start imports it, with its clock in the test's hands."""
    for name, value in {
        "OTP_KMS_KEY_ID": aws.key_id,
        "OTP_DIGEST_KEY_ID": aws.digest_key_id,
        "OTP_TABLE_NAME": TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    module = sys.modules.get("handlers.stream")
    module = importlib.reload(module) if module else importlib.import_module("handlers.stream")
    now = [int(time.time())]
    monkeypatch.setattr(module, "clock", lambda: now[0])

    def invoke(event: dict[str, Any], at: int) -> dict[str, Any]:
        from local.events import LambdaContext

        now[0] = at
        return module.lambda_handler(event, LambdaContext(function_name="otp-stream"))

    invoke.module = module  # type: ignore[attr-defined]
    return invoke
