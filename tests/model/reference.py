"""The reference model: what the contract says each use case answers, from plain values only.

It keeps, per destination, the counters the contract limits (cooldown, send window, failure
bound) and, per verification, its own life (created, attempts, the first event that ended it).
It never reads the implementation's records; the machine compares its predictions with the
answers of the real use cases.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field

# Small limits, so that every one of them is reached within a few steps.
CODE_LENGTH = 4
MAX_ATTEMPTS = 3
MAX_FAILURES = 5
TTL = 20
COOLDOWN = 2
MAX_SENDS = 3
SEND_WINDOW = 40
FAILURE_WINDOW = 60  # the smallest OTP_FAILURE_WINDOW_SECONDS allows
MAX_SENDS_PER_IP = 4
IP_WINDOW = 3600  # otp/domain/limits.py: the end user's send counter is hourly

SETTINGS = {
    "OTP_KMS_KEY_ID": "alias/model",
    "OTP_DIGEST_KEY_ID": "alias/model-digests",
    "OTP_EMAIL_SENDER": "otp@example.com",
    "OTP_CODE_LENGTH": str(CODE_LENGTH),
    "OTP_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "OTP_MAX_FAILURES_PER_DESTINATION": str(MAX_FAILURES),
    "OTP_TTL_SECONDS": str(TTL),
    "OTP_RESEND_COOLDOWN_SECONDS": str(COOLDOWN),
    "OTP_MAX_SENDS_PER_WINDOW": str(MAX_SENDS),
    "OTP_SEND_WINDOW_SECONDS": str(SEND_WINDOW),
    "OTP_FAILURE_WINDOW_SECONDS": str(FAILURE_WINDOW),
    "OTP_MAX_SENDS_PER_IP": str(MAX_SENDS_PER_IP),
}

TERMINAL = ("approved", "expired", "max_attempts_reached", "superseded", "canceled")
# The contract's 429 reasons in the order a tie lists them (otp/domain/limits.py REASONS).
REASON_ORDER = ("cooldown", "window", "ip", "failures_network", "failures_destination")


@dataclass(frozen=True)
class Destination:
    raw: str  # as the caller writes it
    channel: str
    identity: str  # what the contract compares: E.164, or the case-folded address


# Two spellings of one mailbox share every counter (semantics 10).
DESTINATIONS = (
    Destination("+14155552671", "sms", "+14155552671"),
    Destination("+919876543210", "sms", "+919876543210"),
    Destination("Ada@Example.com", "email", "ada@example.com"),
    Destination("ada@example.com", "email", "ada@example.com"),
)
PURPOSES = ("default", "login")
# 2001:db8::1 and ::2 are one /64, so one end user's counter.
END_USER_IPS = (None, "203.0.113.7", "2001:db8::1", "2001:db8::2")


def network(ip: str) -> str:
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def well_formed(code: str) -> bool:
    return re.fullmatch(rf"[0-9]{{{CODE_LENGTH}}}", code.strip()) is not None


@dataclass
class Verification:
    vid: str
    identity: str
    purpose: str
    code: str
    channel: str
    masked: str
    created_at: int
    attempts: int = 0
    ended: str | None = None  # the terminal status, once something ended it
    ended_at: int | None = None

    @property
    def expires_at(self) -> int:
        return self.created_at + TTL

    def status(self) -> str:
        return self.ended or "pending"


@dataclass
class DestinationState:
    next_send_at: int = 0
    sends: Counter[int] = field(default_factory=Counter)  # send-window bucket -> sends taken
    failures: Counter[int] = field(default_factory=Counter)  # failure bucket -> unproven attempts
    blocked_until: int = 0  # a wrong code that reached MAX_FAILURES refuses /generate until then
    newest: dict[str, Verification] = field(default_factory=dict)  # by purpose
    replaced: dict[str, Verification] = field(default_factory=dict)  # by purpose: what the newest replaced


@dataclass(frozen=True)
class Answer:
    """What a use case must answer: success (error None) or the contract's error code and fields."""

    error: str | None = None
    attempts_remaining: int | None = None
    retry_after: int | None = None
    reason: str | None = None
    status: str | None = None  # a verification's status, on reads, cancels and 409 not_pending
    vid: str | None = None


# ---- the failure bound: today's rule, in one place --------------------------------------------


FAILURE_BUCKET = FAILURE_WINDOW // 24  # semantics 11: the window slides in 24ths
BUCKETS_IN_WINDOW = FAILURE_WINDOW // FAILURE_BUCKET
ATTEMPT_CAP = MAX_FAILURES + MAX_ATTEMPTS


def failure_bucket(now: int) -> int:
    return now // FAILURE_BUCKET


def in_window(state: DestinationState, now: int) -> int:
    current = failure_bucket(now)
    return sum(count for bucket, count in state.failures.items() if current - BUCKETS_IN_WINDOW < bucket <= current)


def failure_refusal(state: DestinationState, now: int) -> tuple[str, int] | None:
    """Semantics 11 in all (the model sends no client_ip on /verify, so no network is ever counted):
    a wrong code that brings the window to MAX_FAILURES blocks /generate until the window's oldest
    buckets have left it."""
    if state.blocked_until > now:
        return ("failures_destination", state.blocked_until)
    return None


def block_after_a_wrong_code(state: DestinationState, now: int) -> None:
    current = failure_bucket(now)
    live = sorted((b, c) for b, c in state.failures.items() if current - BUCKETS_IN_WINDOW < b <= current)
    total = sum(count for _, count in live)
    if total < MAX_FAILURES:
        return
    for bucket, count in live:
        total -= count
        if total < MAX_FAILURES:
            state.blocked_until = max(state.blocked_until, (bucket + BUCKETS_IN_WINDOW) * FAILURE_BUCKET)
            return


def attempt_cap_reached(state: DestinationState, now: int) -> bool:
    """The code pending keeps its own attempts, up to MAX_FAILURES + MAX_ATTEMPTS in the window."""
    return state.failures[failure_bucket(now)] >= ATTEMPT_CAP


# ---- the model -------------------------------------------------------------------------------


class Reference:
    def __init__(self, now: int) -> None:
        self.now = now
        self.destinations: dict[str, DestinationState] = {}
        self.ip_sends: Counter[tuple[str, int]] = Counter()
        self.verifications: dict[str, Verification] = {}

    def pending(self) -> list[Verification]:
        return [v for v in self.verifications.values() if v.ended is None and self.visible(v.vid) is v]

    def state(self, identity: str) -> DestinationState:
        return self.destinations.setdefault(identity, DestinationState())

    def advance(self, seconds: int) -> None:
        self.now += seconds
        self._settle()

    def _settle(self) -> None:
        """A pending code whose validity passed has ended: expired, at its expiry."""
        for verification in self.verifications.values():
            if verification.ended is None and verification.expires_at <= self.now:
                verification.ended, verification.ended_at = "expired", verification.expires_at

    def _end(self, verification: Verification, status: str) -> None:
        if verification.ended is None:
            verification.ended, verification.ended_at = status, self.now

    # ---- /generate -------------------------------------------------------------------------

    def send_blocks(self, identity: str, ip: str | None) -> list[tuple[str, int]]:
        """Every limit that holds a send back now, with the moment it lets one through."""
        state, now = self.state(identity), self.now
        blocks = []
        if COOLDOWN > 0 and state.next_send_at > now:
            blocks.append(("cooldown", state.next_send_at))
        bucket = now // SEND_WINDOW
        if MAX_SENDS > 0 and state.sends[bucket] >= MAX_SENDS:
            blocks.append(("window", (bucket + 1) * SEND_WINDOW))
        failure = failure_refusal(state, now)
        if failure is not None:
            blocks.append(failure)
        if ip is not None and self.ip_sends[(network(ip), now // IP_WINDOW)] >= MAX_SENDS_PER_IP:
            blocks.append(("ip", (now // IP_WINDOW + 1) * IP_WINDOW))
        return blocks

    def take_send(self, identity: str, ip: str | None) -> Answer | None:
        """The 429 a /generate gets, or None when its send is taken (and counted)."""
        blocks = self.send_blocks(identity, ip)
        if blocks:
            free_at = max(until for _, until in blocks)
            # The reason that holds the send back longest is the one the caller waits for.
            reason = min(blocks, key=lambda block: (-block[1], REASON_ORDER.index(block[0])))[0]
            return Answer("rate_limited", retry_after=max(1, free_at - self.now), reason=reason)
        state = self.state(identity)
        state.next_send_at = self.now + COOLDOWN
        state.sends[self.now // SEND_WINDOW] += 1
        if ip is not None:
            self.ip_sends[(network(ip), self.now // IP_WINDOW)] += 1
        return None

    def stored(self, verification: Verification) -> None:
        """A new code for (destination, purpose): it supersedes the one pending."""
        state = self.state(verification.identity)
        previous = state.newest.get(verification.purpose)
        if previous is not None:  # with none pending (the last send failed), the replaced one stays
            state.replaced[verification.purpose] = previous
            self._end(previous, "superseded")
        state.newest[verification.purpose] = verification
        self.verifications[verification.vid] = verification

    def delivery_failed(self, identity: str, purpose: str) -> None:
        """The code was stored, superseding the pending one, then withdrawn: nothing stays verifiable."""
        state = self.state(identity)
        previous = state.newest.pop(purpose, None)
        if previous is not None:
            state.replaced[purpose] = previous
            self._end(previous, "superseded")

    # ---- /verify ---------------------------------------------------------------------------

    def _refused_before_an_attempt(self, identity: str, purpose: str, code: str, vid: str | None) -> Answer | None:
        if not well_formed(code):
            return Answer("invalid_request")
        named = self.verifications.get(vid) if vid is not None else None
        if vid is not None and (named is None or (named.identity, named.purpose) != (identity, purpose)):
            return Answer("not_found")  # names no code of this destination and purpose: no attempt spent
        state = self.state(identity)
        pending = state.newest.get(purpose)
        if pending is None or pending.ended in ("approved", "canceled") or (vid is not None and pending.vid != vid):
            return Answer("not_found")
        if pending.expires_at <= self.now:
            return Answer("expired")
        if pending.attempts >= MAX_ATTEMPTS or attempt_cap_reached(state, self.now):
            return Answer("too_many_attempts")
        return None

    def verify(self, identity: str, purpose: str, code: str, vid: str | None) -> Answer:
        refused = self._refused_before_an_attempt(identity, purpose, code, vid)
        if refused is not None:
            return refused
        state = self.state(identity)
        pending = state.newest[purpose]
        pending.attempts += 1
        state.failures[failure_bucket(self.now)] += 1  # counted before the comparison, as the store does
        if in_window(state, self.now) > ATTEMPT_CAP:
            # Reserved, yet over the window's cap: refused without a comparison, the attempt spent.
            if pending.attempts >= MAX_ATTEMPTS:
                self._end(pending, "max_attempts_reached")
            return Answer("too_many_attempts")
        if code.strip() == pending.code:
            state.failures[failure_bucket(self.now)] -= 1  # a right code gives its attempt back
            self._end(pending, "approved")
            return Answer(vid=pending.vid)
        block_after_a_wrong_code(state, self.now)
        if pending.attempts >= MAX_ATTEMPTS:
            self._end(pending, "max_attempts_reached")
        return Answer("invalid_code", attempts_remaining=MAX_ATTEMPTS - pending.attempts)

    # ---- the verification resource ---------------------------------------------------------

    def visible(self, vid: str) -> Verification | None:
        """The newest code of its destination and purpose, or the one that code replaced; older ones are purged."""
        verification = self.verifications.get(vid)
        if verification is None:
            return None
        state = self.state(verification.identity)
        kept = (state.newest.get(verification.purpose), state.replaced.get(verification.purpose))
        return verification if verification in kept else None

    def resend_available_at(self, verification: Verification) -> int:
        """For a pending verification: when a new /generate passes the destination's own limits."""
        state = self.state(verification.identity)
        untils = [until for reason, until in self.send_blocks(verification.identity, None) if reason != "ip"]
        return max([verification.created_at, state.next_send_at, *untils])

    def read(self, vid: str) -> Answer:
        verification = self.visible(vid)
        if verification is None:
            return Answer("not_found")
        return Answer(status=verification.status(), vid=vid)

    def cancel(self, vid: str) -> Answer:
        verification = self.visible(vid)
        if verification is None:
            return Answer("not_found")
        self._end(verification, "canceled")
        if verification.ended != "canceled":
            return Answer("not_pending", status=verification.ended)
        return Answer(status="canceled", vid=vid)
