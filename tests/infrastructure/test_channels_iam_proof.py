"""The generate handler with each provider, as the packaged template configures it, against its role.

The generate function's environment is the packaged template's, resolved for a stack whose table
and keys are the embedded emulator's (moto, with the local End User Messaging and Social stand-in
that `make run` uses). Real API Gateway events go through the real handler; every AWS request it
makes is recorded as IAM authorizes it (deploy/recorder.py) and evaluated against the generate
role's resolved policies and the keys' policies with @cloud-copilot/iam-simulate. The same requests
made by the verify and verifications roles must be refused.

With these providers and smsFeedback on (the default), the pumping guard reports RECEIVED for a
verified code: its handler gets the table stream's records of a real generate and verify, and
its PutMessageFeedback must be allowed to its role alone.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from deploy import iam_proof
from deploy.recorder import IamRequest, Recorder
from deploy.template_values import Resolver, StackValues
from tests.infrastructure.test_channels_deploy import ROLES, deployed_functions

pytestmark = pytest.mark.deploy

REGION = "ap-south-1"
ACCOUNT = "123456789012"  # moto's: the emulator's table and keys live in it
TABLE = "otp_channels_proof"
PHONE = "+919876543210"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    from local import stack
    from local.emulator import Emulator, isolate_from_real_aws

    saved = dict(os.environ)
    running = Emulator(REGION)
    running.start()
    try:
        isolate_from_real_aws(running.url, REGION)
        running.keys = running.provision(stack.table_shape(stack.load()), TABLE, "otp@example.com")
        # The table has its stream, as storage.yml gives it; the guard reads it.
        assert running.stream_arn, "the emulated table has no stream"
        yield running
    finally:
        running.stop()
        os.environ.clear()
        os.environ.update(saved)


def stack_values(template: dict, keys: tuple[str, str], stream_arn: str = "") -> StackValues:
    parameters = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
    physical = {name: f"otp-ci-{name}" for name in template["Resources"]}
    physical["OtpTable"], physical["OtpProtectConfiguration"] = TABLE, "protect-stackmade0123"
    arns = {name: f"arn:aws:test:{REGION}:{ACCOUNT}:resource/{name}" for name in template["Resources"]}
    arns.update({role: f"arn:aws:iam::{ACCOUNT}:role/{role}" for role in ROLES.values()})
    arns["OtpTable"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
    arns["OtpKey"], arns["OtpDigestKey"] = keys
    arns["OtpProtectConfiguration"] = (
        f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:protect-configuration/protect-stackmade0123"
    )
    stream = stream_arn or f"{arns['OtpTable']}/stream/2026-12-01T00:00:00.000"
    return StackValues(REGION, ACCOUNT, parameters, physical, arns, {"OtpTable.StreamArn": stream})


def generate_requests(template: dict, values: StackValues, channels: list[str]) -> list[IamRequest]:
    """What the generate handler asks of AWS for one code per channel, with the template's settings."""
    from bench.service import load_handlers
    from otp.aws.clients import reset_clients

    variables = template["Resources"]["GenerateLambdaFunction"]["Properties"]["Environment"]["Variables"]
    settings = {k: str(v) for k, v in Resolver(template, values).resolve(variables).items() if str(v)}
    recorder = Recorder("generate", REGION, ACCOUNT, "id")
    reset_clients()
    recorder.install()
    try:
        # One record per number: the channels share its cooldown and window, which would refuse the second.
        limits_off = {"OTP_RESEND_COOLDOWN_SECONDS": "0", "OTP_MAX_SENDS_PER_WINDOW": "0"}
        handlers = load_handlers({**settings, **limits_off, "OTP_EMAIL_SENDER": "otp@example.com"})
        for channel in channels:
            reply = handlers.generate_code({"channel": channel, "destination": PHONE, "purpose": channel})
            assert reply.status == 201, (channel, reply.body)
    finally:
        recorder.uninstall()
        reset_clients()
    return recorder.requests


@pytest.mark.parametrize(
    ("variant", "channels"), [("eum", ["sms", "voice", "whatsapp"]), ("notify", ["sms", "voice", "whatsapp"])]
)
def test_every_request_generate_makes_with_the_provider_is_allowed_and_only_for_generate(
    channel_templates, emulator, variant, channels
):
    template = channel_templates[variant]
    values = stack_values(template, emulator.keys)
    requests = generate_requests(template, values, channels)
    sends = [r for r in requests if r.action in iam_proof.SEND_ACTIONS]
    assert len({r.operation for r in sends}) == len(channels), [r.operation for r in sends]
    assert all(not r.action.startswith("sns:") for r in requests)  # the SMS went by the provider, not SNS
    controls = iam_proof.send_controls(requests)
    decisions = iam_proof.decide(
        requests + [c.request for c in controls], deployed_functions(ACCOUNT), template, values
    )
    denied = [
        json.dumps({**r.to_json(), "decision": d}) for r, d in zip(requests, decisions, strict=False) if d != "Allowed"
    ]
    assert denied == []
    allowed = [c.description for c, d in zip(controls, decisions[len(requests) :], strict=True) if d == "Allowed"]
    assert controls and allowed == []


def _environment(template: dict, values: StackValues, function: str) -> dict[str, str]:
    variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    return {k: str(v) for k, v in Resolver(template, values).resolve(variables).items() if str(v)}


def guard_requests(template: dict, values: StackValues, emulator: Any) -> tuple[list[IamRequest], list[dict], set[str]]:
    """One sms code generated and verified, then the guard's invocation with the stream's records of it."""
    from bench.service import load_handlers
    from deploy import stream_records
    from local.events import LambdaContext
    from otp.aws.clients import reset_clients

    reset_clients()
    settings = _environment(template, values, "GenerateLambdaFunction")
    handlers = load_handlers({**settings, "OTP_EMAIL_SENDER": "otp@example.com"})
    number = f"+9198765{len(emulator.messaging.messages()):05d}"  # a fresh record per variant
    vid = (
        handlers.generate_code({"channel": "sms", "destination": number})
        .expect(201, "generate")
        .body["verification_id"]
    )
    [sent] = [m for m in emulator.messaging.messages() if m.destination == number]
    code = re.search(r"(?<!\d)\d{6}(?!\d)", sent.body).group(0)  # type: ignore[union-attr]
    handlers.verify_code({"destination": number, "code": code}).expect(200, "verify")

    # This variant's number only: the emulator, and its stream, serve every variant.
    records = [
        record
        for record in stream_records.read_stream(emulator.client("dynamodbstreams"), emulator.stream_arn)
        if vid in json.dumps(record.get("dynamodb", {}).get("NewImage", {}), default=str)
    ]
    patterns = stream_records.filter_patterns(template, "PumpingGuardLambdaFunction")
    event = stream_records.lambda_event(records, patterns, emulator.stream_arn, REGION)

    recorder = Recorder("pumpingGuard", REGION, ACCOUNT, "id")
    for name in [name for name in os.environ if name.startswith("OTP_")]:
        del os.environ[name]
    os.environ.update(_environment(template, values, "PumpingGuardLambdaFunction"))
    reset_clients()
    recorder.install()
    try:
        module = sys.modules.get("handlers.stream")
        module = importlib.reload(module) if module else importlib.import_module("handlers.stream")
        answer = module.lambda_handler(event, LambdaContext(function_name="otp-ci-pumpingGuard"))
    finally:
        recorder.uninstall()
        reset_clients()
    assert answer == {"batchItemFailures": []}
    kept = {
        entry["M"]["msg"]["S"]
        for record in records
        for entry in record["dynamodb"].get("NewImage", {}).get("codes", {}).get("M", {}).values()
        if "msg" in entry["M"]
    }
    return recorder.requests, emulator.messaging.feedback(), kept


@pytest.mark.parametrize("variant", ["eum", "notify"])
def test_the_guard_reports_delivery_feedback_and_only_its_role_may(channel_templates, emulator, variant):
    template = channel_templates[variant]
    values = stack_values(template, emulator.keys, emulator.stream_arn)
    requests, feedback, kept = guard_requests(template, values, emulator)
    [reported] = [r for r in requests if r.action == "sms-voice:PutMessageFeedback"]
    # The id generate kept from the send's answer, in the same write's stream record.
    [message_id] = kept
    assert reported.resource == f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:message/{message_id}"
    assert {"MessageId": reported.resource.rsplit("/", 1)[1], "MessageFeedbackStatus": "RECEIVED"} in feedback
    keys = [str(k) for r in requests for k in r.context.get("dynamodb:LeadingKeys", [])]
    assert keys and all(k.startswith("pumping#") for k in keys)
    controls = iam_proof.guard_controls(requests, feedback_allowed=True)
    controls += [
        iam_proof.Control(f"{function} reports delivery feedback", replace(reported, function=function))
        for function in ("generate", "verify", "verifications")
    ]
    decisions = iam_proof.decide(
        requests + [c.request for c in controls], deployed_functions(ACCOUNT), template, values
    )
    denied = [f"{r.action} {r.resource} {d}" for r, d in zip(requests, decisions, strict=False) if d != "Allowed"]
    assert denied == []
    allowed = [c.description for c, d in zip(controls, decisions[len(requests) :], strict=True) if d == "Allowed"]
    assert len(controls) >= 8 and allowed == []


def test_the_guard_gets_no_feedback_permission_when_feedback_is_off(channel_templates, emulator):
    template = channel_templates["eum"]
    values = stack_values(template, emulator.keys, emulator.stream_arn)
    values.parameters["SmsFeedback"] = "false"
    reported = iam_proof.feedback_request(
        "pumpingGuard", IamRequest("pumpingGuard", "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t")
    )
    assert iam_proof.decide([reported], deployed_functions(ACCOUNT), template, values) == ["ImplicitlyDenied"]
    values.parameters["SmsFeedback"] = "true"
    assert iam_proof.decide([reported], deployed_functions(ACCOUNT), template, values) == ["Allowed"]
