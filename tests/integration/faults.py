"""Fault injection at the HTTP layer of botocore, beneath its retry loop.

A handler registered first on ``before-send`` answers instead of the network (or the emulator),
so boto3's own retry logic sees the fault exactly as it would see AWS fail.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError

from otp.aws.clients import client

# Error bodies in each service's wire protocol.
_PROTOCOL = {"kms": "json", "dynamodb": "json", "sns": "query", "sesv2": "rest-json"}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any):
        yield self._body


def error_response(service: str, status: int, code: str, **fields: Any) -> AWSResponse:
    protocol = _PROTOCOL[service]
    headers = {"x-amzn-RequestId": "fault-injected"}
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error>"
            "<RequestId>fault-injected</RequestId></ErrorResponse>"
        ).encode()
        headers["Content-Type"] = "text/xml"
    else:
        body = json.dumps({"__type": code, "message": "injected", **fields}).encode()
        headers["Content-Type"] = "application/x-amz-json-1.1"
        headers["x-amzn-ErrorType"] = code
    return AWSResponse("https://fault.invalid/", status, headers, _Raw(body))


def _always(_body: bytes) -> bool:
    return True


class Faults:
    """Counts every send attempt per operation and, where armed, fails it."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._armed: dict[str, tuple[Callable[[], AWSResponse], Callable[[bytes], bool]]] = {}
        self._hooked: set[str] = set()

    def watch(self, service: str, operation: str) -> None:
        name = f"{service}.{operation}"
        if name in self._hooked:
            return
        self._hooked.add(name)

        def on_send(request: Any = None, **_: Any) -> AWSResponse | None:
            self.attempts[name] += 1
            fault, applies = self._armed.get(name, (None, None))
            body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
            if fault is None or not applies(body):
                return None
            self.failed[name] += 1
            # botocore still offers the request to the emulator's hook after this one; pointing it
            # nowhere keeps a failed call from also taking effect there.
            request.url = "https://fault-injected.invalid/"
            return fault()

        client(service).meta.events.register_first(f"before-send.{service}.{operation}", on_send)

    def fail(
        self,
        service: str,
        operation: str,
        status: int,
        code: str,
        when: Callable[[bytes], bool] = _always,
        **fields: Any,
    ) -> None:
        """Answer the operation with an AWS error (plus any modeled ``fields``), for every request ``when`` accepts."""
        self.watch(service, operation)
        self._armed[f"{service}.{operation}"] = (lambda: error_response(service, status, code, **fields), when)

    def time_out(self, service: str, operation: str, when: Callable[[bytes], bool] = _always) -> None:
        """Fail the operation as a connection that never opened."""
        self.watch(service, operation)

        def raise_timeout() -> AWSResponse:
            raise ConnectTimeoutError(endpoint_url=f"https://{service}.invalid/")

        self._armed[f"{service}.{operation}"] = (raise_timeout, when)

    def heal(self) -> None:
        self._armed.clear()


class Gate:
    """Holds every call to one operation until opened: a request caught mid-flight."""

    def __init__(self, service: str, operation: str) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()
        client(service).meta.events.register_first(f"before-send.{service}.{operation}", self._wait)

    def _wait(self, **_: Any) -> None:
        self.reached.set()
        if not self._open.wait(timeout=30):
            raise TimeoutError("the gate was never opened")

    def open(self) -> None:
        self._open.set()
