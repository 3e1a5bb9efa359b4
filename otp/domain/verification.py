"""The verification state machine: what state a code is in, and why it refused an attempt."""

from __future__ import annotations

from typing import Literal

from otp.config import Settings
from otp.domain import limits
from otp.domain.entities import AttemptLimits, AttemptReservation, DestinationRecord, StoredCode
from otp.domain.errors import Expired, NotFound, OtpError, TooManyAttempts

Status = Literal["pending", "approved", "expired", "max_attempts_reached", "superseded", "canceled"]


def status_of(code: StoredCode, now: int, max_attempts: int, superseded_at: int | None = None) -> Status:
    """What ended the code first wins: its use, a cancel, its attempts, its expiry or a newer code."""
    if code.consumed_at is not None:
        return "approved"
    if code.canceled_at is not None:
        return "canceled"
    if code.attempts >= max_attempts:
        return "max_attempts_reached"
    ended_at = now if superseded_at is None else min(now, superseded_at)
    if code.expires_at <= ended_at:
        return "expired"
    return "pending" if superseded_at is None else "superseded"


def superseded_moment(replaced: StoredCode, newest: StoredCode | None, now: int) -> int:
    """When a newer code replaced this one: kept by the write that did it, else the newest code's
    creation; with neither (an item of an earlier release whose newer code was withdrawn), now."""
    if replaced.superseded_at is not None:
        return replaced.superseded_at
    return newest.created_at if newest is not None else now


def resend_shown(settings: Settings, record: DestinationRecord, code: StoredCode, status: Status, now: int) -> int:
    """The verification's resend_available_at: live while it is pending, frozen once it has left.

    The write that ended it keeps the value it had at that moment. An expiry is marked by no
    write, so it (and an item of an earlier release) shows the value computed from the code alone:
    when its own send's cooldown ended, which later activity on the destination cannot change.
    """
    if status == "pending":
        return limits.resend_available_at(settings, record, code.created_at, now)
    if code.resend_at is not None:
        return code.resend_at
    return code.created_at + max(0, settings.resend_cooldown_seconds)


def cancelable(code: StoredCode, verification_id: str, now: int, max_attempts: int) -> bool:
    """Whether a cancel may still end the code: it is this live, unexpired code, and it has attempts
    left or its last attempt has not been answered yet.

    A verify reserves an attempt, then checks the code, then consumes it or (on the last attempt)
    records it spent. A cancel landing while the last attempt is checked must not read the
    reserved attempt as "max_attempts_reached": the check may still approve the code. It cancels,
    as it would while any earlier attempt is checked, and the verify's consume then answers 404.
    So a cancel racing the right code reports ``approved`` when the verify came first, or wins.
    """
    if code.verification_id != verification_id or code.consumed_at is not None or code.canceled_at is not None:
        return False
    if code.expires_at <= now:
        return False
    return code.attempts < max_attempts or code.spent_at is None


def refusal(
    reservation: AttemptReservation, verification_id: str | None, now: int, limits: AttemptLimits, budget_spent: bool
) -> OtpError:
    """Map the code that refused an attempt to the contract's answer.

    A used, canceled, superseded or unknown code reveals nothing beyond 404; an expired one says
    so (410); a live code whose own attempts, or whose destination's failure budget, are spent
    answers 429.
    """
    current = reservation.current
    if current is None or current.consumed_at is not None or current.canceled_at is not None:
        return NotFound()
    if verification_id is not None and current.verification_id != verification_id:
        return NotFound()
    if current.expires_at <= now:
        return Expired()
    if current.attempts >= limits.max_attempts or budget_spent:
        return TooManyAttempts()
    # The condition failed yet the code looks live: it changed between the write and the read
    # (a concurrent supersede); treat it as gone rather than guess.
    return NotFound()


def attempts_remaining(code: StoredCode, max_attempts: int) -> int:
    return max(0, max_attempts - code.attempts)
