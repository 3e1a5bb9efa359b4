"""The small interfaces the domain needs from the outside world.

The AWS adapters in ``otp.aws`` implement them; tests and the local runner may swap them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from otp.destinations import Channel


@dataclass(frozen=True)
class PendingCode:
    """One stored code: the only record that can make a /verify succeed."""

    record_key: str
    verification_id: str
    channel: Channel
    purpose: str
    masked_destination: str
    ciphertext: bytes
    created_at: int
    expires_at: int
    attempts: int = 0
    consumed: bool = False


@dataclass(frozen=True)
class AttemptReservation:
    """What reserving an attempt found: the reserved record, or the record that refused it."""

    reserved: PendingCode | None
    current: PendingCode | None


@dataclass(frozen=True)
class Cooldown:
    """No other send under ``key`` before ``until``."""

    key: str
    until: int
    name: str = "cooldown"


@dataclass(frozen=True)
class SendQuota:
    """At most ``limit`` sends counted under ``key``, a bucket that closes at ``resets_at``."""

    key: str
    limit: int
    resets_at: int
    name: str = "quota"


@dataclass(frozen=True)
class SendRefusal:
    """Which limits refused a send, and when the tightest of them lets one through again."""

    free_at: int
    limits: tuple[str, ...]


class CodeCipher(Protocol):
    def encrypt(self, code: str, context: dict[str, str]) -> bytes: ...

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> str:
        """Raises CiphertextMismatch when the ciphertext does not belong to ``context``."""
        ...


class CodeStore(Protocol):
    def save_pending(self, code: PendingCode, ttl_until: int) -> None:
        """Store the code, replacing any pending one under the same key."""
        ...

    def discard_pending(self, record_key: str, verification_id: str) -> None:
        """Delete the code only while it is still this verification's."""
        ...

    def reserve_attempt(
        self, record_key: str, verification_id: str | None, now: int, max_attempts: int
    ) -> AttemptReservation:
        """Atomically count one attempt if the code is live, unconsumed and under the limit."""
        ...

    def consume(self, record_key: str, verification_id: str, now: int) -> bool:
        """Atomically mark the code used; False when another request got there first."""
        ...

    def reserve_send(self, cooldown: Cooldown | None, quotas: list[SendQuota], now: int) -> SendRefusal | None:
        """Atomically take one send from every limit, or from none of them; None when taken."""
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
