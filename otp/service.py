"""The two use cases: issue a code, and check one."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from otp.codes import codes_match, generate_code, new_verification_id
from otp.config import Settings
from otp.destinations import Channel, Destination, channel_of, normalize, normalize_email, normalize_phone
from otp.errors import DeliveryFailed, InvalidCode, InvalidRequest, RateLimited, ServiceUnavailable
from otp.messages import email_message, sms_text
from otp.ports import (
    CiphertextMismatch,
    CodeCipher,
    CodeStore,
    Cooldown,
    DeliveryRefused,
    DependencyFailure,
    MessageSender,
    PendingCode,
    SendQuota,
)
from otp.verification import attempts_remaining, refusal

log = logging.getLogger(__name__)

# Expired and used records stay this long before DynamoDB TTL may purge them, so that a late
# /verify still hears 410 or 404 for the right reason.
RECORD_GRACE_SECONDS = 3600
IP_WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class IssuedCode:
    verification_id: str
    channel: Channel
    masked_destination: str
    purpose: str
    expires_at: int
    expires_in: int
    resend_after: int
    replayed: bool = False  # answered from an Idempotency-Key record; nothing was sent


@dataclass(frozen=True)
class VerifiedCode:
    verification_id: str
    channel: Channel
    masked_destination: str
    purpose: str


def record_key(destination: Destination, purpose: str) -> str:
    return f"otp#{purpose}#{destination.digest}"


def encryption_context(key: str, verification_id: str, purpose: str) -> dict[str, str]:
    """Binds a ciphertext to the one record it was made for; KMS refuses it anywhere else."""
    return {"otp:record": key, "otp:verification_id": verification_id, "otp:purpose": purpose}


class OtpService:
    def __init__(
        self,
        settings: Settings,
        cipher: CodeCipher,
        store: CodeStore,
        sender: MessageSender | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.cipher = cipher
        self.store = store
        self.sender = sender
        self.clock = clock
        self._code_pattern = re.compile(rf"[0-9]{{{settings.code_length}}}")

    # ---- /generate -------------------------------------------------------------------------

    def generate(self, channel: Channel, raw_destination: str, purpose: str, source_ip: str | None) -> IssuedCode:
        settings = self.settings
        if channel == "email" and not settings.email_enabled:
            raise InvalidRequest.for_field("channel", "email delivery is not configured on this service")
        destination = normalize(channel, raw_destination, settings.sms_allowed_countries)
        now = int(self.clock())
        log.info("code requested", extra={"channel": channel, "destination": destination.masked, "purpose": purpose})
        try:
            self._take_send_allowance(destination, source_ip, now)
            return self._issue(destination, purpose, now)
        except DependencyFailure as exc:
            log.error("dependency failed during generate", extra={"dependency_error": str(exc)})
            raise ServiceUnavailable() from None

    def _take_send_allowance(self, destination: Destination, source_ip: str | None, now: int) -> None:
        """Limits are taken before any KMS call or delivery, so a refused request costs one write."""
        settings = self.settings
        cooldown = None
        if settings.resend_cooldown_seconds > 0:
            # Keyed on the destination alone: switching purpose must not dodge the cooldown.
            cooldown = Cooldown(f"cooldown#{destination.digest}", now + settings.resend_cooldown_seconds, "cooldown")
        quotas = []
        if settings.max_sends_per_window > 0:
            window = settings.send_window_seconds
            bucket = now // window
            quotas.append(
                SendQuota(
                    f"sends#{destination.digest}#{bucket}",
                    settings.max_sends_per_window,
                    (bucket + 1) * window,
                    "destination_window",
                )
            )
        if settings.max_sends_per_ip > 0 and source_ip:
            bucket = now // IP_WINDOW_SECONDS
            ip_digest = hashlib.sha256(source_ip.encode()).hexdigest()
            quotas.append(
                SendQuota(
                    f"ip#{ip_digest}#{bucket}", settings.max_sends_per_ip, (bucket + 1) * IP_WINDOW_SECONDS, "source_ip"
                )
            )
        if cooldown is None and not quotas:
            return
        refusal = self.store.reserve_send(cooldown, quotas, now)
        if refusal is not None:
            log.info(
                "send refused by a rate limit",
                extra={"destination": destination.masked, "limits": refusal.limits, "free_at": refusal.free_at},
            )
            raise RateLimited(refusal.free_at - now, limits=refusal.limits)

    def _issue(self, destination: Destination, purpose: str, now: int) -> IssuedCode:
        settings = self.settings
        key = record_key(destination, purpose)
        verification_id = new_verification_id()
        code = generate_code(settings.code_length)
        expires_at = now + settings.ttl_seconds
        ciphertext = self.cipher.encrypt(code, encryption_context(key, verification_id, purpose))
        pending = PendingCode(
            record_key=key,
            verification_id=verification_id,
            channel=destination.channel,
            purpose=purpose,
            masked_destination=destination.masked,
            ciphertext=ciphertext,
            created_at=now,
            expires_at=expires_at,
        )
        # Saving supersedes any code pending for the same destination and purpose.
        self.store.save_pending(pending, ttl_until=expires_at + RECORD_GRACE_SECONDS)
        try:
            self._deliver(destination, code)
        except DeliveryRefused as exc:
            self._withdraw(pending, reason=str(exc))
            raise DeliveryFailed() from None
        log.info(
            "code delivered",
            extra={
                "verification_id": verification_id,
                "channel": destination.channel,
                "destination": destination.masked,
            },
        )
        return IssuedCode(
            verification_id=verification_id,
            channel=destination.channel,
            masked_destination=destination.masked,
            purpose=purpose,
            expires_at=expires_at,
            expires_in=settings.ttl_seconds,
            resend_after=settings.resend_cooldown_seconds,
        )

    def _deliver(self, destination: Destination, code: str) -> None:
        if self.sender is None:
            raise RuntimeError("this service was built without a message sender")
        settings = self.settings
        if destination.channel == "sms":
            self.sender.send_sms(destination.address, sms_text(code, settings.brand_name, settings.ttl_seconds))
        else:
            message = email_message(code, settings.brand_name, settings.ttl_seconds)
            self.sender.send_email(destination.address, message.subject, message.text, message.html)

    def _withdraw(self, pending: PendingCode, reason: str) -> None:
        """A code nobody received must not stay verifiable."""
        log.warning(
            "delivery refused; withdrawing the code",
            extra={
                "verification_id": pending.verification_id,
                "destination": pending.masked_destination,
                "delivery_error": reason,
            },
        )
        try:
            self.store.discard_pending(pending.record_key, pending.verification_id)
        except DependencyFailure as exc:
            # The code was never seen by anyone, so it cannot be guessed better than by chance;
            # it expires at expires_at regardless.
            log.error(
                "could not withdraw an undelivered code",
                extra={"verification_id": pending.verification_id, "dependency_error": str(exc)},
            )

    # ---- /verify ---------------------------------------------------------------------------

    def verify(self, raw_destination: str, purpose: str, code: str, verification_id: str | None) -> VerifiedCode:
        settings = self.settings
        submitted = code.strip()
        if not self._code_pattern.fullmatch(submitted):
            raise InvalidRequest.for_field("code", f"must be exactly {settings.code_length} digits")
        if channel_of(raw_destination) == "sms":
            # No class or country checks here: a number that could not receive a code has none pending.
            destination = normalize_phone(raw_destination, check_sms_capable=False)
        else:
            destination = normalize_email(raw_destination)
        key = record_key(destination, purpose)
        now = int(self.clock())
        try:
            return self._check(key, destination, purpose, submitted, verification_id, now)
        except DependencyFailure as exc:
            log.error("dependency failed during verify", extra={"dependency_error": str(exc)})
            raise ServiceUnavailable() from None

    def _check(
        self, key: str, destination: Destination, purpose: str, submitted: str, verification_id: str | None, now: int
    ) -> VerifiedCode:
        max_attempts = self.settings.max_attempts
        # The attempt is counted before the comparison: concurrent guesses can never exceed the limit.
        reservation = self.store.reserve_attempt(key, verification_id, now, max_attempts)
        pending = reservation.reserved
        if pending is None:
            error = refusal(reservation.current, verification_id, now, max_attempts)
            log.info("verify refused", extra={"reason": error.code, "destination": destination.masked})
            raise error
        context = encryption_context(key, pending.verification_id, purpose)
        try:
            expected = self.cipher.decrypt(pending.ciphertext, context)
        except CiphertextMismatch:
            log.error(
                "stored ciphertext does not belong to its record; possible tampering",
                extra={"verification_id": pending.verification_id, "destination": destination.masked},
            )
            raise InvalidCode(attempts_remaining(pending, max_attempts)) from None
        if not codes_match(expected, submitted):
            remaining = attempts_remaining(pending, max_attempts)
            log.info(
                "wrong code",
                extra={
                    "verification_id": pending.verification_id,
                    "attempts_remaining": remaining,
                    "destination": destination.masked,
                },
            )
            raise InvalidCode(remaining)
        if not self.store.consume(key, pending.verification_id, now):
            # Another request with the same code consumed it first: single use holds.
            log.info("code already used by a concurrent request", extra={"verification_id": pending.verification_id})
            raise refusal(None, None, now, max_attempts)
        log.info("code verified", extra={"verification_id": pending.verification_id, "destination": destination.masked})
        return VerifiedCode(
            verification_id=pending.verification_id,
            channel=pending.channel,
            masked_destination=pending.masked_destination,
            purpose=purpose,
        )
