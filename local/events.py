"""API Gateway HTTP API (payload 2.0) events and Lambda contexts, as AWS shapes them."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

MAX_CHUNK_LINE_BYTES = 4096
MAX_TRAILER_LINES = 64
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class BadBody(ValueError):
    """A body API Gateway would refuse; the status and error code of the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def readline(self, size: int, /) -> bytes: ...


def _line(stream: _Readable) -> bytes:
    line = stream.readline(MAX_CHUNK_LINE_BYTES + 1)
    if len(line) > MAX_CHUNK_LINE_BYTES:
        raise BadBody(400, "invalid_request", "A line of the chunked body is too long.")
    if not line.endswith(b"\n"):
        raise ConnectionAbortedError("the client closed inside a chunked body")
    return line


def read_chunked(stream: _Readable, max_bytes: int) -> bytes:
    """A `Transfer-Encoding: chunked` body (RFC 9112 section 7.1), as API Gateway hands it on: whole.

    Chunk extensions and trailers are read and dropped. A client that closes midway raises
    ConnectionAbortedError; a malformed or oversized body raises BadBody.
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        size_text = _line(stream).split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 8 or not set(size_text) <= _HEX_DIGITS:
            raise BadBody(400, "invalid_request", "A chunk size is not valid.")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > max_bytes:
            raise BadBody(413, "payload_too_large", "The body is too large.")
        chunk, ending = stream.read(size), stream.read(2)
        if len(chunk) < size or len(ending) < 2:
            raise ConnectionAbortedError("the client closed inside a chunk")
        if ending != b"\r\n":
            raise BadBody(400, "invalid_request", "A chunk is longer than its size says.")
        chunks.append(chunk)
    for _ in range(MAX_TRAILER_LINES):
        if _line(stream) in (b"\r\n", b"\n"):
            return b"".join(chunks)
    raise BadBody(400, "invalid_request", "The chunked body has too many trailer lines.")


def http_api_event(
    method: str,
    path: str,
    body: str | bytes | None,
    headers: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    query_string: str = "",
    base64_body: bool = False,
    request_id: str | None = None,
    iam_authorized: bool = True,
    path_parameters: dict[str, str] | None = None,
    route_key: str | None = None,
) -> dict[str, Any]:
    """The event API Gateway sends for a request; header names arrive lower-cased.

    ``iam_authorized`` is what the default deployment sends for a SigV4-signed caller; False is a
    route deployed with openEndpoints=true, which carries no authorizer at all.
    """
    now = datetime.now(UTC)
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if isinstance(body, bytes) and not base64_body:
        body = body.decode("utf-8", errors="surrogateescape")
    if base64_body and body is not None:
        raw = body if isinstance(body, bytes) else body.encode("utf-8")
        body = base64.b64encode(raw).decode("ascii")
    route_key = route_key or f"{method} {path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id or uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": base64_body,
    }
    if iam_authorized:
        event["requestContext"]["authorizer"] = {"iam": IAM_CALLER}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = body
    return event


# The caller a SigV4-signed request carries in payload 2.0 (values of the local account).
IAM_CALLER = {
    "accessKey": "AKIALOCALCALLER00000",
    "accountId": "123456789012",
    "callerId": "AIDALOCALCALLER00000",
    "cognitoIdentity": None,
    "principalOrgId": None,
    "userArn": "arn:aws:iam::123456789012:user/otp-backend",
    "userId": "AIDALOCALCALLER00000",
}


@dataclass
class LambdaContext:
    """The attributes Powertools and our handlers read from the real Lambda context."""

    function_name: str = "otp-local"
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 10.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/otp-local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))
