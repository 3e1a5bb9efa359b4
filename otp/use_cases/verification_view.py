"""One verification as its destination's record shows it: shared by the status read and the cancel."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from otp.domain import limits
from otp.domain.destinations import Channel
from otp.domain.entities import DestinationRecord, StoredCode
from otp.domain.errors import InvalidRequest
from otp.domain.keys import VerificationRef
from otp.domain.ports import DependencyFailure
from otp.domain.verification import Status, attempts_remaining, resend_shown, status_of, superseded_moment
from otp.use_cases import answering_503
from otp.use_cases.dependencies import Common

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerificationView:
    verification_id: str
    status: Status
    channel: Channel
    masked_destination: str
    purpose: str
    attempts_remaining: int
    created_at: int
    expires_at: int
    resend_available_at: int


def locate(deps: Common, verification_id: str) -> VerificationRef:
    """The record an id names; unmasking it takes the digest secret, derived once per container."""
    with answering_503("reading a verification id"):
        ref = deps.digests.locate(verification_id)
    if ref is None:
        raise InvalidRequest.for_field("verification_id", "must be a verification id returned by /generate")
    return ref


def describe(
    deps: Common, record: DestinationRecord | None, ref: VerificationRef, verification_id: str, now: int
) -> VerificationView | None:
    """The verification as its destination's record shows it; None when the record does not know it."""
    if record is None:
        return None
    settings = deps.settings
    newest = record.codes.get(ref.purpose)
    superseded_at = None
    code = newest if newest is not None and newest.verification_id == verification_id else None
    if code is None:
        code = record.replaced.get(ref.purpose)
        if code is None or code.verification_id != verification_id:
            return None
        superseded_at = superseded_moment(code, newest, now)
    status = status_of(code, now, settings.max_attempts, superseded_at=superseded_at)
    return VerificationView(
        verification_id=verification_id,
        status=status,
        channel=code.channel,
        masked_destination=code.masked_destination,
        purpose=ref.purpose,
        attempts_remaining=attempts_remaining(code, settings.max_attempts),
        created_at=code.created_at,
        expires_at=code.expires_at,
        resend_available_at=resend_shown(settings, record, code, status, now),
    )


def keep_ending(
    deps: Common, record_key: str, code: StoredCode, resend_at: int, superseded_at: int | None = None
) -> None:
    """Keep on a code that just left pending what it showed then (see resend_shown).

    Best effort: the code has already ended, so a failed write costs only the frozen value
    (the read falls back to the code's own cooldown end), never the answer.
    """
    try:
        deps.store.mark_ended(record_key, code.purpose, code.verification_id, resend_at, superseded_at)
    except DependencyFailure as exc:
        log.warning(
            "could not keep a finished verification's resend time",
            extra={"verification_id": code.verification_id, "dependency_error": str(exc)},
        )


def keep_superseded(deps: Common, record_key: str, saved: DestinationRecord, purpose: str, now: int) -> None:
    """A new code just replaced the one pending: that one keeps when, and its resend time then.

    Only a code this save superseded while it was pending; one kept from before (its successor's
    delivery failed) was marked then, and an ended one keeps its own ending.
    """
    replaced = saved.replaced.get(purpose)
    if replaced is None or replaced.resend_at is not None or replaced.superseded_at is not None:
        return
    if status_of(replaced, now, deps.settings.max_attempts) == "pending":
        resend_at = limits.resend_available_at(deps.settings, saved, replaced.created_at, now)
        keep_ending(deps, record_key, replaced, resend_at, superseded_at=now)
