"""How a destination record's DynamoDB item reads as the domain's entities: the store's facts."""

from __future__ import annotations

from typing import Any

from otp.domain.entities import DestinationRecord, SendPlan, StoredCode

# Attribute prefixes of the failure bound: per-bucket counts for the destination and per network,
# and the moments until which /generate refuses it everywhere or from one network.
FAILS = "fails_"
NETWORK_FAILS = "nf_"
NETWORK_BLOCK = "nb_"
# A refusing condition on an item that did not exist yet (it cannot refuse: kept for clarity).
EMPTY_RECORD = DestinationRecord(codes={}, replaced={}, next_send_at=0, sends={}, failures={})


def number(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


def entry_of(entry: dict[str, Any], purpose: str, ciphertext: bytes = b"") -> StoredCode:
    fields = entry["M"]
    return StoredCode(
        verification_id=fields["vid"]["S"],
        purpose=purpose,
        channel=fields["channel"]["S"],
        masked_destination=fields["masked"]["S"],
        created_at=int(fields["created_at"]["N"]),
        expires_at=int(fields["expires_at"]["N"]),
        attempts=int(fields["attempts"]["N"]),
        consumed_at=_optional(fields, "consumed_at"),
        canceled_at=_optional(fields, "canceled_at"),
        spent_at=_optional(fields, "spent_at"),
        ciphertext=ciphertext,
        # Absent on items written before a finished code kept these: the domain falls back.
        resend_at=_optional(fields, "resend_at"),
        superseded_at=_optional(fields, "superseded_at"),
        message_id=fields["msg"]["S"] if "msg" in fields else None,
    )


def _optional(fields: dict[str, Any], name: str) -> int | None:
    return int(fields[name]["N"]) if name in fields else None


def code_of(item: dict[str, Any], purpose: str) -> StoredCode | None:
    entry = item.get("codes", {}).get("M", {}).get(purpose)
    if not entry or "M" not in entry:
        return None
    ciphertext = item.get("ciphers", {}).get("M", {}).get(purpose, {}).get("B", b"")
    return entry_of(entry, purpose, bytes(ciphertext))


def _counters(item: dict[str, Any], prefix: str) -> dict[int, int]:
    return {int(name[len(prefix) :]): int(value["N"]) for name, value in item.items() if name.startswith(prefix)}


def record_of(item: dict[str, Any] | None) -> DestinationRecord | None:
    if not item or item.get("kind", {}).get("S") != "destination":
        return None
    by_purpose = lambda name: {  # noqa: E731
        purpose: entry_of(entry, purpose) for purpose, entry in item.get(name, {}).get("M", {}).items() if "M" in entry
    }
    return DestinationRecord(
        codes=by_purpose("codes"),
        replaced=by_purpose("replaced"),
        next_send_at=number(item, "next_send_at"),
        sends=_counters(item, "sends_"),
        failures=_counters(item, FAILS),
        network_failures=_network_counters(item),
        blocked_until=number(item, "fail_block_until"),
        network_blocks={
            name[len(NETWORK_BLOCK) :]: int(v["N"]) for name, v in item.items() if name.startswith(NETWORK_BLOCK)
        },
    )


def _network_counters(item: dict[str, Any]) -> dict[str, dict[int, int]]:
    counts: dict[str, dict[int, int]] = {}
    for name, value in item.items():
        if name.startswith(NETWORK_FAILS):
            network, _, bucket = name[len(NETWORK_FAILS) :].rpartition("_")
            counts.setdefault(network, {})[int(bucket)] = int(value["N"])
    return counts


# ---- the code history's updates -------------------------------------------------------------------


def save_update(
    record_key: str, purpose: str, entry: dict[str, Any], ciphertext: bytes, keep_until: int, keep_replaced: bool
) -> dict[str, Any]:
    """Store a code as its purpose's newest; the one it supersedes moves to `replaced`.

    Every operand reads the item as it was, so the move (without the ciphertext, which the new
    one overwrites) is part of the same write. With no code pending but one replaced (the last
    send failed and was withdrawn) the replaced one must stay: DynamoDB has no nested
    if_not_exists, so that rare shape has a write of its own (``keep_replaced``), each conditioned
    on the shape it is for.
    """
    values: dict[str, Any] = {":entry": entry, ":ciphertext": {"B": ciphertext}, ":keep": {"N": str(keep_until)}}
    update = "codes.#p = :entry, ciphers.#p = :ciphertext, expiry = :keep"
    if keep_replaced:
        condition = "attribute_not_exists(codes.#p) AND attribute_exists(replaced.#p.vid)"
    else:
        condition = "attribute_exists(codes.#p) OR attribute_not_exists(replaced.#p.vid)"
        update = "replaced.#p = if_not_exists(codes.#p, :none), " + update
        values[":none"] = {"NULL": True}
    return {
        "Key": {"id": {"S": record_key}},
        "UpdateExpression": "SET " + update,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#p": purpose},
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }


def forget_update(record_key: str, ended: dict[str, str]) -> dict[str, Any]:
    """Drop long-ended codes (purpose -> id), only if none was replaced meanwhile by a new code."""
    names = {f"#p{i}": purpose for i, purpose in enumerate(ended)}
    paths = [f"{m}.{n}" for n in names for m in ("codes", "replaced", "ciphers")]
    return {
        "Key": {"id": {"S": record_key}},
        "UpdateExpression": "REMOVE " + ", ".join(paths),
        "ConditionExpression": " AND ".join(f"codes.{n}.vid = :v{n[2:]}" for n in names),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {f":v{n[2:]}": {"S": ended[p]} for n, p in names.items()},
    }


def withdraw_update(record_key: str, purpose: str, verification_id: str) -> dict[str, Any]:
    """Delete the code (and its ciphertext) only while it is still its purpose's newest."""
    return {
        "Key": {"id": {"S": record_key}},
        "UpdateExpression": "REMOVE codes.#p, ciphers.#p",
        "ConditionExpression": "codes.#p.vid = :vid",
        "ExpressionAttributeNames": {"#p": purpose},
        "ExpressionAttributeValues": {":vid": {"S": verification_id}},
    }


def message_id_update(record_key: str, purpose: str, verification_id: str, message_id: str) -> dict[str, Any]:
    """The provider's id of the code's message, on the code while it is its purpose's newest."""
    return {
        "Key": {"id": {"S": record_key}},
        "UpdateExpression": "SET codes.#p.msg = :msg",
        "ConditionExpression": "codes.#p.vid = :vid",
        "ExpressionAttributeNames": {"#p": purpose},
        "ExpressionAttributeValues": {":msg": {"S": message_id}, ":vid": {"S": verification_id}},
    }


def ended_update(
    record_key: str, purpose: str, verification_id: str, resend_at: int, superseded_at: int | None
) -> dict[str, Any]:
    """Keep what a code showed when it left pending, on the newest code (or, superseded, the replaced one)."""
    where = "codes" if superseded_at is None else "replaced"
    sets = [f"{where}.#p.resend_at = :resend"]
    values = {":resend": {"N": str(resend_at)}, ":vid": {"S": verification_id}}
    if superseded_at is not None:
        sets.append(f"{where}.#p.superseded_at = :superseded")
        values[":superseded"] = {"N": str(superseded_at)}
    return {
        "Key": {"id": {"S": record_key}},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": f"{where}.#p.vid = :vid AND attribute_not_exists({where}.#p.resend_at)",
        "ExpressionAttributeNames": {"#p": purpose},
        "ExpressionAttributeValues": values,
    }


def spent_update(
    record_key: str, purpose: str, verification_id: str, now: int, resend_at: int | None, live: str
) -> dict[str, Any]:
    """The code's last attempt was answered wrong: say so, drop its ciphertext, keep its resend time."""
    sets = ["codes.#p.spent_at = :now"]
    values = {":now": {"N": str(now)}, ":vid": {"S": verification_id}}
    if resend_at is not None:
        sets.append("codes.#p.resend_at = if_not_exists(codes.#p.resend_at, :resend)")
        values[":resend"] = {"N": str(resend_at)}
    return {
        "Key": {"id": {"S": record_key}},
        "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE ciphers.#p",
        "ConditionExpression": f"{live} AND codes.#p.vid = :vid",
        "ExpressionAttributeNames": {"#p": purpose},
        "ExpressionAttributeValues": values,
    }


# ---- sends -------------------------------------------------------------------------------------


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def ip_counter_update(table: str, plan: SendPlan) -> dict[str, Any]:
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
