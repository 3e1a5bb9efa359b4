"""The zip that deploys, run as Lambda runs it: only the zip, the layer and the runtime's boto3.

A module the zip forgets, a test-only dependency it drags in, or an import that the layer and the
runtime do not provide fails here, where every other test would pass from the source tree.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import threading
from pathlib import Path

import botocore
import pytest
from werkzeug.serving import make_server

from local import stack
from local.artifact import OLDER_RUNTIME_SDK, LambdaArtifact, service_model_files
from local.emulator import Emulator
from local.events import http_api_event
from local.messaging import LocalMessaging

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

        # The guard from the zip: a schedule's tick reads its block list and applies expiries.
        ticked = functions["pumpingGuard"].invoke({"source": "aws.events", "detail-type": "Scheduled Event"})
        assert ticked == {"batchItemFailures": []}, ticked

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


# --- The End User Messaging adapters on the runtime's SDK ----------------------------------------
#
# The functions reach End User Messaging and Social through botocore, which the runtime provides.
# AWS documents no fixed SDK version for python3.13 (it "depends on the runtime version and your
# AWS Region"), so the zip ships the two services' models, and this runs its adapters both on the
# pinned botocore and on OLDER_RUNTIME_SDK, which has no socialmessaging and no SendNotify* at all.

SEND_THROUGH_EVERY_ADAPTER = r"""
import botocore
from otp.aws import clients
from otp.aws.sms import EumSmsSender, NotifySmsSender
from otp.aws.voice import EumVoiceSender, NotifyVoiceSender
from otp.aws.whatsapp import WhatsAppSender
from otp.domain.outbound import SmsMessage, VoiceMessage, WhatsAppMessage
from otp.messages import render_voice

def factory(service):
    return lambda: clients.client(service)

sms_voice, social = factory("pinpoint-sms-voice-v2"), factory("socialmessaging")
phone = "+14155552671"
voice = render_voice("es", "482910", "Acme", 120, "en")
call = VoiceMessage(phone, voice.ssml, voice.text, "482910", voice.language, voice.voice_id, 120)
receipts = [
    EumSmsSender(sms_voice, origination_identity="pool-0123").send_sms(SmsMessage(phone, "482910 Acme", "482910", 120)),
    NotifySmsSender(sms_voice, "notify-config-1").send_sms(SmsMessage(phone, "", "482910", 120)),
    EumVoiceSender(sms_voice, "+12025550123").send_voice(call),
    NotifyVoiceSender(sms_voice, "notify-config-1").send_voice(call),
    WhatsAppSender(social, "phone-number-id-0123456789abcdef").send_whatsapp(
        WhatsAppMessage(phone, "482910", "otp_code", "es_MX")
    ),
]
providers = [receipt.provider for receipt in receipts]
print(json.dumps({"botocore": botocore.__version__, "from": botocore.__file__, "receipts": providers}))
"""


@pytest.fixture(scope="module")
def older_sdk_artifact(packaged: Path, tmp_path_factory) -> LambdaArtifact:
    [archive] = packaged.glob("*.zip")
    return LambdaArtifact.unpack(archive, tmp_path_factory.mktemp("lambda-older-sdk"), runtime_sdk=OLDER_RUNTIME_SDK)


@pytest.fixture
def local_messaging():
    emulator = LocalMessaging()
    server = make_server("127.0.0.1", 0, emulator.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="local-messaging", daemon=True)
    thread.start()
    try:
        yield emulator, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def test_the_zip_ships_the_end_user_messaging_models_and_stays_under_budget(packaged: Path, artifact):
    [archive] = packaged.glob("*.zip")
    assert archive.stat().st_size < 2 * 1024 * 1024
    shipped = artifact.task / "otp" / "aws" / "models"
    for relative, content in service_model_files().items():
        assert (shipped / relative).read_bytes() == content, relative  # as the pinned botocore has them


@pytest.mark.parametrize("runtime", ["pinned", "older"])
def test_every_adapter_sends_from_the_zip_on_the_runtimes_sdk(
    runtime, artifact, older_sdk_artifact, environment, local_messaging
):
    emulator, url = local_messaging
    lambda_env = artifact if runtime == "pinned" else older_sdk_artifact
    if runtime == "older":
        # The precondition: this botocore alone could not make these calls.
        data = lambda_env.runtime / "botocore" / "data"
        assert not (data / "socialmessaging").exists()
        with gzip.open(data / "pinpoint-sms-voice-v2" / "2022-03-31" / "service-2.json.gz") as model:
            assert "SendNotifyTextMessage" not in json.load(model)["operations"]
    answer = json.loads(lambda_env.run(SEND_THROUGH_EVERY_ADAPTER, {**environment, "AWS_ENDPOINT_URL": url}))
    expected_version = OLDER_RUNTIME_SDK[1].split("==")[1] if runtime == "older" else botocore.__version__
    assert answer["botocore"] == expected_version
    assert answer["from"].startswith(str(lambda_env.runtime))
    assert answer["receipts"] == ["eum", "notify", "eum", "notify", "socialmessaging"]
    sent = emulator.messages()
    assert [m.channel for m in sent] == ["sms", "sms", "voice", "voice", "whatsapp"]
    spoken = {"voice": "4 8 2 9 1 0"}  # a call says the digits one by one
    assert all(spoken.get(m.channel, "482910") in m.body for m in sent)
