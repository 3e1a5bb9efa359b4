"""The generate handler with each provider, as the packaged template configures it, against its role.

The generate function's environment is the packaged template's, resolved for a stack whose table
and keys are the embedded emulator's (moto, with the local End User Messaging and Social stand-in
that `make run` uses). Real API Gateway events go through the real handler; every AWS request it
makes is recorded as IAM authorizes it (deploy/recorder.py) and evaluated against the generate
role's resolved policies and the keys' policies with @cloud-copilot/iam-simulate. The same requests
made by the verify and verifications roles must be refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
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
    from local.emulator import Emulator
    from local.runner import isolate_from_real_aws

    saved = dict(os.environ)
    running = Emulator(REGION)
    running.start()
    try:
        isolate_from_real_aws(running.url, REGION)
        running.keys = running.provision(stack.table_shape(stack.load()), TABLE, "otp@example.com")
        yield running
    finally:
        running.stop()
        os.environ.clear()
        os.environ.update(saved)


def stack_values(template: dict, keys: tuple[str, str]) -> StackValues:
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
    return StackValues(REGION, ACCOUNT, parameters, physical, arns)


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
