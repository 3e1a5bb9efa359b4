"""`serverless package` once per run: the template tests and the artifact tests read the same output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from deploy.packaging_lock import one_packaging_at_a_time

ROOT = Path(__file__).resolve().parents[2]


def package(out: Path, *params: str) -> Path:
    # Packaging must need no AWS credentials at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = ["npx", "--no-install", "serverless", "package", "--stage", "ci", "--region", "ap-south-1"]
    with one_packaging_at_a_time(ROOT):  # pytest-xdist's workers package in the same folder
        result = subprocess.run(
            [*command, *(f"--param={param}" for param in params), "--package", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env={**env, "SLS_TELEMETRY_DISABLED": "1"},
        )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="session")
def packaged(tmp_path_factory) -> Path:
    return package(tmp_path_factory.mktemp("serverless-package"))


@pytest.fixture(scope="session")
def packaged_with_snapstart(tmp_path_factory) -> Path:
    return package(tmp_path_factory.mktemp("serverless-package-snapstart"), "snapStart=true")


@pytest.fixture(scope="session")
def template(packaged: Path) -> dict:
    return json.loads((packaged / "cloudformation-template-update-stack.json").read_text())


@pytest.fixture(scope="session")
def resources(template: dict) -> dict:
    return template["Resources"]


# Two packagings cover every provider: one with End User Messaging for SMS (a phone number's ARN,
# a protect configuration the stack creates, a configuration set by name) and voice (a pool) and
# WhatsApp by id; one with Notify for SMS and voice, a configuration set and WhatsApp by ARN.
# The choices are CloudFormation parameters, so the tests resolve others from the same templates.
CHANNELS_ACCOUNT = "111122223333"
_SMS_VOICE = f"arn:aws:sms-voice:ap-south-1:{CHANNELS_ACCOUNT}"
CHANNEL_VARIANTS = {
    "eum": (
        "smsProvider=eum",
        f"smsOriginationIdentity={_SMS_VOICE}:phone-number/phone-0123456789abcdef",
        "createProtectConfiguration=true",
        "smsAllowedCountries=IN,US",
        "smsConfigurationSet=otp-events",
        "voiceProvider=eum",
        f"voiceOriginationIdentity={_SMS_VOICE}:pool/pool-0123456789abcdef",
        "whatsappPhoneNumberId=phone-number-id-0123456789abcdef0123456789abcdef",
        "whatsappLanguages=en_US,pt_BR",
    ),
    "notify": (
        "smsProvider=notify",
        "voiceProvider=notify",
        "notifyConfigurationId=nc-0123456789abcdef",
        "notifyTemplateId=otp-template-1",
        f"smsConfigurationSet={_SMS_VOICE}:configuration-set/otp-events",
        "whatsappPhoneNumberId="
        f"arn:aws:social-messaging:ap-south-1:{CHANNELS_ACCOUNT}:phone-number-id/fedcba9876543210fedcba9876543210",
    ),
}


@pytest.fixture(scope="session")
def channel_templates(tmp_path_factory) -> dict[str, dict]:
    found = {}
    for name, params in CHANNEL_VARIANTS.items():
        out = package(tmp_path_factory.mktemp(f"serverless-package-{name}"), *params)
        found[name] = json.loads((out / "cloudformation-template-update-stack.json").read_text())
    return found
