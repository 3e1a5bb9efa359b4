"""otp_client against a scripted HTTP server on 127.0.0.1: signing, typed answers, errors, retries."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

import otp_client
from local.sigv4 import SigV4Check
from otp_client import OtpClient

ROOT = Path(__file__).resolve().parents[2]
LOCAL = Credentials("local", "local")
GENERATED = {
    "verification_id": "v-1",
    "channel": "sms",
    "destination": "+91******3210",
    "purpose": "login",
    "locale": "en",
    "expires_at": "2026-12-01T10:05:00Z",
    "expires_in": 300,
    "resend_after": 30,
}


@dataclass
class Received:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Script:
    """Answers in turn: (status, body, headers), "drop" (close without answering) or ("stall", seconds)."""

    steps: list[Any]
    received: list[Received] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _ScriptedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        script = self.server.script
        script.received.append(Received(self.command, self.path, list(self.headers.items()), body))
        step = script.steps.pop(0) if script.steps else (500, {"error": {"code": "internal_error"}}, {})
        if step == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(step, tuple) and step[0] == "stall":
            time.sleep(step[1])
            self.close_connection = True
            return
        status, payload, headers = step
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer


class _ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True
    script: Script


@pytest.fixture
def server() -> Iterator[_ScriptedServer]:
    scripted = _ScriptedServer(("127.0.0.1", 0), _Handler)
    scripted.script = Script([])
    serving = threading.Thread(target=scripted.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    try:
        yield scripted
    finally:
        scripted.shutdown()
        scripted.server_close()
        serving.join(timeout=5)


def client_for(server: _ScriptedServer, *steps: Any, **options: Any) -> tuple[OtpClient, Script, list[float]]:
    server.script.steps.extend(steps)
    slept: list[float] = []
    options.setdefault("timeout", (2.0, 2.0))
    client = OtpClient(
        f"http://127.0.0.1:{server.server_address[1]}",
        region="ap-south-1",
        credentials=LOCAL,
        sleep=slept.append,
        **options,
    )
    return client, server.script, slept


def assert_signed(request: Received) -> None:
    refusal = SigV4Check("ap-south-1").refusal(request.method, request.path, "", request.headers, request.body)
    assert refusal is None, refusal


def error(http_status: int, code: str, **extra: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    return http_status, {"error": {"code": code, "message": "refused", **extra}}, {}


# --- typed answers and what is sent ---


def test_generate_sends_a_signed_json_body_with_client_ip_and_returns_typed_values(server):
    client, script, _ = client_for(server, (201, GENERATED, {}))
    sent = client.generate("sms", "+919876543210", purpose="login", client_ip="203.0.113.7")
    assert sent.verification_id == "v-1" and sent.expires_in == 300 and sent.resend_after == 30
    assert sent.expires_at == datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    (request,) = script.received
    assert request.path == "/generate" and request.header("content-type") == "application/json"
    # Optional fields left out are absent, never null: the service rejects unknown and null fields.
    assert request.json() == {
        "channel": "sms",
        "destination": "+919876543210",
        "purpose": "login",
        "client_ip": "203.0.113.7",
    }
    assert request.header("idempotency-key")  # made by the client, so a lost answer can be retried
    assert "Credential=local/" in (request.header("authorization") or "")
    assert_signed(request)


def test_verify_status_and_cancel_answers_are_typed(server):
    state = {
        "verification_id": "v-1",
        "status": "canceled",
        "channel": "sms",
        "destination": "+91******3210",
        "purpose": "login",
        "attempts_remaining": 4,
        "created_at": "2026-12-01T10:00:00Z",
        "expires_at": "2026-12-01T10:05:00Z",
        "resend_available_at": "2026-12-01T10:00:30Z",
        "a_field_added_later": True,
    }
    verified = {"verified": True, "verification_id": "v-1", "channel": "sms", "destination": "x", "purpose": "p"}
    client, script, _ = client_for(server, (200, verified, {}), (200, state, {}), (200, state, {}))
    assert client.verify("+919876543210", "123456", verification_id="v-1", client_ip="::1").verification_id == "v-1"
    assert client.get_verification("v-1").attempts_remaining == 4
    canceled = client.cancel_verification("v-1")
    assert canceled.status == "canceled" and canceled.resend_available_at.second == 30
    verify, status, cancel = script.received
    assert verify.json()["client_ip"] == "::1" and verify.header("idempotency-key") is None
    assert (status.method, status.path, cancel.method, cancel.path) == (
        "GET",
        "/verifications/v-1",
        "POST",
        "/verifications/v-1/cancel",
    )
    for request in script.received:
        assert_signed(request)


def test_a_verification_id_cannot_reach_another_route(server):
    client, script, _ = client_for(server, error(404, "not_found"))
    with pytest.raises(otp_client.NotFound):
        client.get_verification("../generate")
    assert script.received[0].path == "/verifications/..%2Fgenerate"


def test_the_client_imports_nothing_but_botocore_and_the_standard_library():
    program = (
        "import sys, otp_client; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names))))"
    )
    found = subprocess.run(
        [sys.executable, "-c", "import json; " + program], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert found.returncode == 0, found.stderr
    # botocore and what it imports itself (certifi only when installed); no pydantic, Powertools, otp.
    botocore_and_its_own = {"botocore", "urllib3", "jmespath", "dateutil", "six", "certifi"}
    assert set(json.loads(found.stdout)) - {"__main__", "otp_client"} <= botocore_and_its_own


# --- errors ---


@pytest.mark.parametrize(
    ("answer", "kind", "fields"),
    [
        (error(400, "invalid_request", details=[{"field": "code", "message": "6 digits"}]), "InvalidRequest", {}),
        (error(403, "invalid_code", attempts_remaining=2), "InvalidCode", {"attempts_remaining": 2}),
        (error(403, "destination_not_allowed", reason="country"), "DestinationNotAllowed", {"reason": "country"}),
        (error(403, "origin_not_allowed"), "OriginNotAllowed", {}),
        (error(404, "not_found"), "NotFound", {}),
        (error(409, "not_pending", status="approved"), "NotPending", {"status": "approved"}),
        (error(409, "idempotency_conflict"), "IdempotencyConflict", {}),
        (error(410, "expired"), "Expired", {}),
        (error(413, "payload_too_large"), "PayloadTooLarge", {}),
        (error(415, "unsupported_media_type"), "UnsupportedMediaType", {}),
        (
            (429, {"error": {"code": "rate_limited", "message": "m", "retry_after": 17, "reason": "cooldown"}}, {}),
            "RateLimited",
            {"retry_after": 17, "reason": "cooldown"},
        ),
        (error(429, "too_many_attempts"), "TooManyAttempts", {}),
        (error(502, "delivery_failed"), "DeliveryFailed", {}),
        (error(500, "internal_error", request_id="req-9"), "InternalError", {"request_id": "req-9"}),
        ((403, {"message": "Forbidden"}, {"apigw-requestid": "gw-1"}), "Forbidden", {"request_id": "gw-1"}),
        ((429, {"message": "Too Many Requests"}, {}), "Throttled", {}),
        ((404, {"message": "Not Found"}, {}), "UnexpectedResponse", {"http_status": 404}),
        ((502, b"<html>Bad Gateway</html>", {}), "UnexpectedResponse", {"http_status": 502}),
        (error(418, "a_code_from_the_future"), "UnexpectedResponse", {"http_status": 418}),
    ],
)
def test_each_error_is_its_exception_with_its_fields_and_is_not_retried(server, answer, kind, fields):
    client, script, slept = client_for(server, answer)
    with pytest.raises(getattr(otp_client, kind)) as raised:
        client.generate("sms", "+919876543210")
    assert type(raised.value).__name__ == kind and raised.value.http_status == answer[0]
    for name, value in fields.items():
        assert getattr(raised.value, name) == value
    assert len(script.received) == 1 and slept == []


def test_invalid_request_details_are_typed(server):
    client, _, _ = client_for(server, error(400, "invalid_request", details=[{"field": "code", "message": "digits"}]))
    with pytest.raises(otp_client.InvalidRequest) as raised:
        client.verify("+919876543210", "12")
    assert raised.value.details == [otp_client.FieldProblem("code", "digits")]


def test_an_error_never_repeats_the_submitted_code(server):
    client, _, _ = client_for(server, error(403, "invalid_code", attempts_remaining=4))
    with pytest.raises(otp_client.InvalidCode) as raised:
        client.verify("+919876543210", "246813")
    assert "246813" not in str(raised.value) and "246813" not in repr(raised.value)


# --- retries ---


def test_a_503_is_retried_after_its_retry_after_with_the_same_body_and_key_signed_afresh(server):
    client, script, slept = client_for(server, (503, {"error": {"code": "service_unavailable"}}, {"Retry-After": "2"}))
    script.steps.append((201, GENERATED, {}))
    assert client.generate("sms", "+919876543210").verification_id == "v-1"
    assert slept == [2.0]
    first, second = script.received
    assert first.body == second.body and first.header("idempotency-key") == second.header("idempotency-key")
    assert_signed(first)
    assert_signed(second)


def test_a_503_waits_for_real(server):
    steps = [(503, {"error": {"code": "service_unavailable"}}, {"Retry-After": "1"}), (201, GENERATED, {})]
    server.script.steps.extend(steps)
    client = OtpClient(f"http://127.0.0.1:{server.server_address[1]}", region="ap-south-1", credentials=LOCAL)
    started = time.monotonic()
    client.generate("sms", "+919876543210")
    assert time.monotonic() - started >= 1.0


def test_a_503_is_retried_on_verify_too_and_gives_up_after_max_attempts(server):
    unavailable = (503, {"error": {"code": "service_unavailable"}}, {"Retry-After": "1"})
    client, script, slept = client_for(server, unavailable, unavailable, unavailable, max_attempts=3)
    with pytest.raises(otp_client.ServiceUnavailable) as raised:
        client.verify("+919876543210", "123456")
    assert raised.value.retry_after == 1 and len(script.received) == 3 and slept == [1.0, 1.0]


def test_a_503_asking_for_longer_than_max_retry_wait_is_not_retried(server):
    client, script, slept = client_for(
        server, (503, {"error": {"code": "service_unavailable"}}, {"Retry-After": "120"}), max_retry_wait=30
    )
    with pytest.raises(otp_client.ServiceUnavailable):
        client.generate("sms", "+919876543210")
    assert len(script.received) == 1 and slept == []


@pytest.mark.parametrize("no_answer", ["drop", ("stall", 1.5)])
def test_a_generate_with_a_key_that_got_no_answer_is_retried_with_the_same_key(server, no_answer):
    client, script, slept = client_for(server, no_answer, (201, GENERATED, {}), timeout=(2.0, 0.5))
    assert client.generate("sms", "+919876543210", idempotency_key="order-42").verification_id == "v-1"
    assert [r.header("idempotency-key") for r in script.received] == ["order-42", "order-42"]
    assert script.received[0].body == script.received[1].body and len(slept) == 1


def test_a_generate_without_a_key_that_got_no_answer_is_not_retried(server):
    client, script, _ = client_for(server, "drop", (201, GENERATED, {}), auto_idempotency_key=False)
    with pytest.raises(otp_client.NoAnswer):
        client.generate("sms", "+919876543210")
    assert len(script.received) == 1 and script.received[0].header("idempotency-key") is None


@pytest.mark.parametrize("call", ["verify", "get_verification", "cancel_verification"])
def test_other_calls_that_got_no_answer_are_not_retried(server, call):
    client, script, _ = client_for(server, ("stall", 1.5), (200, {}, {}), timeout=(2.0, 0.5))
    started = time.monotonic()
    attempt = (
        (lambda: client.verify("+919876543210", "123456"))
        if call == "verify"
        else (lambda: getattr(client, call)("v-1"))
    )
    with pytest.raises(otp_client.NoAnswer):
        attempt()
    assert time.monotonic() - started < 1.4  # the read timeout ended the wait, not the server
    assert len(script.received) == 1


def test_request_in_progress_is_retried_with_the_same_key_until_the_first_answer(server):
    in_progress = error(409, "request_in_progress")
    client, script, slept = client_for(server, in_progress, in_progress, (201, GENERATED, {}), max_attempts=3)
    client.generate("sms", "+919876543210", idempotency_key="k-1")
    assert len(script.received) == 3 and slept == [0.5, 1.0]
    assert {r.header("idempotency-key") for r in script.received} == {"k-1"}


def test_a_refused_connection_is_no_answer(server):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    client = OtpClient(f"http://127.0.0.1:{port}", region="ap-south-1", credentials=LOCAL, max_attempts=1)
    with pytest.raises(otp_client.NoAnswer):
        client.verify("+919876543210", "123456")


def test_the_region_is_read_from_an_execute_api_endpoint():
    client = OtpClient("https://abc123.execute-api.eu-west-3.amazonaws.com", credentials=LOCAL)
    assert client.region == "eu-west-3"
    with pytest.raises(ValueError, match="http"):
        OtpClient("abc123.execute-api.eu-west-3.amazonaws.com", credentials=LOCAL)
