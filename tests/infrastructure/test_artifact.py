"""The zip that deploys, run as Lambda runs it: only the zip, the layer and the runtime's boto3.

A module the zip forgets, a test-only dependency it drags in, or an import that the layer and the
runtime do not provide fails here, where every other test would pass from the source tree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from local import stack
from local.artifact import LambdaArtifact
from local.emulator import Emulator
from local.events import http_api_event

pytestmark = pytest.mark.skipif(
    sys.version_info[:2] != (3, 13), reason="the artifact runs on the Lambda runtime's Python, 3.13, not found here"
)

REGION = "ap-south-1"
TEST_ONLY = {
    "moto",
    "pytest",
    "hypothesis",
    "requests",
    "werkzeug",
    "yaml",
    "cfnlint",
    "ruff",
    "mypy",
    "tests",
    "local",
}


@pytest.fixture(scope="module")
def artifact(packaged: Path, tmp_path_factory) -> LambdaArtifact:
    [archive] = packaged.glob("*.zip")
    return LambdaArtifact.unpack(archive, tmp_path_factory.mktemp("lambda"))


@pytest.fixture(scope="module")
def emulator():
    started = Emulator(REGION)
    started.start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def environment(emulator) -> dict[str, str]:
    key, digest_key = emulator.provision(stack.table_shape(stack.load()), "otp-artifact", "otp@example.com")
    return {
        "PATH": "/usr/bin:/bin",
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "OTP_TABLE_NAME": "otp-artifact",
        "OTP_KMS_KEY_ID": key,
        "OTP_DIGEST_KEY_ID": digest_key,
        "OTP_EMAIL_SENDER": "otp@example.com",
        "POWERTOOLS_METRICS_NAMESPACE": "OtpService",
    }


def handlers() -> dict[str, str]:
    return {name: function["handler"] for name, function in stack.load()["functions"].items()}


# What the first SMS generate and the first verify must not load (the cold start pays for every module).
NEVER_FOR_SMS = {"email_validator", "dns", "boto3", "aws_lambda_powertools.utilities.idempotency"}
DELIVERY = {"otp.aws.delivery"}


def assert_lean_imports(generate_modules, verify_modules):
    for modules, unwanted in ((generate_modules, NEVER_FOR_SMS), (verify_modules, NEVER_FOR_SMS | DELIVERY)):
        loaded = set(modules or [])
        assert loaded, "the function reported no modules"
        assert not {m for m in loaded if any(m == u or m.startswith(u + ".") for u in unwanted)}


def test_the_zip_carries_no_test_only_dependency(artifact):
    top = {path.name for path in artifact.task.iterdir()}
    assert not top & TEST_ONLY, top & TEST_ONLY
    assert not {"boto3", "botocore", "pydantic", "aws_lambda_powertools"} & top  # the layer and runtime give these


def test_generate_verify_and_read_back_from_the_deployed_zip(artifact, environment, emulator):
    functions = {name: artifact.start(handler, environment) for name, handler in handlers().items()}
    logs = {}
    try:
        body = json.dumps({"channel": "sms", "destination": "+14155552671", "client_ip": "203.0.113.7"})
        created = functions["generate"].invoke(http_api_event("POST", "/generate", body))
        assert created["statusCode"] == 201, created
        vid = json.loads(created["body"])["verification_id"]
        [message] = [m for m in emulator.collect() if m.destination == "+14155552671"]
        code = re.search(r"\b\d{6}\b", message.body).group(0)

        verified = functions["verify"].invoke(
            http_api_event("POST", "/verify", json.dumps({"destination": "+14155552671", "code": code}))
        )
        assert verified["statusCode"] == 200, verified
        assert json.loads(verified["body"])["verified"] is True

        status = functions["verifications"].invoke(
            http_api_event(
                "GET",
                f"/verifications/{vid}",
                None,
                path_parameters={"verification_id": vid},
                route_key="GET /verifications/{verification_id}",
            )
        )
        assert status["statusCode"] == 200, status
        assert json.loads(status["body"])["status"] == "approved"
        assert_lean_imports(functions["generate"].modules, functions["verify"].modules)

        # An email from a zip without dnspython: email-validator never needs it here.
        emailed = functions["generate"].invoke(
            http_api_event(
                "POST",
                "/generate",
                json.dumps({"channel": "email", "destination": "ada@example.com", "locale": "pt-BR"}),
            )
        )
        assert emailed["statusCode"] == 201, emailed
        assert json.loads(emailed["body"])["locale"] == "pt"  # langcodes and the message files are in the zip
        assert not (artifact.task / "dns").exists()
        for name, function in functions.items():
            # Everything it imported came from the three folders Lambda provides, none from this checkout.
            loaded = {module.split(".")[0] for module in function.modules or []}
            assert not loaded & TEST_ONLY, (name, loaded & TEST_ONLY)
    finally:
        for name, function in functions.items():
            logs[name] = function.stop()
    assert code not in "".join(logs.values())
