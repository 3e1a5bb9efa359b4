"""The AWS emulator answers only the runner's own workers (security finding 4).

Before, a web page found the emulator's port, scanned the table, decrypted every code through the
emulated KMS, read /moto-api/data.json and reset everything with POST /moto-api/reset. Now the
emulator checks Host, refuses browsers, keeps /moto-api shut, and recomputes every SigV4 signature
against a secret of the run. These tests attack an emulator of our own (to hold its secret and
prove the right signature passes) and the running runner's emulator (whose secret they lack).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local import stack
from local.emulator import Emulator, EmulatorCredentials

REGION = "ap-south-1"
TABLE = "otp-guard-check"
LIST_TABLES = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    started = Emulator(REGION, EmulatorCredentials.fresh())
    started.start()
    try:
        started.provision(stack.table_shape(stack.load()), TABLE, "otp@example.com")
        yield started
    finally:
        started.stop()


def client(url: str, service: str, key_id: str, secret: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def signed(
    url: str,
    credentials: EmulatorCredentials,
    body: bytes,
    when: datetime | None = None,
    method: str = "POST",
    path: str = "/",
) -> dict[str, str]:
    """Headers of a request (by default DynamoDB ListTables) signed by botocore's own signer, at ``when``."""
    request = AWSRequest(method=method, url=url + path, headers=dict(LIST_TABLES), data=body)
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = stamp
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(credentials.access_key_id, credentials.secret_access_key), "dynamodb", REGION)
    headers = signer.headers_to_sign(request)
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
        f"SignedHeaders={signer.signed_headers(headers)}, Signature={signature}"
    )
    return dict(request.headers.items())


def refused(reply: requests.Response) -> bool:
    return reply.status_code == 403 and "AccessDenied" in reply.text


def test_calls_signed_with_the_runs_secret_pass(emulator):
    # The control for every refusal below: the guard is not simply shut.
    credentials = emulator.credentials
    dynamodb = client(emulator.url, "dynamodb", credentials.access_key_id, credentials.secret_access_key)
    assert TABLE in dynamodb.list_tables()["TableNames"]
    reply = requests.post(emulator.url + "/", data=b"{}", headers=signed(emulator.url, credentials, b"{}"), timeout=10)
    assert reply.status_code == 200 and TABLE in reply.json()["TableNames"]
    assert not [name for name in reply.headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    ("key_id", "secret"),
    [("local", "local"), (None, "a-guess"), ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")],
    ids=["public-local-pair", "right-key-id-wrong-secret", "some-other-key"],
)
def test_calls_signed_with_any_other_secret_are_refused(emulator, key_id, secret):
    key_id = key_id or emulator.credentials.access_key_id
    for service, call in (
        ("dynamodb", "scan"),
        ("kms", "list_keys"),
        ("sns", "list_topics"),
        ("ses", "list_identities"),
    ):
        attacker = client(emulator.url, service, key_id, secret)
        with pytest.raises(botocore.exceptions.ClientError) as refusal:
            getattr(attacker, call)(**({"TableName": TABLE} if call == "scan" else {}))
        assert refusal.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, service
        assert "AccessDenied" in refusal.value.response["Error"]["Code"], service


def test_unsigned_tampered_and_stale_requests_are_refused(emulator):
    url, credentials = emulator.url, emulator.credentials
    assert refused(requests.post(url + "/", data=b"{}", headers=LIST_TABLES, timeout=10))
    headers = signed(url, credentials, b"{}")
    assert refused(requests.post(url + "/", data=b'{"Limit": 1}', headers=headers, timeout=10))  # other body
    lying = {**headers, "X-Amz-Content-SHA256": hashlib.sha256(b'{"Limit": 1}').hexdigest()}
    assert refused(requests.post(url + "/", data=b"{}", headers=lying, timeout=10))
    stale = signed(url, credentials, b"{}", when=datetime.now(UTC) - timedelta(minutes=6))
    assert refused(requests.post(url + "/", data=b"{}", headers=stale, timeout=10))
    # The same signature, fresh: passes (so the three above failed for the reason they test).
    assert requests.post(url + "/", data=b"{}", headers=headers, timeout=10).status_code == 200


def test_browser_requests_are_refused_even_with_a_valid_signature(emulator):
    url, port = emulator.url, emulator.url.rsplit(":", 1)[1]
    cases = {
        "rebound host": {"Host": f"attacker.example:{port}"},
        "localhost alias": {"Host": f"localhost:{port}"},
        "page origin": {"Origin": "http://attacker.example"},
        "fetch metadata": {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Site": "cross-site"},
    }
    for case, extra in cases.items():
        headers = {**signed(url, emulator.credentials, b"{}"), **extra}
        reply = requests.post(url + "/", data=b"{}", headers=headers, timeout=10)
        assert refused(reply), case
        assert "access-control-allow-origin" not in {name.lower() for name in reply.headers}, case
    preflight = requests.options(
        url + "/",
        headers={"Origin": "http://attacker.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert refused(preflight)
    assert not [name for name in preflight.headers if name.lower().startswith("access-control-")]


def test_the_control_api_is_closed_even_to_signed_callers(emulator):
    url, credentials = emulator.url, emulator.credentials
    for method, path in (("GET", "/moto-api/data.json"), ("POST", "/moto-api/reset"), ("GET", "/moto-api/")):
        assert refused(requests.request(method, url + path, timeout=10)), path
        headers = signed(url, credentials, b"", method=method, path=path)
        assert refused(requests.request(method, url + path, headers=headers, timeout=10)), path
    dynamodb = client(url, "dynamodb", credentials.access_key_id, credentials.secret_access_key)
    assert TABLE in dynamodb.list_tables()["TableNames"]  # no reset happened


# ---- the running runner's emulator, whose secret the test does not have ---------------------------


def emulator_url_of(runner) -> str:
    found = re.search(r"moto [\d.]+ on (http://127\.0\.0\.1:\d+)\)", runner.terminal())
    assert found, runner.terminal()
    return found.group(1)


def credentials_readable_from_proc(runner) -> set[tuple[str, str]]:
    """Every AWS credential pair in the environment of the runner or of any of its processes."""
    pairs = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != runner.process.pid:
                continue
            variables = dict(item.split("=", 1) for item in (entry / "environ").read_text().split("\0") if "=" in item)
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
        if "AWS_ACCESS_KEY_ID" in variables:
            pairs.add((variables["AWS_ACCESS_KEY_ID"], variables.get("AWS_SECRET_ACCESS_KEY", "")))
    return pairs


def test_the_attack_of_finding_4_fails_against_the_runner(runner):
    url = emulator_url_of(runner)
    port = url.rsplit(":", 1)[1]
    scan = json.dumps({"TableName": "otp-codes"})
    headers = {"X-Amz-Target": "DynamoDB_20120810.Scan", "Content-Type": "application/x-amz-json-1.0"}
    page = {**headers, "Origin": "http://attacker.example", "Host": f"attacker.example:{port}"}
    assert refused(requests.post(url + "/", data=scan, headers=page, timeout=10))
    assert refused(requests.post(url + "/", data=scan, headers=headers, timeout=10))
    assert refused(requests.get(url + "/moto-api/data.json", timeout=10))
    assert refused(requests.post(url + "/moto-api/reset", timeout=10))
    for key_id, secret in {("local", "local"), *credentials_readable_from_proc(runner)}:
        for service, call in (("dynamodb", "list_tables"), ("kms", "list_keys")):
            with pytest.raises(botocore.exceptions.ClientError) as refusal:
                getattr(client(url, service, key_id, secret), call)()
            assert refusal.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, (key_id, service)


def test_the_runner_still_serves_generate_and_verify_after_the_attack(runner):
    test_the_attack_of_finding_4_fails_against_the_runner(runner)
    _reply, code = runner.generate("+14155552671", purpose="after-attack")
    verified = runner.post("/verify", {"destination": "+14155552671", "purpose": "after-attack", "code": code})
    assert verified.status_code == 200 and verified.json()["verified"] is True
    assert runner.outbox()  # the outbox survived the attempted reset
