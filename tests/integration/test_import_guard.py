"""What each handler loads when a cold start imports it: a test of imports, not of timing.

Every module a handler imports is paid for at every cold start. These would be paid for nothing:
email validation for SMS and verify, DNS, boto3 on top of botocore, the idempotency utility (only
for requests with an Idempotency-Key), and the delivery adapters and outgoing messages for verify.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEVER_AT_IMPORT = {"email_validator", "dns", "boto3", "aws_lambda_powertools.utilities.idempotency", "moto"}
ENV = {"OTP_KMS_KEY_ID": "alias/guard", "OTP_DIGEST_KEY_ID": "alias/guard-digests", "AWS_DEFAULT_REGION": "ap-south-1"}


def imported_by(module: str) -> tuple[set[str], list[str]]:
    probe = (
        f"import sys, json, {module}\n"
        "from otp.aws.clients import created_clients\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'clients': created_clients()}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTP_", "AWS_"))} | ENV
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    return set(loaded["modules"]), loaded["clients"]


def unwanted(loaded: set[str], names: set[str]) -> set[str]:
    return {m for m in loaded if any(m == n or m.startswith(n + ".") for n in names)}


@pytest.mark.parametrize("handler", ["handlers.generate", "handlers.verify", "handlers.verifications"])
def test_a_cold_start_loads_nothing_it_does_not_need(handler):
    loaded, clients = imported_by(handler)
    assert handler in loaded
    assert not unwanted(loaded, NEVER_AT_IMPORT)
    assert clients == []  # no client, so no service model, until a request needs one


@pytest.mark.parametrize("handler", ["handlers.verify", "handlers.verifications"])
def test_verify_and_status_load_no_delivery_adapter(handler):
    loaded, _ = imported_by(handler)
    assert not unwanted(loaded, {"otp.aws.delivery", "otp.domain.outbound", "otp.messages"})
    # The pumping guard is generate's and the consumer's: these hold only its settings.
    assert not unwanted(
        loaded, {"otp.domain.pumping", "otp.use_cases.pumping", "otp.aws.pumping", "otp.aws.pumping_stream"}
    )


@pytest.mark.parametrize(
    ("handler", "own"),
    [
        ("handlers.generate", "otp.http.generate_models"),
        ("handlers.verify", "otp.http.verify_models"),
        ("handlers.verifications", "otp.http.verification_models"),
    ],
)
def test_each_function_builds_only_its_own_routes_models(handler, own):
    loaded, _ = imported_by(handler)
    every = {"otp.http.generate_models", "otp.http.verify_models", "otp.http.verification_models"}
    assert own in loaded
    assert not unwanted(loaded, every - {own})
