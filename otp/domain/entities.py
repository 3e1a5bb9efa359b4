"""What the store holds and reports, as plain values: the store reports facts, the domain rules on them."""

from __future__ import annotations

from dataclasses import dataclass, field

from otp.domain.destinations import Channel


@dataclass(frozen=True)
class GuardMark:
    """What a counted sms or voice code carries for the pumping guard (semantics 14), never the prefix itself."""

    prefix_digest: str  # keyed: what the block list is looked up by
    sealed_prefix: bytes  # encrypted under the digest secret with a fresh nonce: only the consumer opens it
    country: str  # ISO 3166 alpha-2, for the guard's log lines and its conversion by country


@dataclass(frozen=True)
class StoredCode:
    """One code of a destination as the store holds it, pending or not."""

    verification_id: str
    purpose: str
    channel: Channel
    masked_destination: str
    created_at: int
    expires_at: int
    attempts: int = 0
    consumed_at: int | None = None
    canceled_at: int | None = None
    spent_at: int | None = None  # when its last attempt was answered wrong: until then a verify may be checking it
    ciphertext: bytes = b""  # present only while the code can still verify
    # Kept by the write that ended it, so a finished verification tells nothing of later activity:
    # its resend_available_at then, and (superseded codes) when the newer code replaced it.
    # None while pending, after an expiry (no write marks it), and on items of earlier releases.
    resend_at: int | None = None
    superseded_at: int | None = None
    # Written with the code, for the guard's stream consumer; None for codes it does not count.
    # Not read back: only the consumer uses it, from the table's stream.
    guard: GuardMark | None = None
    message_id: str | None = None  # the provider's, kept for delivery feedback (OTP_SMS_FEEDBACK)


@dataclass(frozen=True)
class Window:
    """A fixed counting window: at most ``limit`` events in ``bucket``, which closes at ``resets_at``."""

    bucket: int
    limit: int
    resets_at: int


@dataclass(frozen=True)
class IpQuota:
    """The end user's hourly send counter, taken in the same atomic write as the destination's limits."""

    key: str
    window: Window


@dataclass(frozen=True)
class SendPlan:
    """Everything one send must be allowed by, taken atomically or not at all."""

    record_key: str
    keep_until: int  # the destination record's TTL; outlives every window and code grace period
    cooldown_until: int | None = None
    sends: Window | None = None
    ip: IpQuota | None = None
    network: str | None = None  # the caller's end-user network, whose failure block is checked too


@dataclass(frozen=True)
class DestinationRecord:
    """The codes and counters of one destination, as the store read them."""

    codes: dict[str, StoredCode]  # by purpose: the newest code of each
    replaced: dict[str, StoredCode]  # by purpose: the code the newest one superseded
    next_send_at: int
    sends: dict[int, int]  # send window bucket -> sends
    failures: dict[int, int]  # failure bucket -> unproven attempts, from all networks
    network_failures: dict[str, dict[int, int]] = field(default_factory=dict)  # network -> bucket -> attempts
    blocked_until: int = 0  # /generate refuses the destination from every network until then
    network_blocks: dict[str, int] = field(default_factory=dict)  # network -> refused from it until then


@dataclass(frozen=True)
class SendOutcome:
    """What taking a send found: taken, or the state that refused it (as the refusing condition saw it)."""

    taken: bool
    record: DestinationRecord | None = None  # None: the destination's own limits did not refuse
    ip_sends: int | None = None  # the end user's sends in the window, when that counter refused
    conflict: bool = False  # another send for the same limits was being written at that moment


@dataclass(frozen=True)
class SendRefusal:
    """Which limits refused a send (the contract's ``reason`` values), and when the tightest lets one through."""

    free_at: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AttemptLimits:
    max_attempts: int  # per code
    failures: Window  # per destination: unproven attempts in the current fine bucket, at most ``limit``
    stale_buckets: tuple[int, ...] = ()  # buckets that have left the window: dropped by the same write
    network: str | None = None  # the caller's end-user network, counted beside the destination


@dataclass(frozen=True)
class AttemptReservation:
    """What reserving an attempt found: the reserved code, or the code that refused it, and the
    destination record as that write left it (or as the refusing condition saw it)."""

    reserved: StoredCode | None
    current: StoredCode | None
    record: DestinationRecord | None = None


@dataclass(frozen=True)
class FailureBlocks:
    """What a wrong code crossed: /generate refuses the destination (everywhere, or from one network) until then."""

    destination_until: int | None = None
    network: str | None = None
    network_until: int | None = None
