"""Check a code: reserve an attempt, decrypt, compare in constant time, consume."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from otp import policy
from otp.codes import codes_match
from otp.destinations import Channel, Destination, channel_of, normalize_email, normalize_phone
from otp.errors import InvalidCode, InvalidRequest, NotFound
from otp.keys import parse_verification_id
from otp.ports import CiphertextMismatch
from otp.use_cases import Dependencies, answering_503
from otp.verification import attempts_remaining, refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckRequest:
    destination: str
    code: str
    purpose: str = "default"
    verification_id: str | None = None


@dataclass(frozen=True)
class VerifiedCode:
    verification_id: str
    channel: Channel
    masked_destination: str
    purpose: str


def check_code(deps: Dependencies, request: CheckRequest) -> VerifiedCode:
    settings = deps.settings
    submitted = request.code.strip()
    if not re.fullmatch(rf"[0-9]{{{settings.code_length}}}", submitted):
        raise InvalidRequest.for_field("code", f"must be exactly {settings.code_length} digits")
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
            ref = parse_verification_id(request.verification_id)
            if ref is None or ref.record_key != record_key or ref.purpose != request.purpose:
                # Names no code of this destination and purpose: refused before any attempt is spent.
                log.info("verify refused", extra={"reason": "not_found", "destination": destination.masked})
                raise NotFound()
        return _check(deps, record_key, destination, request, submitted)


def _check(
    deps: Dependencies, record_key: str, destination: Destination, request: CheckRequest, submitted: str
) -> VerifiedCode:
    settings = deps.settings
    masked = destination.masked
    assert deps.cipher is not None, "verify is wired with a cipher"
    now = deps.now()
    limits = policy.attempt_limits(settings, now)
    purpose = request.purpose
    # The attempt is counted before the comparison: concurrent guesses can never exceed the limits.
    reservation = deps.store.reserve_attempt(record_key, purpose, request.verification_id, now, limits)
    pending = reservation.reserved
    if pending is None:
        error = refusal(reservation, request.verification_id, now, settings.max_attempts)
        log.info("verify refused", extra={"reason": error.code, "destination": masked})
        raise error
    context = policy.encryption_context(record_key, pending.verification_id, purpose)
    try:
        expected = deps.cipher.decrypt(pending.ciphertext, context)
    except CiphertextMismatch:
        log.error(
            "stored ciphertext does not belong to its record; possible tampering",
            extra={"verification_id": pending.verification_id, "destination": masked},
        )
        raise InvalidCode(attempts_remaining(pending, settings.max_attempts)) from None
    if not codes_match(expected, submitted):
        remaining = attempts_remaining(pending, settings.max_attempts)
        log.info(
            "wrong code",
            extra={"verification_id": pending.verification_id, "attempts_remaining": remaining, "destination": masked},
        )
        raise InvalidCode(remaining)
    if not deps.store.consume(record_key, purpose, pending.verification_id, now, limits.failures.bucket):
        # Another request with the same code used it first (or it was canceled): single use holds.
        log.info("code already used by a concurrent request", extra={"verification_id": pending.verification_id})
        raise NotFound()
    log.info(
        "code verified",
        extra={"verification_id": pending.verification_id, "destination": masked, "country": destination.region},
    )
    return VerifiedCode(
        verification_id=pending.verification_id,
        channel=pending.channel,
        masked_destination=pending.masked_destination,
        purpose=purpose,
    )
