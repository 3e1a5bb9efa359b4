"""AWS clients, created on first use from one botocore session and kept for the life of the container.

botocore alone, not boto3: boto3 adds nothing these clients use and costs its import at every cold
start, and one shared session loads the credential chain and endpoint data once, not per client.

The functions read botocore's data (service models, endpoint rules, retry and default settings)
from ``models/`` alone, which the zip ships, never from the botocore the runtime bundles:

- the runtime's botocore may predate the End User Messaging operations the adapters call
  (SendNotify*, and the whole socialmessaging service in older releases); with the shipped models
  the operations exist whatever botocore the runtime bundles, and they are the ones the tests ran
  against;
- a cold start then reads only what it uses: models without their documentation strings, the
  legacy endpoint table cut to these services (the whole one is 1.2 MB of JSON), and a listing of
  seven services instead of botocore's four hundred, about 45 ms less for the first two clients.

A client for a service outside ``SHIPPED_SERVICES`` fails with UnknownServiceError, also in tests;
``python -m local.artifact models`` writes the folder from the pinned botocore.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
from botocore.config import Config

# Standard mode retries throttling and transient 5xx with backoff; tight timeouts keep a stuck
# dependency from eating the whole Lambda budget before we can answer 503.
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)
SERVICE_MODELS = Path(__file__).resolve().parent / "models"
# Every service a function makes a client for, and STS, which botocore's assume-role and
# web-identity credential providers call.
SHIPPED_SERVICES = ("dynamodb", "kms", "sns", "sesv2", "pinpoint-sms-voice-v2", "socialmessaging", "sts")
SHIPPED_DATA = ("endpoints", "partitions", "_retry", "sdk-default-configuration")
_clients: dict[str, Any] = {}
_session: botocore.session.Session | None = None
_lock = threading.Lock()


def client(service: str) -> Any:
    """botocore reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, so an emulator can stand in."""
    existing = _clients.get(service)
    if existing is not None:
        return existing
    global _session
    with _lock:
        if service not in _clients:
            if _session is None:
                _session = new_session()
            _clients[service] = _session.create_client(service, config=_CONFIG)
        return _clients[service]


def new_session() -> botocore.session.Session:
    """A session whose loader reads the shipped data only (and AWS_DATA_PATH, if set, after it)."""
    session = botocore.session.get_session()
    # Read from the environment itself: asking the session would resolve the profile, which may not exist.
    configured = os.environ.get("AWS_DATA_PATH")
    paths = [str(SERVICE_MODELS), *configured.split(os.pathsep)] if configured else [str(SERVICE_MODELS)]
    session.register_component(
        "data_loader", botocore.loaders.Loader(extra_search_paths=paths, include_default_search_paths=False)
    )
    return session


def created_clients() -> list[str]:
    """The services this container has made clients for, in order."""
    return list(_clients)


def renew_after_restore() -> None:
    """After a SnapStart restore: new clients from a new session, keeping only the parsed models.

    Connections and credentials captured in a snapshot are not to be trusted once it is restored
    elsewhere and later; the service models loaded before the snapshot (the expensive part of
    creating a client) are plain data and stay.
    """
    global _session
    with _lock:
        loader = _session.get_component("data_loader") if _session is not None else None
        _clients.clear()
        _session = new_session()
        if loader is not None:
            _session.register_component("data_loader", loader)


def reset_clients() -> None:
    """For tests and the local runner, after they change the endpoint or credentials."""
    global _session
    with _lock:
        _clients.clear()
        _session = None


def describe_error(exc: Exception) -> str:
    """The AWS error code or the exception class, never the message: AWS messages can echo request content."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
