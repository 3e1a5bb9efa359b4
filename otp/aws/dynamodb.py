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
from otp.aws.dynamodb_items import (
    EMPTY_RECORD,
    FAILS,
    NETWORK_BLOCK,
    NETWORK_FAILS,
    code_of,
    ended_update,
    forget_update,
    ip_counter_update,
    message_id_update,
    number,
    record_of,
    save_update,
    spent_update,
    withdraw_update,
)
from otp.domain.entities import (
    AttemptLimits,
    AttemptReservation,
    DestinationRecord,
    FailureBlocks,
    SendOutcome,
    SendPlan,
    StoredCode,
)
from otp.domain.ports import DependencyFailure

_CONDITION_FAILED = "ConditionalCheckFailedException"
# Past this many purposes on one destination, saving a code also drops its long-ended ones.
PURPOSES_BEFORE_PRUNING = 8
_EMPTY_MAP: dict[str, Any] = {"M": {}}

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
                return SendOutcome(taken=False, record=record_of(refused.item) or EMPTY_RECORD)
            return SendOutcome(taken=True)
        try:
            with _translated("TransactWriteItems"):
                self._client().transact_write_items(
                    TransactItems=[{"Update": destination}, {"Update": ip_counter_update(self._table, plan)}]
                )
        except _TransactionCanceled as canceled:
            return _transaction_outcome(canceled.reasons)
        return SendOutcome(taken=True)

    # ---- codes ---------------------------------------------------------------------------------

    def save_code(self, record_key: str, code: StoredCode, keep_until: int, forget_before: int) -> DestinationRecord:
        entry = {
            "vid": {"S": code.verification_id},
            "channel": {"S": code.channel},
            "masked": {"S": code.masked_destination},
            "created_at": _n(code.created_at),
            "expires_at": _n(code.expires_at),
            "attempts": _n(0),
        }
        if code.guard is not None:
            # The pumping guard's consumer reads these from the table's stream (otp.aws.pumping_stream).
            entry["pfx"] = {"B": code.guard.sealed_prefix}
            entry["country"] = {"S": code.guard.country}
        saved = self._save(record_key, code.purpose, {"M": entry}, code.ciphertext, keep_until)
        codes = saved.get("codes", {}).get("M", {})
        if len(codes) > PURPOSES_BEFORE_PRUNING:
            ended = [p for p, entry in codes.items() if int(entry["M"]["expires_at"]["N"]) < forget_before]
            self._forget(record_key, {p: codes[p]["M"]["vid"]["S"] for p in ended[:PURPOSES_BEFORE_PRUNING]})
        return record_of(saved) or EMPTY_RECORD

    def _save(self, key: str, purpose: str, entry: dict[str, Any], ciphertext: bytes, keep: int) -> dict[str, Any]:
        # One write, for whichever of its two shapes the item is in; a concurrent save may switch it.
        for kept in (False, True, False, True):
            try:
                with _translated("UpdateItem"):
                    update = save_update(key, purpose, entry, ciphertext, keep, keep_replaced=kept)
                    return dict(self._client().update_item(TableName=self._table, **update)["Attributes"])
            except _ConditionFailed:
                continue
        raise DependencyFailure("dynamodb:UpdateItem the record kept changing under save_code")

    def _forget(self, record_key: str, ended: dict[str, str]) -> None:
        """Drop long-ended codes; rare (only past many purposes), and best effort."""
        if not ended:
            return
        with contextlib.suppress(_ConditionFailed, DependencyFailure), _translated("UpdateItem"):
            self._client().update_item(TableName=self._table, **forget_update(record_key, ended))

    def withdraw_code(self, record_key: str, purpose: str, verification_id: str) -> None:
        # A failed condition means a newer code already replaced this one: nothing to withdraw.
        with contextlib.suppress(_ConditionFailed), _translated("UpdateItem"):
            self._client().update_item(TableName=self._table, **withdraw_update(record_key, purpose, verification_id))

    def keep_message_id(self, record_key: str, purpose: str, verification_id: str, message_id: str) -> None:
        # A failed condition: a newer code replaced this one meanwhile, whose own id is what counts.
        with contextlib.suppress(_ConditionFailed), _translated("UpdateItem"):
            self._client().update_item(
                TableName=self._table, **message_id_update(record_key, purpose, verification_id, message_id)
            )

    def reserve_attempt(
        self, record_key: str, purpose: str, verification_id: str | None, now: int, limits: AttemptLimits
    ) -> AttemptReservation:
        condition = (
            f"{_LIVE_CODE} AND codes.#p.expires_at > :now AND codes.#p.attempts < :max "
            "AND (attribute_not_exists(#fails) OR #fails < :cap)"
        )
        values = {":now": _n(now), ":max": _n(limits.max_attempts), ":cap": _n(limits.failures.limit)}
        values.update({":zero": _n(0), ":one": _n(1)})
        if verification_id is not None:
            condition += " AND codes.#p.vid = :vid"
            values[":vid"] = {"S": verification_id}
        names, sets, removes = _failure_counts(limits.failures.bucket, limits.network, limits.stale_buckets)
        try:
            with _translated("UpdateItem"):
                response = self._client().update_item(
                    TableName=self._table,
                    Key={"id": {"S": record_key}},
                    # Counted against the destination too until the code proves right (consume gives it back).
                    UpdateExpression=f"SET codes.#p.attempts = codes.#p.attempts + :one, {', '.join(sets)}"
                    + (f" REMOVE {', '.join(removes)}" if removes else ""),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#p": purpose, **names},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except _ConditionFailed as refused:
            old = refused.item or {}
            return AttemptReservation(reserved=None, current=code_of(old, purpose), record=record_of(old))
        item = response["Attributes"]
        return AttemptReservation(reserved=code_of(item, purpose), current=None, record=record_of(item))

    def block_failures(self, record_key: str, blocks: FailureBlocks) -> None:
        """Write the blocks a wrong code crossed into; only ever extends one, never shortens it."""
        sets, names, values = [], {}, {}
        if blocks.destination_until is not None:
            sets.append("fail_block_until = :until")
            values[":until"] = _n(blocks.destination_until)
        if blocks.network is not None and blocks.network_until is not None:
            sets.append("#netblock = :net_until")
            names["#netblock"] = f"{NETWORK_BLOCK}{blocks.network}"
            values[":net_until"] = _n(blocks.network_until)
        if not sets:
            return
        with _translated("UpdateItem"):
            self._client().update_item(
                TableName=self._table,
                Key={"id": {"S": record_key}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(id)",
                **({"ExpressionAttributeNames": names} if names else {}),
                ExpressionAttributeValues=values,
            )

    def consume(
        self,
        record_key: str,
        purpose: str,
        verification_id: str,
        now: int,
        limits: AttemptLimits,
        resend_at: int | None = None,
    ) -> bool:
        names = {"#p": purpose, "#fails": f"{FAILS}{limits.failures.bucket}"}
        given_back = ["#fails = if_not_exists(#fails, :one) - :one"]
        values = {":now": _n(now), ":vid": {"S": verification_id}, ":one": _n(1)}
        if resend_at is not None:
            given_back.append("codes.#p.resend_at = :resend")
            values[":resend"] = _n(resend_at)
        if limits.network is not None:
            names["#netfails"] = f"{NETWORK_FAILS}{limits.network}_{limits.failures.bucket}"
            given_back.append("#netfails = if_not_exists(#netfails, :one) - :one")
        try:
            with _translated("UpdateItem"):
                self._client().update_item(
                    TableName=self._table,
                    Key={"id": {"S": record_key}},
                    # The ciphertext has done its job; dropping it leaves nothing to attack later.
                    UpdateExpression=f"SET codes.#p.consumed_at = :now, {', '.join(given_back)} REMOVE ciphers.#p",
                    ConditionExpression=f"{_LIVE_CODE} AND codes.#p.vid = :vid",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except _ConditionFailed:
            return False
        return True

    def mark_ended(self, key: str, purpose: str, vid: str, resend_at: int, superseded_at: int | None = None) -> None:
        # A failed condition: another code has its place now, or it was marked first; both leave it be.
        with contextlib.suppress(_ConditionFailed), _translated("UpdateItem"):
            update = ended_update(key, purpose, vid, resend_at, superseded_at)
            self._client().update_item(TableName=self._table, **update)

    def spend(self, key: str, purpose: str, vid: str, now: int, resend_at: int | None = None) -> None:
        with contextlib.suppress(_ConditionFailed), _translated("UpdateItem"):  # refused: it ended first
            update = spent_update(key, purpose, vid, now, resend_at, live=_LIVE_CODE)
            self._client().update_item(TableName=self._table, **update)

    # ---- status --------------------------------------------------------------------------------

    def read(self, record_key: str) -> DestinationRecord | None:
        with _translated("GetItem"):
            item = (
                self._client()
                .get_item(TableName=self._table, Key={"id": {"S": record_key}}, ConsistentRead=True)
                .get("Item")
            )
        return record_of(item)

    def cancel(
        self, record_key: str, purpose: str, verification_id: str, now: int, max_attempts: int
    ) -> tuple[bool, DestinationRecord | None]:
        values = {":now": _n(now), ":vid": {"S": verification_id}, ":max": _n(max_attempts)}
        try:
            with _translated("UpdateItem"):
                response = self._client().update_item(
                    TableName=self._table,
                    Key={"id": {"S": record_key}},
                    UpdateExpression="SET codes.#p.canceled_at = :now REMOVE ciphers.#p",
                    ConditionExpression=f"{_LIVE_CODE} AND codes.#p.vid = :vid AND codes.#p.expires_at > :now "
                    "AND (codes.#p.attempts < :max OR attribute_not_exists(codes.#p.spent_at))",
                    ExpressionAttributeNames={"#p": purpose},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except _ConditionFailed as refused:
            return False, record_of(refused.item)
        return True, record_of(response["Attributes"])


# ---- the send limits' and the failure bound's updates ----------------------------------------------


def _failure_counts(
    bucket: int, network: str | None, stale: tuple[int, ...]
) -> tuple[dict[str, str], list[str], list[str]]:
    """Count one attempt in the destination's bucket (and the network's), dropping buckets behind the window."""
    names = {"#fails": f"{FAILS}{bucket}"}
    sets = ["#fails = if_not_exists(#fails, :zero) + :one"]
    if network is not None:
        names["#netfails"] = f"{NETWORK_FAILS}{network}_{bucket}"
        sets.append("#netfails = if_not_exists(#netfails, :zero) + :one")
    removes = []
    for index, old in enumerate(stale):
        names[f"#old{index}"] = f"{FAILS}{old}"
        removes.append(f"#old{index}")
        if network is not None:
            names[f"#oldnet{index}"] = f"{NETWORK_FAILS}{network}_{old}"
            removes.append(f"#oldnet{index}")
    return names, sets, removes


def _destination_limits_update(table: str, plan: SendPlan, now: int) -> dict[str, Any]:
    """One conditional update that takes the cooldown, the send window and the failure bound at once."""
    sets = [
        "kind = :kind",
        "codes = if_not_exists(codes, :empty)",
        "replaced = if_not_exists(replaced, :empty)",
        "ciphers = if_not_exists(ciphers, :empty)",
        "expiry = :keep",
    ]
    # The failure bound is held by blocks that the verify path writes when a wrong code crosses it.
    conditions = ["(attribute_not_exists(fail_block_until) OR fail_block_until <= :now)"]
    names: dict[str, str] = {}
    values: dict[str, Any] = {
        ":kind": {"S": "destination"},
        ":empty": _EMPTY_MAP,
        ":keep": _n(plan.keep_until),
        ":now": _n(now),
    }
    removes: list[str] = []
    if plan.network is not None:
        conditions.append("(attribute_not_exists(#netblock) OR #netblock <= :now)")
        names["#netblock"] = f"{NETWORK_BLOCK}{plan.network}"
    if plan.cooldown_until is not None:
        sets.append("next_send_at = :until")
        conditions.append("(attribute_not_exists(next_send_at) OR next_send_at <= :now)")
        values[":until"] = _n(plan.cooldown_until)
    if plan.sends is not None:
        sets.append("#sends = if_not_exists(#sends, :zero) + :one")
        conditions.append("(attribute_not_exists(#sends) OR #sends < :send_limit)")
        names.update({"#sends": f"sends_{plan.sends.bucket}", "#sends_1": f"sends_{plan.sends.bucket - 1}"})
        values.update({":zero": _n(0), ":one": _n(1), ":send_limit": _n(plan.sends.limit)})
        removes.append("#sends_1")
    update = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
    return {
        "TableName": table,
        "Key": {"id": {"S": plan.record_key}},
        "UpdateExpression": update,
        "ConditionExpression": " AND ".join(conditions),
        **({"ExpressionAttributeNames": names} if names else {}),
        "ExpressionAttributeValues": values,
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
        record = record_of(destination.get("Item")) or EMPTY_RECORD
    ip_sends = number(ip.get("Item") or {}, "sends") if ip.get("Code") == "ConditionalCheckFailed" else None
    conflict = "TransactionConflict" in (destination.get("Code"), ip.get("Code"))
    return SendOutcome(taken=False, record=record, ip_sends=ip_sends, conflict=conflict)
