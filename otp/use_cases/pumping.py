"""The pumping guard's stream consumer, which counts and blocks (generate's side: otp.use_cases.send_guard).

The consumer reads the destination records' changes (DynamoDB Streams, NEW_AND_OLD_IMAGES),
turns them into events per code (delivered, verified, withdrawn), counts them per prefix digest
idempotently (a code is one token in a set, so a replayed batch adds nothing), asks the rule
(otp.domain.pumping) whether the prefix's counts call for a block, and writes the block list.
Generate reads that list at most once per OTP_FRAUD_REACTION_SECONDS per container.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from otp.domain.ports import DependencyFailure
from otp.domain.prefix_keys import PrefixKeys, SealBroken
from otp.domain.pumping import Decision, decide
from otp.domain.pumping_rules import PumpingRules
from otp.use_cases.send_guard import BLOCK_LIST_UNAVAILABLE, SEND_REFUSED

log = logging.getLogger(__name__)

# The metrics this guard emits (namespace OtpService); the lead adds them to otp.observability.METRICS.
CODE_COUNTED = "PumpingCodeCounted"  # a delivered sms/voice code, counted against its prefix
CODE_CONVERTED = "PumpingCodeConverted"  # a counted code that verified
PREFIX_BLOCKED = "PumpingPrefixBlocked"  # the alarm's metric: a block was written
PREFIX_UNBLOCKED = "PumpingPrefixUnblocked"
FEEDBACK_SENT = "PumpingFeedbackSent"
FEEDBACK_FAILED = "PumpingFeedbackFailed"
PUMPING_METRICS = frozenset(
    {
        CODE_COUNTED,
        CODE_CONVERTED,
        PREFIX_BLOCKED,
        PREFIX_UNBLOCKED,
        BLOCK_LIST_UNAVAILABLE,
        FEEDBACK_SENT,
        FEEDBACK_FAILED,
        SEND_REFUSED,
    }
)


from otp.domain.pumping_events import (  # noqa: E402  (shared with the adapter)
    Block,
    BlockTable,
    CodeEvent,
    FeedbackDue,
    FeedbackFailed,
    MessageFeedback,
    PrefixChanges,
    PumpingCounts,
)


@dataclass
class StreamDependencies:
    rules: PumpingRules
    keys: PrefixKeys
    counts: PumpingCounts
    emit: Callable[[str, float], None]
    feedback: MessageFeedback | None = None


# ---- the consumer -----------------------------------------------------------------------------------


def consume(
    deps: StreamDependencies, events: Sequence[CodeEvent], feedback: Sequence[FeedbackDue], now: int
) -> str | None:
    """Count, decide, block, report feedback. The first SequenceNumber that must be retried, or None.

    Every write is idempotent, so Lambda retrying from that record (and replaying those after it)
    changes nothing that already succeeded.
    """
    if not deps.rules.enabled:
        return _first(_send_feedback(deps, feedback))
    # One batch is one shard's records, in order: the guard knows its codes up to the newest one.
    recorded = [e.recorded_at for e in events if e.recorded_at is not None]
    known_until = min(now, max(recorded)) if recorded else now
    failed: list[str] = []
    groups = _group(deps, events)
    try:
        table = deps.counts.block_table()
        _expire(deps, table, now)
    except DependencyFailure as exc:
        log.error("pumping guard could not read its block list", extra={"dependency_error": str(exc)})
        return _first([*(e.sequence for e in events), *(f.sequence for f in feedback)])
    for digest, changes in groups.items():
        try:
            _count_and_decide(deps, table, digest, changes, now, known_until)
        except DependencyFailure as exc:
            log.error("pumping guard could not count a prefix", extra={"dependency_error": str(exc)})
            failed.append(changes.first_sequence)
    failed += _send_feedback(deps, feedback)
    return _first(failed)


def housekeeping(deps: StreamDependencies, now: int) -> None:
    """Apply expiries without stream traffic (a scheduled invocation): log and count each unblock."""
    _expire(deps, deps.counts.block_table(), now)


def _first(sequences: Sequence[str]) -> str | None:
    return min(sequences, key=int, default=None)


def _group(deps: StreamDependencies, events: Sequence[CodeEvent]) -> dict[str, PrefixChanges]:
    groups: dict[str, PrefixChanges] = {}
    for event in events:
        try:
            prefix = deps.keys.open(event.sealed_prefix)
        except SealBroken:
            # Sealed under another secret (a rotated digest key) or altered: it cannot be counted,
            # and retrying would not change that.
            log.warning("pumping guard skipped a code whose prefix it cannot open", extra={"country": event.country})
            continue
        digest = deps.keys.digest(prefix)
        changes = groups.setdefault(digest, PrefixChanges(prefix, event.country, event.sequence))
        if int(event.sequence) < int(changes.first_sequence):
            changes.first_sequence = event.sequence
        token = deps.keys.token(event.verification_id)
        getattr(changes, event.kind)[token] = event.delivered_at
    return groups


def _count_and_decide(
    deps: StreamDependencies, table: BlockTable, digest: str, changes: PrefixChanges, now: int, known_until: int
) -> None:
    """Decide on what is known at ``known_until``: a consumer running behind must not take the
    verifications still waiting in the stream for codes that never converted."""
    rules = deps.rules
    deps.counts.record(digest, changes)
    deps.emit(CODE_COUNTED, len(changes.delivered))
    deps.emit(CODE_CONVERTED, len(changes.verified))
    # Conversion by prefix, summed by the dashboard's Logs Insights widget: a custom metric per
    # prefix would cost more than the service. The prefix and its country only, never a number.
    log.info(
        "prefix counted",
        extra={
            "prefix": changes.prefix,
            "country": changes.country,
            "delivered": len(changes.delivered),
            "verified": len(changes.verified),
        },
    )
    existing = table.blocks.get(digest)
    if existing is not None and existing.starts_at <= now < existing.until:
        return  # blocked already; a block runs its course
    lifted_at = table.lifts.get(digest, 0)
    codes = [c for c in deps.counts.codes(digest, now - rules.window_seconds, now) if c.delivered_at >= lifted_at]
    decision = decide(codes, known_until, rules, changes.prefix)
    behind = now - known_until > rules.reaction_seconds
    if decision is not None and behind and known_until < decision.starts_at <= now:
        # Its moment has passed while the records after known_until, which could undo it, are still
        # unread: the batch that reads them decides (an attack's next code brings one).
        return
    if decision is None:
        if existing is not None and existing.starts_at > now and deps.counts.remove_block(digest, existing.starts_at):
            log.info("scheduled prefix block withdrawn: its codes verified", extra=_named(changes, existing.reason))
        return
    if existing is not None and existing.starts_at == decision.starts_at:
        return
    _block(deps, digest, changes, decision, now, replacing=existing)


def _block(
    deps: StreamDependencies,
    digest: str,
    changes: PrefixChanges,
    decision: Decision,
    now: int,
    replacing: Block | None,
) -> None:
    block = Block(
        starts_at=decision.starts_at,
        until=decision.until(deps.rules),
        reason=decision.reason,
        country=changes.country,
        sealed_prefix=deps.keys.seal(changes.prefix),
    )
    if not deps.counts.put_block(digest, block, now):
        return
    if replacing is None or replacing.until <= now:
        deps.emit(PREFIX_BLOCKED, 1)
    log.warning(
        "prefix blocked" if block.starts_at <= now else "prefix block scheduled",
        extra={
            **_named(changes, block.reason),
            "prefix_digest": digest,
            "starts_at": block.starts_at,
            "until": block.until,
        },
    )


def _named(changes: PrefixChanges, reason: str) -> dict[str, object]:
    # The prefix and its country, never a number: prefix_of keeps the masked digits out of it.
    return {"prefix": changes.prefix, "country": changes.country, "reason": reason}


def _expire(deps: StreamDependencies, table: BlockTable, now: int) -> None:
    for digest, block in list(table.blocks.items()):
        if block.until <= now and deps.counts.remove_block(digest, block.starts_at):
            del table.blocks[digest]
            deps.emit(PREFIX_UNBLOCKED, 1)
            log.warning(
                "prefix unblocked",
                extra={
                    "prefix": _open_or_none(deps.keys, block.sealed_prefix),
                    "prefix_digest": digest,
                    "country": block.country,
                    "reason": "expired",
                    "blocked_since": block.starts_at,
                },
            )
    for digest, lifted_at in list(table.lifts.items()):
        if lifted_at + deps.rules.window_seconds < now:
            deps.counts.forget_lift(digest, lifted_at)


def _open_or_none(keys: PrefixKeys, sealed: bytes) -> str | None:
    try:
        return keys.open(sealed)
    except SealBroken:
        return None


def _send_feedback(deps: StreamDependencies, due: Sequence[FeedbackDue]) -> list[str]:
    if deps.feedback is None:
        return []
    failed = []
    for item in due:
        try:
            deps.feedback.received(item.message_id)
        except FeedbackFailed as exc:
            deps.emit(FEEDBACK_FAILED, 1)
            log.warning("delivery feedback not reported", extra={"retryable": exc.retryable})
            if exc.retryable:
                failed.append(item.sequence)
            continue
        deps.emit(FEEDBACK_SENT, 1)
    return failed
