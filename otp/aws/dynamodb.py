"""DynamoDB store: one item per destination, changed only by single conditional writes.

The item ``dest#<keyed digest>`` holds the newest code of each purpose (``codes``), the code each
of those superseded (``replaced``), the ciphertexts of codes that can still verify (``ciphers``),
the cooldown (``next_send_at``), and counters per fixed window (``sends_<bucket>``,
``fails_<bucket>``). Keeping them in one item is what lets one conditional write count an
attempt against both the code and its destination, so no race can exceed either limit.
Per-IP counters (``ip#…``) and Idempotency-Key records (``idem#…``) are items of their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from otp.aws.clients import describe_error
from otp.domain.entities import (
    AttemptLimits,
    AttemptReservation,
    DestinationRecord,
    SendOutcome,
    SendPlan,
    StoredCode,
)
from otp.domain.ports import DependencyFailure

_CONDITION_FAILED = "ConditionalCheckFailedException"
# Past this many purposes on one destination, saving a code also drops its long-ended ones.
PURPOSES_BEFORE_PRUNING = 8
_EMPTY_MAP: dict[str, Any] = {"M": {}}
# A refusing condition on an item that did not exist yet (it cannot refuse: kept for clarity).
_EMPTY_RECORD = DestinationRecord(codes={}, replaced={}, next_send_at=0, sends={}, failures={})
_LIVE_CODE = (
    "attribute_exists(codes.#p.vid) AND attribute_not_exists(codes.#p.consumed_at) "
    "AND attribute_not_exists(codes.#p.canceled_at)"
)


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class DynamoDbStore:
    def __init__(self, table_name: str, dynamodb_client: Callable[[], Any]) -> None:
        self._table = table_name
        self._client = dynamodb_client

    # ---- sends ---------------------------------------------------------------------------------

    def take_send(self, plan: SendPlan, now: int) -> SendOutcome:
        destination = _destination_limits_update(self._table, plan, now)
        if plan.ip is None:
            try:
                with _translated("UpdateItem"):
                    self._client().update_item(**destination)
            except _ConditionFailed as refused:
                return SendOutcome(taken=False, record=_record(refused.item) or _EMPTY_RECORD)
            return SendOutcome(taken=True)
        try:
            with _translated("TransactWriteItems"):
                self._client().transact_write_items(
                    TransactItems=[{"Update": destination}, {"Update": _ip_counter_update(self._table, plan)}]
                )
        except _TransactionCanceled as canceled:
            return _transaction_outcome(canceled.reasons)
        return SendOutcome(taken=True)

    # ---- codes ---------------------------------------------------------------------------------

    def save_code(self, record_key: str, code: StoredCode, keep_until: int, forget_before: int) -> None:
        entry = {
            "vid": {"S": code.verification_id},
            "channel": {"S": code.channel},
            "masked": {"S": code.masked_destination},
            "created_at": _n(code.created_at),
            "expires_at": _n(code.expires_at),
            "attempts": _n(0),
        }
        with _translated("UpdateItem"):
            # Every operand reads the item as it was, so the superseded code moves to `replaced`
            # (without its ciphertext, which the new one overwrites) in the same write.
            saved = self._client().update_item(
                TableName=self._table,
                Key={"id": {"S": record_key}},
                UpdateExpression="SET replaced.#p = if_not_exists(codes.#p, :none), codes.#p = :entry, "
                "ciphers.#p = :ciphertext, expiry = :keep",
                ExpressionAttributeNames={"#p": code.purpose},
                ExpressionAttributeValues={
                    ":none": {"NULL": True},
                    ":entry": {"M": entry},
                    ":ciphertext": {"B": code.ciphertext},
                    ":keep": _n(keep_until),
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        codes = saved.get("codes", {}).get("M", {})
        if len(codes) > PURPOSES_BEFORE_PRUNING:
            ended = [p for p, entry in codes.items() if int(entry["M"]["expires_at"]["N"]) < forget_before]
            self._forget(record_key, {p: codes[p]["M"]["vid"]["S"] for p in ended[:PURPOSES_BEFORE_PRUNING]})

    def _forget(self, record_key: str, ended: dict[str, str]) -> None:
        """Drop long-ended codes; rare (only past many purposes), and best effort."""
        if not ended:
            return
        names = {f"#p{i}": purpose for i, purpose in enumerate(ended)}
        paths = [f"{m}.{n}" for n in names for m in ("codes", "replaced", "ciphers")]
        with contextlib.suppress(_ConditionFailed, DependencyFailure), _translated("UpdateItem"):
            self._client().update_item(
                TableName=self._table,
                Key={"id": {"S": record_key}},
                UpdateExpression="REMOVE " + ", ".join(paths),
                # Only if none of them was replaced meanwhile by a new code of that purpose.
                ConditionExpression=" AND ".join(f"codes.{n}.vid = :v{n[2:]}" for n in names),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":v{n[2:]}": {"S": ended[p]} for n, p in names.items()},
            )

    def withdraw_code(self, record_key: str, purpose: str, verification_id: str) -> None:
        # A failed condition means a newer code already replaced this one: nothing to withdraw.
        with contextlib.suppress(_ConditionFailed), _translated("UpdateItem"):
            self._client().update_item(
                TableName=self._table,
                Key={"id": {"S": record_key}},
                UpdateExpression="REMOVE codes.#p, ciphers.#p",
                ConditionExpression="codes.#p.vid = :vid",
                ExpressionAttributeNames={"#p": purpose},
                ExpressionAttributeValues={":vid": {"S": verification_id}},
            )

    def reserve_attempt(
        self, record_key: str, purpose: str, verification_id: str | None, now: int, limits: AttemptLimits
    ) -> AttemptReservation:
        condition = (
            f"{_LIVE_CODE} AND codes.#p.expires_at > :now AND codes.#p.attempts < :max "
            "AND (attribute_not_exists(#fails) OR #fails < :cap)"
        )
        values = {
            ":now": _n(now),
            ":max": _n(limits.max_attempts),
            ":cap": _n(limits.failures.limit),
            ":zero": _n(0),
            ":one": _n(1),
        }
        if verification_id is not None:
            condition += " AND codes.#p.vid = :vid"
            values[":vid"] = {"S": verification_id}
        fails = f"fails_{limits.failures.bucket}"
        try:
            with _translated("UpdateItem"):
                response = self._client().update_item(
                    TableName=self._table,
                    Key={"id": {"S": record_key}},
                    # Counted against the destination too until the code proves right (consume gives it back).
                    UpdateExpression="SET codes.#p.attempts = codes.#p.attempts + :one, "
                    "#fails = if_not_exists(#fails, :zero) + :one",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#p": purpose, "#fails": fails},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except _ConditionFailed as refused:
            old = refused.item or {}
            return AttemptReservation(reserved=None, current=_code(old, purpose), failures=_number(old, fails))
        item = response["Attributes"]
        return AttemptReservation(reserved=_code(item, purpose), current=None, failures=_number(item, fails))

    def consume(self, record_key: str, purpose: str, verification_id: str, now: int, failures_bucket: int) -> bool:
        try:
            with _translated("UpdateItem"):
                self._client().update_item(
                    TableName=self._table,
                    Key={"id": {"S": record_key}},
                    # The ciphertext has done its job; dropping it leaves nothing to attack later.
                    UpdateExpression="SET codes.#p.consumed_at = :now, #fails = if_not_exists(#fails, :one) - :one "
                    "REMOVE ciphers.#p",
                    ConditionExpression=f"{_LIVE_CODE} AND codes.#p.vid = :vid",
                    ExpressionAttributeNames={"#p": purpose, "#fails": f"fails_{failures_bucket}"},
                    ExpressionAttributeValues={":now": _n(now), ":vid": {"S": verification_id}, ":one": _n(1)},
                )
        except _ConditionFailed:
            return False
        return True

    # ---- status --------------------------------------------------------------------------------

    def read(self, record_key: str) -> DestinationRecord | None:
        with _translated("GetItem"):
            item = (
                self._client()
                .get_item(TableName=self._table, Key={"id": {"S": record_key}}, ConsistentRead=True)
                .get("Item")
            )
        return _record(item)

    def cancel(
        self, record_key: str, purpose: str, verification_id: str, now: int, max_attempts: int
    ) -> tuple[bool, DestinationRecord | None]:
        try:
            with _translated("UpdateItem"):
                response = self._client().update_item(
                    TableName=self._table,
                    Key={"id": {"S": record_key}},
                    UpdateExpression="SET codes.#p.canceled_at = :now REMOVE ciphers.#p",
                    ConditionExpression=f"{_LIVE_CODE} AND codes.#p.vid = :vid "
                    "AND codes.#p.expires_at > :now AND codes.#p.attempts < :max",
                    ExpressionAttributeNames={"#p": purpose},
                    ExpressionAttributeValues={
                        ":now": _n(now),
                        ":vid": {"S": verification_id},
                        ":max": _n(max_attempts),
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except _ConditionFailed as refused:
            return False, _record(refused.item)
        return True, _record(response["Attributes"])


# ---- the send limits' updates ---------------------------------------------------------------------


def _destination_limits_update(table: str, plan: SendPlan, now: int) -> dict[str, Any]:
    """One conditional update that takes the cooldown, the send window and the failure bound at once."""
    sets = [
        "kind = :kind",
        "codes = if_not_exists(codes, :empty)",
        "replaced = if_not_exists(replaced, :empty)",
        "ciphers = if_not_exists(ciphers, :empty)",
        "expiry = :keep",
    ]
    fails = plan.failures
    conditions = ["(attribute_not_exists(#fails) OR #fails < :fail_limit)"]
    names = {"#fails": f"fails_{fails.bucket}", "#fails_1": f"fails_{fails.bucket - 1}"}
    values: dict[str, Any] = {
        ":kind": {"S": "destination"},
        ":empty": _EMPTY_MAP,
        ":keep": _n(plan.keep_until),
        ":fail_limit": _n(fails.limit),
    }
    removes = ["#fails_1"]
    if plan.cooldown_until is not None:
        sets.append("next_send_at = :until")
        conditions.append("(attribute_not_exists(next_send_at) OR next_send_at <= :now)")
        values.update({":until": _n(plan.cooldown_until), ":now": _n(now)})
    if plan.sends is not None:
        sets.append("#sends = if_not_exists(#sends, :zero) + :one")
        conditions.append("(attribute_not_exists(#sends) OR #sends < :send_limit)")
        names.update({"#sends": f"sends_{plan.sends.bucket}", "#sends_1": f"sends_{plan.sends.bucket - 1}"})
        values.update({":zero": _n(0), ":one": _n(1), ":send_limit": _n(plan.sends.limit)})
        removes.append("#sends_1")
    return {
        "TableName": table,
        "Key": {"id": {"S": plan.record_key}},
        "UpdateExpression": f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _ip_counter_update(table: str, plan: SendPlan) -> dict[str, Any]:
    """The end user's hourly counter, charged in the same transaction as the destination's limits."""
    assert plan.ip is not None
    quota = plan.ip.window
    return {
        "TableName": table,
        "Key": {"id": {"S": f"{plan.ip.key}#{quota.bucket}"}},
        "UpdateExpression": "SET sends = if_not_exists(sends, :zero) + :one, expiry = :resets, kind = :kind",
        "ConditionExpression": "attribute_not_exists(id) OR sends < :limit",
        "ExpressionAttributeValues": {
            ":zero": _n(0),
            ":one": _n(1),
            ":limit": _n(quota.limit),
            ":resets": _n(quota.resets_at),
            ":kind": {"S": "ip_quota"},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


# ---- error translation, in one place -------------------------------------------------------------


class _ConditionFailed(Exception):
    def __init__(self, item: dict[str, Any] | None) -> None:
        self.item = item


class _TransactionCanceled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        self.reasons = reasons


# A conflict means another send for the same limit is being written right now: refuse this one
# as rate limited rather than fail it, since a retry a second later will see the winner's state.
_REFUSAL_CODES = {"ConditionalCheckFailed", "TransactionConflict"}


@contextlib.contextmanager
def _translated(operation: str) -> Iterator[None]:
    """A refused condition stays a refusal; any other failure, after boto3's retries, is a DependencyFailure."""
    try:
        yield
    except ClientError as exc:
        response: dict[str, Any] = dict(exc.response)
        code = response.get("Error", {}).get("Code")
        if code == _CONDITION_FAILED:
            raise _ConditionFailed(response.get("Item")) from None
        if code == "TransactionCanceledException" and _only_conditions(response):
            raise _TransactionCanceled(response["CancellationReasons"]) from None
        raise DependencyFailure(f"dynamodb:{operation} {describe_error(exc)}") from None
    except BotoCoreError as exc:
        raise DependencyFailure(f"dynamodb:{operation} {describe_error(exc)}") from None


def _only_conditions(response: dict[str, Any]) -> bool:
    reasons = response.get("CancellationReasons") or []
    codes = {reason.get("Code", "None") for reason in reasons} - {"None"}
    return bool(codes) and codes <= _REFUSAL_CODES


# ---- what a refused transaction found ------------------------------------------------------------


def _transaction_outcome(reasons: list[dict[str, Any]]) -> SendOutcome:
    """The item each refusing condition saw: the destination record, then the end user's counter."""
    destination, ip = [*reasons, {}, {}][:2]
    record = None
    if destination.get("Code") == "ConditionalCheckFailed":
        record = _record(destination.get("Item")) or _EMPTY_RECORD
    ip_sends = _number(ip.get("Item") or {}, "sends") if ip.get("Code") == "ConditionalCheckFailed" else None
    conflict = "TransactionConflict" in (destination.get("Code"), ip.get("Code"))
    return SendOutcome(taken=False, record=record, ip_sends=ip_sends, conflict=conflict)


# ---- items ---------------------------------------------------------------------------------------


def _number(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


def _entry(entry: dict[str, Any], purpose: str, ciphertext: bytes = b"") -> StoredCode:
    fields = entry["M"]
    return StoredCode(
        verification_id=fields["vid"]["S"],
        purpose=purpose,
        channel=fields["channel"]["S"],
        masked_destination=fields["masked"]["S"],
        created_at=int(fields["created_at"]["N"]),
        expires_at=int(fields["expires_at"]["N"]),
        attempts=int(fields["attempts"]["N"]),
        consumed_at=int(fields["consumed_at"]["N"]) if "consumed_at" in fields else None,
        canceled_at=int(fields["canceled_at"]["N"]) if "canceled_at" in fields else None,
        ciphertext=ciphertext,
    )


def _code(item: dict[str, Any], purpose: str) -> StoredCode | None:
    entry = item.get("codes", {}).get("M", {}).get(purpose)
    if not entry or "M" not in entry:
        return None
    ciphertext = item.get("ciphers", {}).get("M", {}).get(purpose, {}).get("B", b"")
    return _entry(entry, purpose, bytes(ciphertext))


def _counters(item: dict[str, Any], prefix: str) -> dict[int, int]:
    return {int(name[len(prefix) :]): int(value["N"]) for name, value in item.items() if name.startswith(prefix)}


def _record(item: dict[str, Any] | None) -> DestinationRecord | None:
    if not item or item.get("kind", {}).get("S") != "destination":
        return None
    by_purpose = lambda name: {  # noqa: E731
        purpose: _entry(entry, purpose) for purpose, entry in item.get(name, {}).get("M", {}).items() if "M" in entry
    }
    return DestinationRecord(
        codes=by_purpose("codes"),
        replaced=by_purpose("replaced"),
        next_send_at=_number(item, "next_send_at"),
        sends=_counters(item, "sends_"),
        failures=_counters(item, "fails_"),
    )
