"""How a destination record's DynamoDB item reads as the domain's entities: the store's facts."""

from __future__ import annotations

from typing import Any

from otp.domain.entities import DestinationRecord, StoredCode

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
        consumed_at=int(fields["consumed_at"]["N"]) if "consumed_at" in fields else None,
        canceled_at=int(fields["canceled_at"]["N"]) if "canceled_at" in fields else None,
        spent_at=int(fields["spent_at"]["N"]) if "spent_at" in fields else None,
        ciphertext=ciphertext,
    )


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
