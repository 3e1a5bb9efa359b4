"""What the pumping guard's consumer reads and writes, and the ports it writes through.

Plain values and Protocols, so the adapter (otp.aws.pumping) and the use case (otp.use_cases.pumping)
share them without the adapter importing the use case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from otp.domain.pumping import CodeFact

# ---- what the consumer reads and writes --------------------------------------------------------


@dataclass(frozen=True)
class CodeEvent:
    """One change of one sms or voice code, read from a stream record."""

    kind: Literal["delivered", "verified", "withdrawn"]
    verification_id: str
    delivered_at: int
    sealed_prefix: bytes
    country: str
    sequence: str  # the stream record's SequenceNumber, to report it as failed
    # When the change was written (the record's ApproximateCreationDateTime); None: as it is consumed.
    recorded_at: int | None = None


@dataclass(frozen=True)
class FeedbackDue:
    """A verified code whose provider takes delivery feedback (End User Messaging SMS, Notify)."""

    message_id: str
    sequence: str


@dataclass
class PrefixChanges:
    """One prefix's events in one batch, keyed by code token."""

    prefix: str
    country: str
    first_sequence: str
    delivered: dict[str, int] = field(default_factory=dict)  # token -> delivered_at
    verified: dict[str, int] = field(default_factory=dict)
    withdrawn: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Block:
    starts_at: int
    until: int
    reason: str
    country: str
    sealed_prefix: bytes  # so the list and the unblock log can name the prefix, which the table never holds


@dataclass(frozen=True)
class BlockTable:
    blocks: dict[str, Block]  # by prefix digest
    lifts: dict[str, int]  # prefix digest -> when an operator lifted its block: older codes no longer count


class PumpingCounts(Protocol):
    def record(self, digest: str, changes: PrefixChanges) -> None:
        """Add delivered and verified tokens, remove withdrawn ones: idempotent."""
        ...

    def codes(self, digest: str, since: int, now: int) -> list[CodeFact]: ...

    def block_table(self) -> BlockTable: ...

    def put_block(self, digest: str, block: Block, now: int) -> bool:
        """Write the block unless one has started meanwhile; False when it had."""
        ...

    def remove_block(self, digest: str, starts_at: int) -> bool:
        """Remove the block that starts at ``starts_at``; False when it is no longer there."""
        ...

    def forget_lift(self, digest: str, lifted_at: int) -> None: ...


class FeedbackFailed(Exception):
    def __init__(self, retryable: bool) -> None:
        super().__init__("retryable" if retryable else "permanent")
        self.retryable = retryable


class MessageFeedback(Protocol):
    def received(self, message_id: str) -> None:
        """Report RECEIVED for the message; raises FeedbackFailed."""
        ...
