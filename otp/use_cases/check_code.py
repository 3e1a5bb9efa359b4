"""Check a code: reserve an attempt, decrypt, compare in constant time, consume."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass

from otp.domain import limits
from otp.domain.codes import codes_match
from otp.domain.destinations import Channel, Destination, channel_of, normalize_email, normalize_phone
from otp.domain.entities import AttemptReservation, DestinationRecord, StoredCode
from otp.domain.errors import InvalidCode, InvalidRequest, NotFound, TooManyAttempts
from otp.domain.keys import encryption_context
from otp.domain.ports import CiphertextMismatch, DependencyFailure
from otp.domain.verification import attempts_remaining, refusal
from otp.use_cases import answering_503
from otp.use_cases.dependencies import VerifyDependencies

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckRequest:
    destination: str
    code: str
    purpose: str = "default"
    verification_id: str | None = None
    # The end user's address as far as this service can trust it; None counts failures only in all.
    end_user_ip: str | None = None


@dataclass(frozen=True)
class VerifiedCode:
    verification_id: str
    channel: Channel
    masked_destination: str
    purpose: str


def check_code(deps: VerifyDependencies, request: CheckRequest) -> VerifiedCode:
    settings = deps.settings
    submitted = request.code.strip()
    if not re.fullmatch(rf"[0-9]{{{settings.code_length}}}", submitted):
        raise InvalidRequest.for_field("code", f"must be a string of {settings.code_length} digits")
    if settings.require_verification_id and request.verification_id is None:
        raise InvalidRequest.for_field("verification_id", "is required by this service")
    if channel_of(request.destination) == "sms":
        # No class or country checks here: a number that could not receive a code has none pending.
        destination = normalize_phone(request.destination, check_sms_capable=False)
    else:
        destination = normalize_email(request.destination)
    with answering_503("verify"):
        record_key = deps.digests.record_key(destination)
        if request.verification_id is not None:
            ref = deps.digests.locate(request.verification_id)
            if ref is None or ref.record_key != record_key or ref.purpose != request.purpose:
                # Names no code of this destination and purpose: refused before any attempt is spent.
                log.info("verify refused", extra={"reason": "not_found", "destination": destination.masked})
                raise NotFound()
        return _check(deps, record_key, destination, request, submitted)


def _check(
    deps: VerifyDependencies, record_key: str, destination: Destination, request: CheckRequest, submitted: str
) -> VerifiedCode:
    settings = deps.settings
    masked = destination.masked
    now = deps.now()
    ip = request.end_user_ip
    network = None if ip is None else deps.digests.failure_network_key(limits.failure_network(ip))
    attempt_limits = limits.attempt_limits(settings, now, network)
    purpose = request.purpose
    # The attempt is counted before the comparison: concurrent guesses can never exceed the limits.
    reservation = deps.store.reserve_attempt(record_key, purpose, request.verification_id, now, attempt_limits)
    stored = reservation.reserved
    if stored is None or limits.over_cap(settings, reservation.record, now):
        spent = limits.budget_spent(settings, reservation.record, now)
        error = refusal(reservation, request.verification_id, now, attempt_limits, spent) if stored is None else None
        error = error or TooManyAttempts()
        if stored is not None:
            _answered(deps, record_key, stored, reservation.record, now)
        log.info("verify refused", extra={"reason": error.code, "destination": masked})
        raise error
    context = encryption_context(record_key, stored.verification_id, purpose)
    try:
        expected = deps.cipher.decrypt(stored.ciphertext, context)
    except DependencyFailure:
        _answered(deps, record_key, stored, reservation.record, now)  # the attempt stays spent
        raise
    except CiphertextMismatch:
        _answered(deps, record_key, stored, reservation.record, now)
        log.error(
            "stored ciphertext does not belong to its record; possible tampering",
            extra={"verification_id": stored.verification_id, "destination": masked},
        )
        raise InvalidCode(attempts_remaining(stored, settings.max_attempts)) from None
    if not codes_match(expected, submitted):
        record = _count_wrong_code(deps, record_key, reservation, network, now)
        _answered(deps, record_key, stored, record, now)
        remaining = attempts_remaining(stored, settings.max_attempts)
        log.info(
            "wrong code",
            extra={"verification_id": stored.verification_id, "attempts_remaining": remaining, "destination": masked},
        )
        raise InvalidCode(remaining)
    # Approved now: the code keeps the resend_available_at it had at this moment (semantics of GET).
    record = reservation.record
    resend_at = limits.resend_available_at(settings, record, stored.created_at, now) if record is not None else None
    if not deps.store.consume(record_key, purpose, stored.verification_id, now, attempt_limits, resend_at):
        # Another request with the same code used it first (or it was canceled): single use holds.
        log.info("code already used by a concurrent request", extra={"verification_id": stored.verification_id})
        raise NotFound()
    log.info(
        "code verified",
        extra={"verification_id": stored.verification_id, "destination": masked, "country": destination.region},
    )
    return VerifiedCode(
        verification_id=stored.verification_id,
        channel=stored.channel,
        masked_destination=stored.masked_destination,
        purpose=purpose,
    )


def _answered(
    deps: VerifyDependencies, record_key: str, stored: StoredCode, record: DestinationRecord | None, now: int
) -> None:
    """A reserved attempt that did not verify. When it was the code's last, one write records it
    spent, so a cancel no longer waits on it (verification.cancelable), and keeps the resend time
    the verification showed as it left pending (verification.resend_shown)."""
    if stored.attempts < deps.settings.max_attempts:
        return
    resend_at = None if record is None else limits.resend_available_at(deps.settings, record, stored.created_at, now)
    try:
        deps.store.spend(record_key, stored.purpose, stored.verification_id, now, resend_at)
    except DependencyFailure:
        # The answer stands; a cancel may then still end the code (it can never verify again).
        log.warning("could not record the last attempt as spent", extra={"verification_id": stored.verification_id})


def _count_wrong_code(
    deps: VerifyDependencies, record_key: str, reservation: AttemptReservation, network: str | None, now: int
) -> DestinationRecord | None:
    """The attempt stays counted; when it crossed a failure bound, /generate refuses from then on.

    One extra write, only for the wrong code that crosses a bound: the rest pay nothing for it.
    The record is returned as that write left it.
    """
    if reservation.record is None:
        return None
    blocks = limits.failure_blocks(deps.settings, reservation.record, network, now)
    already = reservation.record
    new_destination = blocks.destination_until is not None and blocks.destination_until > already.blocked_until
    new_network = blocks.network is not None and (blocks.network_until or 0) > already.network_blocks.get(
        blocks.network, 0
    )
    if new_destination or new_network:
        deps.store.block_failures(record_key, blocks)
        log.warning(
            "failure bound reached; generate refuses this destination",
            extra={"everywhere_until": blocks.destination_until, "from_network_until": blocks.network_until},
        )
        if new_destination:
            return dataclasses.replace(already, blocked_until=blocks.destination_until or 0)
    return already
