"""One verification as its destination's record shows it: shared by the status read and the cancel."""

from __future__ import annotations

from dataclasses import dataclass

from otp.domain import limits
from otp.domain.destinations import Channel
from otp.domain.entities import DestinationRecord
from otp.domain.errors import InvalidRequest
from otp.domain.keys import VerificationRef
from otp.domain.verification import Status, attempts_remaining, status_of
from otp.use_cases import answering_503
from otp.use_cases.dependencies import Common


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
        superseded_at = newest.created_at if newest is not None else now
    return VerificationView(
        verification_id=verification_id,
        status=status_of(code, now, settings.max_attempts, superseded_at=superseded_at),
        channel=code.channel,
        masked_destination=code.masked_destination,
        purpose=ref.purpose,
        attempts_remaining=attempts_remaining(code, settings.max_attempts),
        created_at=code.created_at,
        expires_at=code.expires_at,
        resend_available_at=limits.resend_available_at(settings, record, code.created_at, now),
    )
