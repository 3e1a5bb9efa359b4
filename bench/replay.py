"""The floor for a warm request: a bare-botocore script making the same AWS calls as the service.

The service's calls are recorded as it makes them (operation and parameters, see
``bench.service.recording_calls``) and replayed here with plain botocore clients against the same
emulator. DynamoDB calls go to a twin table that receives every call the real table receives, in
the same order, so each conditional write meets the same item and ends the same way; a replay
whose outcome differs from the service's stops the benchmark. What remains between the two is
the service's own work: parsing and validating the request, its rules, building the parameters,
logging, metrics and the response.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

# The service's own client settings (otp/aws/clients.py), so both sides retry and time out alike.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)


@dataclass
class AwsCall:
    service: str  # botocore's name for it: dynamodb, kms, sns, sesv2
    operation: str  # as the API names it: UpdateItem
    params: dict[str, Any]
    error: str | None = None  # the AWS error code it ended with, if any


class ReplayMismatch(RuntimeError):
    """A replayed call ended differently from the service's: the floor would not be the same work."""


class BareClients:
    """One botocore session and its clients, created on first use, as a minimal script would."""

    def __init__(self, table: str, twin_table: str) -> None:
        self._session = botocore.session.get_session()
        self._clients: dict[str, Any] = {}
        self._table, self._twin = table, twin_table

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.create_client(service, config=CLIENT_CONFIG)
        return self._clients[service]

    def create_twin_table(self, key_schema: list[dict[str, str]], attributes: list[dict[str, str]]) -> None:
        self.client("dynamodb").create_table(
            TableName=self._twin, KeySchema=key_schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
        )

    def prepare(self, calls: Sequence[AwsCall]) -> list[AwsCall]:
        """The calls aimed at the twin table, with their clients made: nothing left to do but send them."""
        for call in calls:
            self.client(call.service)
        return [AwsCall(c.service, c.operation, _retarget(c.params, self._table, self._twin), c.error) for c in calls]

    def replay(self, prepared: Sequence[AwsCall]) -> float:
        """Milliseconds to make ``prepared`` calls, in order; raises ReplayMismatch on a different outcome."""
        outcomes: list[str | None] = []
        started = time.perf_counter()
        for call in prepared:
            method = getattr(self._clients[call.service], xform_name(call.operation))
            try:
                method(**call.params)
                outcomes.append(None)
            except ClientError as exc:
                outcomes.append(str(exc.response.get("Error", {}).get("Code")))
        elapsed = (time.perf_counter() - started) * 1000
        expected = [call.error for call in prepared]
        if outcomes != expected:
            operations = [f"{c.service}:{c.operation}" for c in prepared]
            raise ReplayMismatch(f"{operations}: the service got {expected}, the replay {outcomes}")
        return elapsed


def _retarget(value: Any, table: str, twin: str) -> Any:
    """``value`` with every TableName that names ``table`` naming ``twin`` (transactions name it per item)."""
    if isinstance(value, dict):
        return {k: twin if k == "TableName" and v == table else _retarget(v, table, twin) for k, v in value.items()}
    if isinstance(value, list):
        return [_retarget(item, table, twin) for item in value]
    return value
