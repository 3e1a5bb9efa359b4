"""The small interfaces the use cases need from the outside world.

The AWS adapters in ``otp.aws`` implement them for Lambda; ``otp.fakes`` implements them in memory
for unit tests. A contract test suite runs against both, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from otp.destinations import Channel


@dataclass(frozen=True)
class PendingCode:
    """One code of a destination, in the state the store holds it."""

    verification_id: str
    purpose: str
    channel: Channel
    masked_destination: str
    created_at: int
    expires_at: int
    attempts: int = 0
    consumed_at: int | None = None
    canceled_at: int | None = None
    ciphertext: bytes = b""  # present only while the code can still verify


@dataclass(frozen=True)
class Window:
    """A fixed counting window: at most ``limit`` events in ``bucket``, which closes at ``resets_at``."""

    bucket: int
    limit: int
    resets_at: int


@dataclass(frozen=True)
class SendPlan:
    """Everything one send must be allowed by, taken atomically or not at all."""

    record_key: str
    keep_until: int  # the destination record's TTL; outlives every window and code grace period
    failures: Window  # refused once the destination's failed codes reach the limit
    cooldown_until: int | None = None
    sends: Window | None = None
    ip_key: str | None = None
    ip_sends: Window | None = None


@dataclass(frozen=True)
class SendRefusal:
    """Which limits refused a send, and when the tightest of them lets one through again."""

    free_at: int
    limits: tuple[str, ...]


@dataclass(frozen=True)
class AttemptLimits:
    max_attempts: int  # per code
    failures: Window  # per destination: unproven attempts, across codes and purposes


@dataclass(frozen=True)
class AttemptReservation:
    """What reserving an attempt found: the reserved code, or the code that refused it."""

    reserved: PendingCode | None
    current: PendingCode | None
    failure_budget_spent: bool = False


@dataclass(frozen=True)
class DestinationRecord:
    """The codes of one destination, as a status read sees them."""

    codes: dict[str, PendingCode]  # by purpose: the newest code of each
    replaced: dict[str, PendingCode]  # by purpose: the code the newest one superseded
    next_send_at: int
    sends: dict[int, int]  # send window bucket -> sends
    failures: dict[int, int]  # failure window bucket -> unproven attempts


class CodeCipher(Protocol):
    def encrypt(self, code: str, context: dict[str, str]) -> bytes: ...

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> str:
        """Raises CiphertextMismatch when the ciphertext does not belong to ``context``."""
        ...


class SecretDeriver(Protocol):
    def derive(self, label: bytes) -> bytes:
        """The same secret for the same label, every time, without it being stored anywhere."""
        ...


class CodeStore(Protocol):
    def take_send(self, plan: SendPlan, now: int) -> SendRefusal | None:
        """Atomically take one send from every limit of the plan, or from none; None when taken."""
        ...

    def save_code(self, record_key: str, code: PendingCode, keep_until: int, forget_before: int) -> None:
        """Store the code as its purpose's newest, superseding the one before it.

        Codes of other purposes that expired before ``forget_before`` may be dropped, so that a
        caller inventing purposes cannot grow one destination's record without bound.
        """
        ...

    def withdraw_code(self, record_key: str, purpose: str, verification_id: str) -> None:
        """Delete the code only while it is still its purpose's newest."""
        ...

    def reserve_attempt(
        self, record_key: str, purpose: str, verification_id: str | None, now: int, limits: AttemptLimits
    ) -> AttemptReservation:
        """Atomically count one attempt against the code and its destination, if both allow it."""
        ...

    def consume(self, record_key: str, purpose: str, verification_id: str, now: int, failures_bucket: int) -> bool:
        """Atomically mark the code used and give its attempt back to the destination's budget.

        False when another request used, canceled or superseded it first.
        """
        ...

    def read(self, record_key: str) -> DestinationRecord | None: ...

    def cancel(
        self, record_key: str, purpose: str, verification_id: str, now: int, max_attempts: int
    ) -> tuple[bool, DestinationRecord | None]:
        """Atomically cancel the code if it is still pending.

        Whether this call canceled it, and the record as it stands after (None when there is none).
        """
        ...


class MessageSender(Protocol):
    def send_sms(self, phone_number: str, text: str) -> None: ...

    def send_email(self, address: str, subject: str, text: str, html: str) -> None: ...


class CiphertextMismatch(Exception):
    """The ciphertext does not decrypt under its record's encryption context."""


class DependencyFailure(Exception):
    """A storage or key service failed after retries (maps to 503)."""


class DeliveryRefused(Exception):
    """SNS or SES did not accept the message (maps to 502)."""
