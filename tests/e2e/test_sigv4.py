"""local/sigv4.py's check on its own: what API Gateway's IAM authorizer accepts and refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local import sigv4
from local.sigv4 import SigV4Check

HOST = "127.0.0.1:3000"
BODY = b'{"channel":"sms","destination":"+14155552671"}'
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
CHECK = SigV4Check("ap-south-1")


def signed(
    method: str = "POST",
    path: str = "/generate",
    body: bytes = BODY,
    query: str = "",
    secret: str = sigv4.SECRET_ACCESS_KEY,
    access_key: str = sigv4.ACCESS_KEY_ID,
    region: str = "ap-south-1",
    service: str = "execute-api",
    at: datetime = NOW,
    headers: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The headers botocore's signer gives a request, as the server receives them (Host included)."""
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(
        method=method, url=url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(Credentials(access_key, secret), service, region).add_auth(request)
    return [*request.headers.items(), ("Host", HOST)]


def refusal(headers, method="POST", path="/generate", query="", body=BODY, now=NOW):
    return CHECK.refusal(method, path, query, headers, body, now=now)


def test_a_request_signed_with_the_local_credentials_passes():
    assert refusal(signed()) is None
    assert (
        refusal(signed(method="GET", path="/verifications/abc", body=b""), "GET", "/verifications/abc", body=b"")
        is None
    )


def test_an_unsigned_request_is_forbidden():
    assert refusal([("Host", HOST), ("Content-Type", "application/json")]) == "Forbidden"


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ({"body": b'{"channel":"sms","destination":"+14155552672"}'}, sigv4.MISMATCH),
        ({"path": "/verify"}, sigv4.MISMATCH),
        ({"method": "PUT"}, sigv4.MISMATCH),
        ({"query": "x=1"}, sigv4.MISMATCH),
    ],
)
def test_a_signature_over_another_request_is_refused(tamper, expected):
    assert refusal(signed(), **tamper) == expected


def test_another_secret_or_key_is_refused():
    assert refusal(signed(secret="not-local")) == sigv4.MISMATCH
    assert refusal(signed(access_key="AKIAREALLOOKINGKEY00")) == sigv4.UNKNOWN_KEY


def test_another_region_or_service_is_refused():
    assert "region" in refusal(signed(region="us-east-1"))
    assert "service" in refusal(signed(service="lambda"))


def test_a_signed_query_string_passes_and_a_changed_one_does_not():
    headers = signed(method="GET", path="/verifications/abc", body=b"", query="b=2&a=1")
    assert refusal(headers, "GET", "/verifications/abc", "b=2&a=1", b"") is None
    assert refusal(headers, "GET", "/verifications/abc", "b=3&a=1", b"") == sigv4.MISMATCH


@pytest.mark.parametrize(
    ("skew", "passes"),
    [
        (timedelta(minutes=4, seconds=59), True),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(minutes=-4, seconds=-59), True),
        (timedelta(minutes=-5, seconds=-1), False),
        (timedelta(days=-1), False),
    ],
)
def test_a_signature_more_than_five_minutes_off_is_refused(skew, passes):
    answer = refusal(signed(at=NOW + skew))
    assert (answer is None) == passes, answer
    if not passes:
        assert answer.startswith("Signature expired" if skew < timedelta(0) else "Signature not yet current")


def test_a_changed_signed_header_is_refused_and_an_unsigned_one_is_ignored():
    headers = signed(headers={"Idempotency-Key": "k-1"})
    changed = [(name, "k-2" if name == "Idempotency-Key" else value) for name, value in headers]
    assert refusal(changed) == sigv4.MISMATCH
    assert refusal([*headers, ("User-Agent", "added by a proxy")]) is None


def test_a_header_listed_as_signed_must_arrive():
    headers = signed()
    assert refusal([(n, v) for n, v in headers if n != "Content-Type"]) == sigv4.MISMATCH


def test_a_declared_body_hash_must_be_the_received_body_s():
    headers = signed(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert refusal(headers) == sigv4.MISMATCH


def test_a_session_token_is_not_a_local_credential():
    assert refusal(signed(headers={"X-Amz-Security-Token": "token"})) == sigv4.UNKNOWN_KEY


def test_a_malformed_authorization_is_forbidden():
    headers = [(n, v[:-3] if n == "Authorization" else v) for n, v in signed()]
    assert refusal(headers) == "Forbidden"


def test_the_switch_and_the_region_come_from_the_environment():
    assert sigv4.from_environment({}) is None
    assert sigv4.from_environment({"SIGV4": "false"}) is None
    assert sigv4.from_environment({"SIGV4": "true"}) == SigV4Check("ap-south-1")
    assert sigv4.from_environment({"SIGV4": "TRUE", "AWS_REGION": "eu-west-3"}) == SigV4Check("eu-west-3")
    with pytest.raises(ValueError, match="SIGV4"):
        sigv4.from_environment({"SIGV4": "yes"})
