"""Read one verification by its id: what a backend needs for a resend timer or an audit."""

from __future__ import annotations

from dataclasses import dataclass

from otp import policy
from otp.destinations import Channel
from otp.errors import InvalidRequest, NotFound
from otp.keys import VerificationRef, parse_verification_id
from otp.ports import DestinationRecord
from otp.use_cases import Dependencies, answering_503
from otp.verification import Status, attempts_remaining, status_of


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


def read_verification(deps: Dependencies, verification_id: str) -> VerificationView:
    ref = parse(verification_id)
    now = deps.now()
    with answering_503("a status read"):
        record = deps.store.read(ref.record_key)
    view = describe(deps, record, ref, verification_id, now)
    if view is None:
        raise NotFound("No verification has this id (or it has been purged).")
    return view


def parse(verification_id: str) -> VerificationRef:
    ref = parse_verification_id(verification_id)
    if ref is None:
        raise InvalidRequest.for_field("verification_id", "is not a verification id")
    return ref


def describe(
    deps: Dependencies, record: DestinationRecord | None, ref: VerificationRef, verification_id: str, now: int
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
        resend_available_at=_resend_available_at(deps, record, code.created_at, now),
    )


def _resend_available_at(deps: Dependencies, record: DestinationRecord, created_at: int, now: int) -> int:
    """When a new /generate for the destination passes the cooldown, the send window and the failure bound."""
    settings = deps.settings
    moments = [created_at, record.next_send_at]
    if settings.max_sends_per_window > 0:
        sends = policy.window(now, settings.send_window_seconds, settings.max_sends_per_window)
        if record.sends.get(sends.bucket, 0) >= sends.limit:
            moments.append(sends.resets_at)
    failures = policy.failure_window(settings, now)
    if record.failures.get(failures.bucket, 0) >= failures.limit:
        moments.append(failures.resets_at)
    return max(moments)
