"""`serverless package` once per run: the template tests and the artifact tests read the same output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.packaging_lock import one_packaging_at_a_time

ROOT = Path(__file__).resolve().parents[2]


def package(out: Path, *params: str) -> Path:
    with one_packaging_at_a_time(ROOT):  # pytest-xdist's workers package in the same folder
        return _package(out, params)


def _package(out: Path, params: tuple[str, ...]) -> Path:
    # Packaging must need no AWS credentials at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = ["npx", "--no-install", "serverless", "package", "--stage", "ci", "--region", "ap-south-1"]
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


def package_once(tmp_path_factory: pytest.TempPathFactory, name: str, *params: str) -> Path:
    """One packaging per run for all of pytest-xdist's workers: each worker has its own session
    fixtures, and the packagings queue on one lock, so a second worker would wait for and then
    repeat the first one's work. The tests only read what it writes."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, which every worker's own folder sits in
    out = root / f"serverless-package-{name}"
    finished = out / ".packaged"
    with one_packaging_at_a_time(ROOT):
        if not finished.exists():
            shutil.rmtree(out, ignore_errors=True)  # what a failed attempt left
            _package(out, params)
            finished.write_text(" ".join(params))
    return out


@pytest.fixture(scope="session")
def packaged(tmp_path_factory) -> Path:
    return package_once(tmp_path_factory, "default")


@pytest.fixture(scope="session")
def packaged_with_snapstart(tmp_path_factory) -> Path:
    return package_once(tmp_path_factory, "snapstart", "snapStart=true")


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
        out = package_once(tmp_path_factory, name, *params)
        found[name] = json.loads((out / "cloudformation-template-update-stack.json").read_text())
    return found
