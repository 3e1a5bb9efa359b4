"""A typed client for the OTP service: SigV4-signed calls, contract errors as exceptions, safe retries.

It retries only what the contract calls retryable:
- a 503 after its Retry-After (when that is not longer than `max_retry_wait`);
- a /generate that carries an Idempotency-Key and got no answer, or 409 `request_in_progress`
  (a replay returns the first 201 and sends nothing).
Nothing else: a 429 `rate_limited` is the end user's to wait out, a 502 left no code, and a /verify
that got no answer may have spent an attempt. Every retry is signed afresh (a signature is good for
five minutes only) over the same body and key.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import HTTPClientError, SSLError
from botocore.httpsession import URLLib3Session
from botocore.session import Session

from otp_client.errors import (
    NoAnswer,
    OtpError,
    RequestInProgress,
    ServiceUnavailable,
    UnexpectedResponse,
    error_from_answer,
)
from otp_client.models import Generated, Verification, Verified

SERVICE = "execute-api"
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class OtpClient:
    """Calls one deployment of the service. Thread-safe; reuse one instance (it pools connections).

    `credentials`: botocore Credentials, or None for botocore's default chain (environment, profile,
    the Lambda or ECS role...). `region`: the API's region, read from an execute-api endpoint when
    omitted. `timeout`: seconds to connect and to read an answer.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        region: str | None = None,
        credentials: Credentials | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        max_attempts: int = 3,
        max_retry_wait: float = 30.0,
        retry_delay: float = 0.5,
        auto_idempotency_key: bool = True,
        proxies: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"endpoint must be an http(s) URL, not {endpoint!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._base = endpoint.rstrip("/")
        session = Session() if credentials is None or region is None else None
        self._credentials = credentials or _default_credentials(session)
        self._region = region or _region_of(parts.hostname or "", session)
        # botocore takes a (connect, read) pair here, which its type stubs do not say.
        self._http = URLLib3Session(timeout=timeout, proxies=proxies)  # type: ignore[arg-type]
        self._max_attempts = max_attempts
        self._max_retry_wait = max_retry_wait
        self._retry_delay = retry_delay
        self._auto_idempotency_key = auto_idempotency_key
        self._sleep = sleep

    @property
    def region(self) -> str:
        return self._region

    def generate(
        self,
        channel: str,
        destination: str,
        *,
        purpose: str | None = None,
        client_ip: str | None = None,
        locale: str | None = None,
        idempotency_key: str | None = None,
    ) -> Generated:
        """POST /generate. Without `idempotency_key` the client makes one (unless told not to), so
        that a request that got no answer can be retried without sending a second code."""
        if idempotency_key is None and self._auto_idempotency_key:
            idempotency_key = secrets.token_urlsafe(24)
        body = _fields(channel=channel, destination=destination, purpose=purpose, client_ip=client_ip, locale=locale)
        return Generated.from_json(self._call("POST", "/generate", body, idempotency_key))

    def verify(
        self,
        destination: str,
        code: str,
        *,
        purpose: str | None = None,
        verification_id: str | None = None,
        client_ip: str | None = None,
    ) -> Verified:
        """POST /verify. Returns only when the code verified; every refusal raises (InvalidCode, ...)."""
        body = _fields(
            destination=destination, code=code, purpose=purpose, verification_id=verification_id, client_ip=client_ip
        )
        return Verified.from_json(self._call("POST", "/verify", body))

    def get_verification(self, verification_id: str) -> Verification:
        """GET /verifications/{id}: never costs an attempt."""
        return Verification.from_json(self._call("GET", _verification_path(verification_id), None))

    def cancel_verification(self, verification_id: str) -> Verification:
        """POST /verifications/{id}/cancel: the code stops verifying at once."""
        return Verification.from_json(self._call("POST", _verification_path(verification_id) + "/cancel", None))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OtpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None, idempotency_key: str | None = None) -> Any:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        attempt = 1
        while True:
            try:
                status, answer_headers, parsed = self._send(method, path, data, headers)
            except NoAnswer:
                if idempotency_key is None or attempt >= self._max_attempts:
                    raise
                self._sleep(self._backoff(attempt))
            else:
                if 200 <= status < 300:
                    if not isinstance(parsed, dict):
                        raise UnexpectedResponse(status, "A success answer that is not a JSON object.")
                    return parsed
                error = error_from_answer(status, answer_headers, parsed)
                delay = self._delay_before_retry(error, idempotency_key, attempt)
                if delay is None:
                    raise error
                self._sleep(delay)
            attempt += 1

    def _delay_before_retry(self, error: OtpError, idempotency_key: str | None, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when the contract does not allow one."""
        if attempt >= self._max_attempts:
            return None
        if isinstance(error, ServiceUnavailable) and error.http_status == 503:
            wait = float(error.retry_after) if error.retry_after is not None else self._retry_delay
            return wait if wait <= self._max_retry_wait else None
        if isinstance(error, RequestInProgress) and idempotency_key is not None:
            return self._backoff(attempt)
        return None

    def _backoff(self, attempt: int) -> float:
        return float(min(self._retry_delay * 2 ** (attempt - 1), self._max_retry_wait))

    def _send(self, method: str, path: str, data: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        request = AWSRequest(method=method, url=self._base + path, data=data, headers=dict(headers))
        SigV4Auth(self._credentials.get_frozen_credentials(), SERVICE, self._region).add_auth(request)
        try:
            response = self._http.send(request.prepare())
        except SSLError:
            raise  # a certificate problem: another attempt would meet it again
        except (HTTPClientError, BotocoreConnectionError) as exc:  # refused, reset, closed, or timed out
            raise NoAnswer(f"{method} {path}: {exc}") from exc
        answer_headers = {name.lower(): value for name, value in response.headers.items()}
        try:
            parsed = json.loads(response.content) if response.content else None
        except ValueError:
            parsed = None
        return response.status_code, answer_headers, parsed


def _fields(**values: str | None) -> dict[str, str]:
    """The body without the optional fields left out: the service rejects unknown and null fields."""
    return {name: value for name, value in values.items() if value is not None}


def _verification_path(verification_id: str) -> str:
    if not verification_id:
        raise ValueError("verification_id is empty")
    # Encoded whole, so an id can never reach another route ("../generate" stays one segment).
    return "/verifications/" + urllib.parse.quote(verification_id, safe="")


def _default_credentials(session: Session | None) -> Credentials:
    found = (session or Session()).get_credentials()
    if found is None:
        raise ValueError("no AWS credentials found: pass credentials= or configure the default chain")
    return found


def _region_of(host: str, session: Session | None) -> str:
    found = _REGION_IN_HOST.search(host)
    if found:
        return found.group(1)
    configured = (session or Session()).get_config_variable("region")
    if not configured:
        raise ValueError("the region cannot be read from the endpoint: pass region=")
    return str(configured)
