"""The pumping guard's AWS side: counts and the block list in DynamoDB, delivery feedback out
(the stream's records are read in otp.aws.pumping_stream).

Items it writes in the service's table (partition key ``id``):
- ``pumping#<prefix digest>#<period seconds>#<period index>`` (kind ``pumping_counts``): one string
  set per 10-second slot of delivered code tokens (``d<slot>``) and of those that verified
  (``v<slot>``), each token followed by its second within the slot. Adding a token twice is adding
  it once: a replayed batch counts nothing twice.
- ``pumping#blocks`` (kind ``pumping_blocks``): ``blocks`` (prefix digest -> starts_at, until,
  reason, country, sealed prefix) and ``lifts`` (prefix digest -> when an operator lifted it).
No item holds a prefix in clear, nor anything that links a code token to its destination record.

Run ``python -m otp.aws.pumping list`` or ``python -m otp.aws.pumping lift <prefix>`` (with
OTP_TABLE_NAME, OTP_DIGEST_KEY_ID and AWS credentials) to see the blocks or lift one.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from otp.aws.clients import describe_error
from otp.domain.ports import DependencyFailure
from otp.domain.prefix_keys import PrefixKeys
from otp.domain.pumping import CodeFact
from otp.domain.pumping_events import (
    Block,
    BlockTable,
    FeedbackFailed,
    PrefixChanges,
)
from otp.domain.pumping_rules import PumpingRules

log = logging.getLogger(__name__)

SLOT_SECONDS = 10
BLOCKS_KEY = "pumping#blocks"


def period_seconds(window_seconds: int) -> int:
    """Few items per window read: at most 7 BatchGetItem keys for any window the contract allows."""
    return next(p for p in (600, 3600, 21600, 86400) if window_seconds <= 6 * p)


def plain(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as Python: maps, ints, bytes; strings and sets as they come."""
    (kind, inner), *_ = value.items()
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "N":
        return int(inner)
    if kind == "B":
        return base64.b64decode(inner) if isinstance(inner, str) else bytes(inner)
    return inner  # S, BOOL, NULL, sets: read as they come


# ---- counts and blocks in DynamoDB ---------------------------------------------------------------


@contextlib.contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise _Refused() from None
        raise DependencyFailure(f"dynamodb:{operation} {describe_error(exc)}") from None
    except BotoCoreError as exc:
        raise DependencyFailure(f"dynamodb:{operation} {describe_error(exc)}") from None


class _Refused(Exception):
    pass


class DynamoDbPumpingCounts:
    def __init__(self, table_name: str, dynamodb_client: Callable[[], Any], window_seconds: int) -> None:
        self._table = table_name
        self._client = dynamodb_client
        self._window = window_seconds
        self._period = period_seconds(window_seconds)

    def _key(self, digest: str, index: int) -> dict[str, Any]:
        return {"id": {"S": f"pumping#{digest}#{self._period}#{index}"}}

    def record(self, digest: str, changes: PrefixChanges) -> None:
        adds: dict[int, dict[str, set[str]]] = {}
        removes: dict[int, dict[str, set[str]]] = {}
        fresh = {t: at for t, at in changes.delivered.items() if t not in changes.withdrawn}
        for kind, tokens, into in (
            ("d", fresh, adds),
            ("v", changes.verified, adds),
            ("d", changes.withdrawn, removes),
        ):
            for token, at in tokens.items():
                slot, second = divmod(at, SLOT_SECONDS)
                # The second within the slot travels with the token: a code matures from when it
                # was delivered, not from the start of its slot.
                into.setdefault(at // self._period, {}).setdefault(f"{kind}{slot}", set()).add(f"{token}{second}")
        for index, sets in adds.items():
            self._update(digest, index, "ADD", sets)
        for index, sets in removes.items():
            self._update(digest, index, "DELETE", sets)

    def _update(self, digest: str, index: int, action: str, sets: dict[str, set[str]]) -> None:
        names = {f"#a{i}": name for i, name in enumerate(sets)}
        values: dict[str, Any] = {f":a{i}": {"SS": sorted(tokens)} for i, tokens in enumerate(sets.values())}
        values.update(
            {":kind": {"S": "pumping_counts"}, ":keep": {"N": str((index + 1) * self._period + self._window + 3600)}}
        )
        with _translated("UpdateItem"):
            self._client().update_item(
                TableName=self._table,
                Key=self._key(digest, index),
                UpdateExpression=f"SET kind = :kind, expiry = :keep {action} "
                + ", ".join(f"{n} :a{n[2:]}" for n in names),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def codes(self, digest: str, since: int, now: int) -> list[CodeFact]:
        keys = [self._key(digest, i) for i in range(since // self._period, now // self._period + 1)]
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(4):
            with _translated("BatchGetItem"):
                response = self._client().batch_get_item(RequestItems=request)
            items += response.get("Responses", {}).get(self._table, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)
        else:
            raise DependencyFailure("dynamodb:BatchGetItem UnprocessedKeys")
        facts = []
        for item in items:
            for name, value in item.items():
                if name.startswith("d") and name[1:].isdigit():
                    verified = set(item.get(f"v{name[1:]}", {}).get("SS", []))
                    start = int(name[1:]) * SLOT_SECONDS
                    facts += [CodeFact(e[:-1], start + int(e[-1]), e in verified) for e in value["SS"]]
        return facts

    def block_table(self) -> BlockTable:
        with _translated("GetItem"):
            item = self._client().get_item(TableName=self._table, Key={"id": {"S": BLOCKS_KEY}}, ConsistentRead=True)
        found = plain({"M": item.get("Item", {})})
        blocks = {
            digest: Block(e["from"], e["until"], e["reason"], e["country"], e["sealed"])
            for digest, e in found.get("blocks", {}).items()
        }
        return BlockTable(blocks, dict(found.get("lifts", {})))

    def put_block(self, digest: str, block: Block, now: int) -> bool:
        entry = {
            "from": {"N": str(block.starts_at)},
            "until": {"N": str(block.until)},
            "reason": {"S": block.reason},
            "country": {"S": block.country},
            "sealed": {"B": block.sealed_prefix},
        }
        return self._change(
            "SET kind = :kind, blocks = if_not_exists(blocks, :empty), lifts = if_not_exists(lifts, :empty)",
            None,
            {":kind": {"S": "pumping_blocks"}, ":empty": {"M": {}}},
        ) and self._change(
            "SET blocks.#d = :entry",
            "attribute_not_exists(blocks.#d) OR blocks.#d.#from > :now OR blocks.#d.#until <= :now",
            {":entry": {"M": entry}, ":now": {"N": str(now)}},
            {"#d": digest, "#from": "from", "#until": "until"},
        )

    def remove_block(self, digest: str, starts_at: int) -> bool:
        return self._change(
            "REMOVE blocks.#d",
            "blocks.#d.#from = :from",
            {":from": {"N": str(starts_at)}},
            {"#d": digest, "#from": "from"},
        )

    def lift(self, digest: str, now: int) -> bool:
        """The operator's lift: the block goes, and codes delivered before now no longer count."""
        return self._change(
            "REMOVE blocks.#d SET lifts.#d = :now",
            "attribute_exists(blocks.#d)",
            {":now": {"N": str(now)}},
            {"#d": digest},
        )

    def forget_lift(self, digest: str, lifted_at: int) -> None:
        self._change("REMOVE lifts.#d", "lifts.#d = :at", {":at": {"N": str(lifted_at)}}, {"#d": digest})

    def _change(
        self, update: str, condition: str | None, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> bool:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"id": {"S": BLOCKS_KEY}},
            "UpdateExpression": update,
            "ExpressionAttributeValues": values,
        }
        if condition:
            request["ConditionExpression"] = condition
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            with _translated("UpdateItem"):
                self._client().update_item(**request)
        except _Refused:
            return False
        return True

    def read_blocks(self) -> dict[str, tuple[int, int]]:
        """Generate's one read: the spans only, eventually consistent (the reaction bound absorbs it)."""
        with _translated("GetItem"):
            item = (
                self._client()
                .get_item(TableName=self._table, Key={"id": {"S": BLOCKS_KEY}}, ProjectionExpression="blocks")
                .get("Item", {})
            )
        blocks = plain({"M": item}).get("blocks", {})
        return {digest: (entry["from"], entry["until"]) for digest, entry in blocks.items()}


class EumMessageFeedback:
    """RECEIVED for a verified code, reported to End User Messaging SMS (PutMessageFeedback)."""

    _PERMANENT = frozenset({"ResourceNotFoundException", "ValidationException", "AccessDeniedException"})

    def __init__(self, sms_voice_client: Callable[[], Any]) -> None:
        self._client = sms_voice_client

    def received(self, message_id: str) -> None:
        try:
            self._client().put_message_feedback(MessageId=message_id, MessageFeedbackStatus="RECEIVED")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            raise FeedbackFailed(retryable=code not in self._PERMANENT) from None
        except BotoCoreError:
            raise FeedbackFailed(retryable=True) from None


def prefix_keys(digest_key_id: str) -> PrefixKeys:
    """The record digests' secret, derived once per container from the KMS HMAC key."""
    from otp.aws.clients import client
    from otp.aws.kms import KmsSecretDeriver
    from otp.domain.keys import DIGEST_LABEL

    deriver = KmsSecretDeriver(digest_key_id, functools.partial(client, "kms"))
    return PrefixKeys(functools.cache(lambda: deriver.derive(DIGEST_LABEL)))


# ---- operators: list and lift --------------------------------------------------------------------


def listed_blocks(keys: PrefixKeys, counts: DynamoDbPumpingCounts, now: int) -> list[dict[str, Any]]:
    """Every block as an operator sees it, oldest first: the prefix opened, never a number."""
    return [
        {
            "prefix": keys.open(block.sealed_prefix),
            "prefix_digest": digest,
            "country": block.country,
            "reason": block.reason,
            "starts_at": _iso(block.starts_at),
            "until": _iso(block.until),
            "active": block.starts_at <= now < block.until,
        }
        for digest, block in sorted(counts.block_table().blocks.items(), key=lambda kv: kv[1].starts_at)
    ]


def lift_prefix(keys: PrefixKeys, counts: DynamoDbPumpingCounts, text: str, now: int) -> tuple[str, str, Block] | None:
    """Lift the block on the prefix ``text`` names (digits, a leading + allowed): (prefix, digest,
    the block lifted), or None when there is none. ValueError when ``text`` is not a prefix."""
    prefix = text.removeprefix("+")
    if not prefix.isascii() or not prefix.isdigit():
        raise ValueError("the prefix is digits, as listed (447911)")
    digest = keys.digest(prefix)
    # Read first: the lift removes the entry that knows the country, which every unblock's line names.
    lifted = counts.block_table().blocks.get(digest)
    if lifted is None or not counts.lift(digest, now):
        return None
    return prefix, digest, lifted


def _admin(argv: list[str], environ: Mapping[str, str]) -> int:
    from otp.aws.clients import client
    from otp.domain.pumping_rules import parse_rules

    rules: PumpingRules = parse_rules(environ)
    table, key_id = environ.get("OTP_TABLE_NAME", "otp_main"), environ.get("OTP_DIGEST_KEY_ID")
    if not key_id or not argv or argv[0] not in ("list", "lift") or (argv[0] == "lift") != (len(argv) == 2):
        print("usage: python -m otp.aws.pumping list | lift <prefix>   (needs OTP_DIGEST_KEY_ID)", file=sys.stderr)
        return 2
    keys = prefix_keys(key_id)
    counts = DynamoDbPumpingCounts(table, functools.partial(client, "dynamodb"), rules.window_seconds)
    now = int(time.time())
    if argv[0] == "list":
        for shown in listed_blocks(keys, counts, now):
            print(json.dumps(shown))
        return 0
    try:
        done = lift_prefix(keys, counts, argv[1], now)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if done is None:
        print(f"no block on {argv[1].removeprefix('+')}", file=sys.stderr)
        return 1
    prefix, digest, lifted = done
    log.warning(
        "prefix unblocked",
        extra={"prefix": prefix, "prefix_digest": digest, "country": lifted.country, "reason": "lifted"},
    )
    print(json.dumps({"lifted": prefix, "prefix_digest": digest}))
    return 0


def _iso(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat().replace("+00:00", "Z")


if __name__ == "__main__":  # pragma: no cover - exercised through _admin in the tests
    import os

    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    # The lift's line as the service's own: JSON with its prefix and country, on stderr beside the answer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LambdaPowertoolsFormatter(service="otp"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    sys.exit(_admin(sys.argv[1:], os.environ))
