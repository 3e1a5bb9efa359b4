"""`SIGV4=true make run`: the runner refuses what API Gateway's IAM authorizer refuses, before any handler runs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local import sigv4

# The one import of the runner's start and stop helpers in these tests (they are moving into local/).
from tests.e2e.conftest import Runner, start_runner, stop_runner

pytestmark = pytest.mark.e2e

REGION = "ap-south-1"


def start_signed_runner(tmp: Path, **settings: str) -> Runner:
    """A runner with SIGV4=true in the contract's default region (the hostile shell's AWS_REGION is cleared)."""
    return start_runner(tmp, SIGV4="true", AWS_REGION="", **settings)


@pytest.fixture(scope="module")
def signed_runner(runner_logs: Path) -> Iterator[Runner]:
    started = start_signed_runner(runner_logs)
    yield started
    stop_runner(started)
    assert started.process.returncode == 0, started.terminal()


def send(
    runner: Runner,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    sent_body: bytes | None = None,
    sent_path: str | None = None,
    secret: str = sigv4.SECRET_ACCESS_KEY,
    region: str = REGION,
    at: datetime | None = None,
) -> requests.Response:
    """Sign one request with botocore, then send it, or a changed body or path under that signature."""
    request = AWSRequest(method=method, url=runner.url + path, data=body, headers={"Content-Type": "application/json"})
    clock = (at or datetime.now(UTC)).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=clock):
        SigV4Auth(Credentials("local", secret), "execute-api", region).add_auth(request)
    return requests.request(
        method,
        runner.url + (sent_path or path),
        data=body if sent_body is None else sent_body,
        headers=dict(request.headers),
        timeout=30,
    )


def generate_body(destination: str) -> bytes:
    return json.dumps({"channel": "sms", "destination": destination}).encode()


def assert_refused_before_the_handler(runner: Runner, reply: requests.Response, destination: str) -> None:
    assert reply.status_code == 403, reply.text
    body = reply.json()
    assert list(body) == ["message"] and body["message"], body  # API Gateway's shape, not the service's
    assert not [m for m in runner.outbox() if m["destination"] == destination], "a handler ran and sent a code"


def test_a_signed_request_reaches_the_handler(signed_runner):
    reply = send(signed_runner, "POST", "/generate", generate_body("+14155552671"))
    assert reply.status_code == 201, reply.text
    assert [m for m in signed_runner.outbox() if m["destination"] == "+14155552671"]


def test_an_unsigned_request_is_refused(signed_runner):
    reply = requests.post(signed_runner.url + "/generate", data=generate_body("+14155552672"), timeout=30)
    assert_refused_before_the_handler(signed_runner, reply, "+14155552672")
    assert reply.json() == {"message": "Forbidden"}


def test_a_wrong_secret_is_refused(signed_runner):
    reply = send(signed_runner, "POST", "/generate", generate_body("+14155552673"), secret="wrong")
    assert_refused_before_the_handler(signed_runner, reply, "+14155552673")
    assert "signature we calculated does not match" in reply.json()["message"]


def test_a_signature_over_another_body_is_refused(signed_runner):
    signed_for = generate_body("+14155552674")
    reply = send(signed_runner, "POST", "/generate", signed_for, sent_body=generate_body("+14155552675"))
    assert_refused_before_the_handler(signed_runner, reply, "+14155552675")


def test_a_signature_over_another_path_is_refused(signed_runner):
    body = generate_body("+14155552676")
    reply = send(signed_runner, "POST", "/verify", body, sent_path="/generate")
    assert_refused_before_the_handler(signed_runner, reply, "+14155552676")


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_signature_more_than_five_minutes_off_is_refused(signed_runner, skew):
    reply = send(signed_runner, "POST", "/generate", generate_body("+14155552677"), at=datetime.now(UTC) + skew)
    assert_refused_before_the_handler(signed_runner, reply, "+14155552677")
    assert reply.json()["message"].startswith("Signature")


def test_another_region_is_refused(signed_runner):
    reply = send(signed_runner, "POST", "/generate", generate_body("+14155552678"), region="us-east-1")
    assert_refused_before_the_handler(signed_runner, reply, "+14155552678")


def test_local_routes_need_no_signature(signed_runner):
    assert requests.get(signed_runner.url + "/_local/outbox", timeout=30).status_code == 200
    assert requests.get(signed_runner.url + "/_local/openapi.json", timeout=30).status_code == 200


def test_status_and_cancel_are_checked_too(signed_runner):
    for method, path in (("GET", "/verifications/abc"), ("POST", "/verifications/abc/cancel")):
        unsigned = requests.request(method, signed_runner.url + path, timeout=30)
        assert unsigned.status_code == 403 and unsigned.json() == {"message": "Forbidden"}
        assert send(signed_runner, method, path).status_code != 403


def test_the_banner_prints_the_credentials_and_region(signed_runner):
    terminal = signed_runner.terminal()
    assert "access key id 'local'" in terminal and "secret access key 'local'" in terminal
    assert f"region {REGION}" in terminal
    assert f'--aws-sigv4 "aws:amz:{REGION}:execute-api" --user local:local' in terminal


def test_a_refusal_is_in_the_access_log(signed_runner):
    requests.post(signed_runner.url + "/verify", data=b"{}", timeout=30)

    def logged() -> bool:
        lines = [json.loads(line) for line in signed_runner.logs().splitlines() if line.startswith("{")]
        return any(
            line.get("message") == "access" and line["status"] == 403 and line["path"] == "/verify" for line in lines
        )

    # The access line is written after the answer is sent: give a busy machine time to write it.
    deadline = time.monotonic() + 30
    while not logged() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert logged()
