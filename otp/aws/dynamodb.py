"""DynamoDB store: codes and send counters in one table, changed only by atomic writes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from otp.aws.clients import describe_error
from otp.ports import AttemptReservation, Cooldown, DependencyFailure, PendingCode, SendQuota, SendRefusal

_CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoDbStore:
    def __init__(self, table_name: str, dynamodb_client: Callable[[], Any]) -> None:
        self._table = table_name
        self._client = dynamodb_client

    def save_pending(self, code: PendingCode, ttl_until: int) -> None:
        item = {
            "id": {"S": code.record_key},
            "kind": {"S": "code"},
            "verification_id": {"S": code.verification_id},
            "channel": {"S": code.channel},
            "purpose": {"S": code.purpose},
            "masked_destination": {"S": code.masked_destination},
            "ciphertext": {"B": code.ciphertext},
            "created_at": {"N": str(code.created_at)},
            "expires_at": {"N": str(code.expires_at)},
            "attempts": {"N": "0"},
            "expiry": {"N": str(ttl_until)},
        }
        self._call("PutItem", TableName=self._table, Item=item)

    def discard_pending(self, record_key: str, verification_id: str) -> None:
        # A failed condition means a newer code already replaced this one: nothing to withdraw.
        with contextlib.suppress(_ConditionFailed):
            self._call(
                "DeleteItem",
                TableName=self._table,
                Key={"id": {"S": record_key}},
                ConditionExpression="verification_id = :vid",
                ExpressionAttributeValues={":vid": {"S": verification_id}},
            )

    def reserve_attempt(
        self, record_key: str, verification_id: str | None, now: int, max_attempts: int
    ) -> AttemptReservation:
        condition = (
            "attribute_exists(id) AND attribute_not_exists(consumed_at) AND expires_at > :now AND attempts < :max"
        )
        values = {":now": {"N": str(now)}, ":max": {"N": str(max_attempts)}, ":one": {"N": "1"}}
        if verification_id is not None:
            condition += " AND verification_id = :vid"
            values[":vid"] = {"S": verification_id}
        try:
            response = self._call(
                "UpdateItem",
                TableName=self._table,
                Key={"id": {"S": record_key}},
                UpdateExpression="SET attempts = attempts + :one",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _ConditionFailed as refused:
            return AttemptReservation(reserved=None, current=_pending_from_item(refused.item))
        return AttemptReservation(reserved=_pending_from_item(response["Attributes"]), current=None)

    def consume(self, record_key: str, verification_id: str, now: int) -> bool:
        try:
            self._call(
                "UpdateItem",
                TableName=self._table,
                Key={"id": {"S": record_key}},
                # The ciphertext has done its job; dropping it leaves nothing to attack later.
                UpdateExpression="SET consumed_at = :now REMOVE ciphertext",
                ConditionExpression="attribute_exists(id) AND attribute_not_exists(consumed_at) "
                "AND verification_id = :vid",
                ExpressionAttributeValues={":now": {"N": str(now)}, ":vid": {"S": verification_id}},
            )
        except _ConditionFailed:
            return False
        return True

    def reserve_send(self, cooldown: Cooldown | None, quotas: list[SendQuota], now: int) -> SendRefusal | None:
        limits: list[Cooldown | SendQuota] = ([cooldown] if cooldown else []) + quotas
        items = [self._take_one_send(limit, now) for limit in limits]
        try:
            self._call("TransactWriteItems", TransactItems=items)
        except _TransactionCanceled as canceled:
            return _refusal(limits, canceled.reasons, now)
        return None

    def _take_one_send(self, limit: Cooldown | SendQuota, now: int) -> dict[str, Any]:
        if isinstance(limit, Cooldown):
            update = {
                "UpdateExpression": "SET next_send_at = :until, expiry = :until, kind = :kind",
                "ConditionExpression": "attribute_not_exists(id) OR next_send_at <= :now",
                "ExpressionAttributeValues": {
                    ":until": {"N": str(limit.until)},
                    ":now": {"N": str(now)},
                    ":kind": {"S": "cooldown"},
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        else:
            update = {
                "UpdateExpression": "SET sends = if_not_exists(sends, :zero) + :one, expiry = :resets, kind = :kind",
                "ConditionExpression": "attribute_not_exists(id) OR sends < :limit",
                "ExpressionAttributeValues": {
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit.limit)},
                    ":resets": {"N": str(limit.resets_at)},
                    ":kind": {"S": "quota"},
                },
            }
        return {"Update": {"TableName": self._table, "Key": {"id": {"S": limit.key}}, **update}}

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = {
            "PutItem": "put_item",
            "DeleteItem": "delete_item",
            "UpdateItem": "update_item",
            "TransactWriteItems": "transact_write_items",
        }[operation]
        try:
            return getattr(self._client(), method)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == _CONDITION_FAILED:
                raise _ConditionFailed(exc.response.get("Item")) from None
            if error.get("Code") == "TransactionCanceledException" and _only_conditions(exc.response):
                raise _TransactionCanceled(exc.response["CancellationReasons"]) from None
            raise DependencyFailure(f"dynamodb:{operation} {describe_error(exc)}") from None
        except BotoCoreError as exc:
            raise DependencyFailure(f"dynamodb:{operation} {describe_error(exc)}") from None


class _ConditionFailed(Exception):
    def __init__(self, item: dict[str, Any] | None) -> None:
        self.item = item


class _TransactionCanceled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        self.reasons = reasons


# A conflict means another send for the same limit is being written right now: refuse this one
# as rate limited rather than fail it, since a retry a second later will see the winner's state.
_REFUSAL_CODES = {"ConditionalCheckFailed", "TransactionConflict"}


def _only_conditions(response: dict[str, Any]) -> bool:
    reasons = response.get("CancellationReasons") or []
    codes = {reason.get("Code", "None") for reason in reasons} - {"None"}
    return bool(codes) and codes <= _REFUSAL_CODES


def _refusal(limits: list[Cooldown | SendQuota], reasons: list[dict[str, Any]], now: int) -> SendRefusal:
    """Which limits refused, and when the tightest of them lets a send through again."""
    moments, names = [now + 1], []
    for limit, reason in zip(limits, reasons, strict=False):
        code = reason.get("Code")
        if code == "TransactionConflict":
            moments.append(now + 1)
        elif code == "ConditionalCheckFailed" and isinstance(limit, SendQuota):
            moments.append(limit.resets_at)
        elif code == "ConditionalCheckFailed":
            old = reason.get("Item") or {}
            moments.append(int(old["next_send_at"]["N"]) if "next_send_at" in old else limit.until)
        else:
            continue
        names.append(limit.name)
    return SendRefusal(free_at=max(moments), limits=tuple(names))


def _pending_from_item(item: dict[str, Any] | None) -> PendingCode | None:
    if not item or item.get("kind", {}).get("S") != "code":
        return None
    return PendingCode(
        record_key=item["id"]["S"],
        verification_id=item["verification_id"]["S"],
        channel=item["channel"]["S"],
        purpose=item["purpose"]["S"],
        masked_destination=item["masked_destination"]["S"],
        ciphertext=bytes(item["ciphertext"]["B"]) if "ciphertext" in item else b"",
        created_at=int(item["created_at"]["N"]),
        expires_at=int(item["expires_at"]["N"]),
        attempts=int(item["attempts"]["N"]),
        consumed="consumed_at" in item,
    )
