"""The small interfaces the use cases need from the outside world.

The AWS adapters in ``otp.aws`` implement them for Lambda, ``tests/fakes.py`` in memory for unit
tests. Adapters report facts (what they read and wrote); every rule over those facts lives in the
domain. A contract suite (tests/integration/test_store_contract.py) runs against both stores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from otp.domain.entities import (
    AttemptLimits,
    AttemptReservation,
    DestinationRecord,
    FailureBlocks,
    SendOutcome,
    SendPlan,
    StoredCode,
)

if TYPE_CHECKING:  # the senders' messages load only where something is sent: verify never needs them
    from otp.domain.outbound import EmailSender, SmsSender, VoiceSender, WhatsAppSender

Result = TypeVar("Result")


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
    def take_send(self, plan: SendPlan, now: int) -> SendOutcome:
        """Atomically take one send from every limit of the plan, or from none, and say what was found."""
        ...

    def save_code(self, record_key: str, code: StoredCode, keep_until: int, forget_before: int) -> DestinationRecord:
        """Store the code as its purpose's newest, superseding the one before it, and return the
        record as this write left it. With no code pending (the last send failed), the code that
        one superseded stays the replaced one.

        Codes of other purposes that expired before ``forget_before`` may be dropped, so that a
        caller inventing purposes cannot grow one destination's record without bound.
        """
        ...

    def withdraw_code(self, record_key: str, purpose: str, verification_id: str) -> None:
        """Delete the code only while it is still its purpose's newest."""
        ...

    def keep_message_id(self, record_key: str, purpose: str, verification_id: str, message_id: str) -> None:
        """Note the provider's id of the code's message, while the code is still its purpose's newest."""
        ...

    def reserve_attempt(
        self, record_key: str, purpose: str, verification_id: str | None, now: int, limits: AttemptLimits
    ) -> AttemptReservation:
        """Atomically count one attempt against the code and its destination, if both allow it."""
        ...

    def consume(
        self,
        record_key: str,
        purpose: str,
        verification_id: str,
        now: int,
        limits: AttemptLimits,
        resend_at: int | None = None,
    ) -> bool:
        """Atomically mark the code used and give its attempt back to the destination's (and network's) count.

        ``limits`` are the ones its attempt was reserved under; ``resend_at`` is kept on the code
        in the same write. False when another request used, canceled or superseded it first.
        """
        ...

    def mark_ended(
        self, record_key: str, purpose: str, verification_id: str, resend_at: int, superseded_at: int | None = None
    ) -> None:
        """Keep on a code that has left pending what it showed then: its resend_available_at and,
        with ``superseded_at``, when the newer code replaced it. On the purpose's newest code with
        this id (with ``superseded_at``: the code it replaced); the first mark stays, later ones are ignored."""
        ...

    def block_failures(self, record_key: str, blocks: FailureBlocks) -> None:
        """Record until when /generate refuses the destination, everywhere or from one network."""
        ...

    def spend(
        self, record_key: str, purpose: str, verification_id: str, now: int, resend_at: int | None = None
    ) -> None:
        """Record that the code's last attempt was answered (wrong), drop its ciphertext, and keep
        ``resend_at`` as the resend time it showed then (unless one is kept already).

        Nothing when the code is no longer that live code: a cancel or a consume came first.
        """
        ...

    def read(self, record_key: str) -> DestinationRecord | None: ...

    def cancel(
        self, record_key: str, purpose: str, verification_id: str, now: int, max_attempts: int
    ) -> tuple[bool, DestinationRecord | None]:
        """Atomically cancel the code if ``verification.cancelable`` holds for it.

        Whether this call canceled it, and the record as it stands after (None when there is none).
        """
        ...


@dataclass(frozen=True)
class Senders:
    """One sender per channel; a channel the service has not configured has none."""

    sms: SmsSender
    email: EmailSender | None = None
    voice: VoiceSender | None = None
    whatsapp: WhatsAppSender | None = None


class Idempotency(Protocol):
    """Runs an action once per key and request fingerprint; a retry gets the first result again."""

    def once(self, key: str, fingerprint: str, action: Callable[[], Result], lambda_context: Any) -> Result: ...


class CiphertextMismatch(Exception):
    """The ciphertext does not decrypt under its record's encryption context."""


class DependencyFailure(Exception):
    """A storage or key service failed after retries (maps to 503)."""
