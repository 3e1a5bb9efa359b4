"""The pumping guard's stream side: what each change of a destination record means for its codes.

Only the consumer reads the stream. Generate reads the block list through otp.aws.pumping, which
does not import this module.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from otp.aws.pumping import plain
from otp.domain.pumping_events import CodeEvent, FeedbackDue

# The code entry's fields the guard reads (otp.aws.dynamodb writes them).
ENTRY_PREFIX, ENTRY_COUNTRY, ENTRY_MESSAGE = "pfx", "country", "msg"


def _codes(image: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    codes = plain(image["codes"]) if image and "codes" in image else {}
    return {purpose: entry for purpose, entry in codes.items() if isinstance(entry, dict) and "vid" in entry}


def _epoch(value: Any) -> int:
    return int(value.timestamp()) if isinstance(value, datetime.datetime) else int(value or 0)


def decode_records(records: list[dict[str, Any]]) -> tuple[list[CodeEvent], list[FeedbackDue]]:
    """What each destination-record change means for its sms and voice codes (those with ``pfx``)."""
    events: list[CodeEvent] = []
    feedback: list[FeedbackDue] = []
    for record in records:
        change = record.get("dynamodb", {})
        if record.get("eventName") == "REMOVE" or not change.get("Keys", {}).get("id", {}).get("S", "").startswith(
            "dest#"
        ):
            continue  # TTL cleanups and other items: nothing to count
        old, new = _codes(change.get("OldImage")), _codes(change.get("NewImage"))
        at, sequence = _epoch(change.get("ApproximateCreationDateTime")), str(change["SequenceNumber"])
        for purpose in old.keys() | new.keys():
            before, after = old.get(purpose), new.get(purpose)
            events += _code_events(before, after, at, sequence)
            due = _feedback_due(before, after)
            if due is not None:
                feedback.append(FeedbackDue(due, sequence))
    return events, feedback


def _event(kind: Any, entry: dict[str, Any], sequence: str, at: int) -> CodeEvent:
    return CodeEvent(
        kind,
        entry["vid"],
        entry["created_at"],
        entry[ENTRY_PREFIX],
        entry.get(ENTRY_COUNTRY, "ZZ"),
        sequence,
        recorded_at=at or None,
    )


def _code_events(
    before: dict[str, Any] | None, after: dict[str, Any] | None, at: int, sequence: str
) -> list[CodeEvent]:
    found = []
    if after is not None and ENTRY_PREFIX in after:
        fresh = before is None or before["vid"] != after["vid"]
        if fresh:
            found.append(_event("delivered", after, sequence, at))
        if "consumed_at" in after and (fresh or "consumed_at" not in (before or {})):
            found.append(_event("verified", after, sequence, at))
    # A code removed from `codes` before it expired, unused, is one whose delivery failed
    # (withdraw_code); superseded codes move to `replaced` instead, and pruning takes only old ones.
    if (
        before is not None
        and after is None
        and ENTRY_PREFIX in before
        and not {"consumed_at", "canceled_at"} & before.keys()
        and at < before["expires_at"]
    ):
        found.append(_event("withdrawn", before, sequence, at))
    return found


def _feedback_due(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str | None:
    """The message id once a code is both verified and has its id, whichever was written last."""
    if after is None or ENTRY_MESSAGE not in after or "consumed_at" not in after:
        return None
    if before is not None and before["vid"] == after["vid"] and {ENTRY_MESSAGE, "consumed_at"} <= before.keys():
        return None
    return str(after[ENTRY_MESSAGE])
