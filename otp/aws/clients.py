"""boto3 clients, created on first use and kept for the life of the container."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient 5xx with backoff; tight timeouts keep a stuck
# dependency from eating the whole Lambda budget before we can answer 503.
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)
_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    """boto3 reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, so an emulator can stand in."""
    existing = _clients.get(service)
    if existing is not None:
        return existing
    with _lock:
        if service not in _clients:
            _clients[service] = boto3.session.Session().client(service, config=_CONFIG)
        return _clients[service]


def created_clients() -> list[str]:
    """The services this container has made clients for, in order."""
    return list(_clients)


def reset_clients() -> None:
    """For tests and the local runner, after they change the endpoint or credentials."""
    with _lock:
        _clients.clear()


def describe_error(exc: Exception) -> str:
    """The AWS error code or the exception class, never the message: AWS messages can echo request content."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code", type(exc).__name__)
    return type(exc).__name__
