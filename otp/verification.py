"""The verify state machine: why a pending code refused an attempt."""

from __future__ import annotations

from otp.errors import Expired, NotFound, OtpError, TooManyAttempts
from otp.ports import PendingCode


def refusal(current: PendingCode | None, verification_id: str | None, now: int, max_attempts: int) -> OtpError:
    """Map the record that refused an attempt to the contract's answer.

    The order matters: a used, superseded or unknown code reveals nothing beyond 404, an expired
    one says so (410), and only a live code whose attempts are spent answers 429.
    """
    if current is None or current.consumed:
        return NotFound()
    if verification_id is not None and current.verification_id != verification_id:
        return NotFound()
    if current.expires_at <= now:
        return Expired()
    if current.attempts >= max_attempts:
        return TooManyAttempts()
    # The condition failed yet the record looks live: it changed between the write and the read
    # (a concurrent supersede); treat it as gone rather than guess.
    return NotFound()


def attempts_remaining(reserved: PendingCode, max_attempts: int) -> int:
    return max(0, max_attempts - reserved.attempts)
