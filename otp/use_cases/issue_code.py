"""Issue a code: take the send limits, encrypt, store, deliver."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from otp import policy
from otp.codes import generate_code
from otp.destinations import Channel, Destination, normalize
from otp.errors import DeliveryFailed, InvalidRequest, RateLimited
from otp.keys import new_verification_id
from otp.messages import MalformedLocale, render_email, resolve_locale
from otp.ports import DeliveryRefused, DependencyFailure, PendingCode
from otp.use_cases import Dependencies, answering_503

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssueRequest:
    channel: Channel
    destination: str
    purpose: str = "default"
    # The end user's address as far as this service can trust it; None applies no per-IP limit.
    end_user_ip: str | None = None
    locale: str | None = None  # BCP 47, as the caller asked


@dataclass(frozen=True)
class IssuedCode:
    verification_id: str
    channel: Channel
    masked_destination: str
    purpose: str
    expires_at: int
    expires_in: int
    resend_after: int
    locale: str = "en"  # the language the message was written in
    sms_segments: int | None = None  # what the SMS is billed as; None for email
    replayed: bool = False  # answered from an Idempotency-Key record; nothing was sent


def issue_code(deps: Dependencies, request: IssueRequest) -> IssuedCode:
    settings = deps.settings
    if request.channel == "email" and not settings.email_enabled:
        raise InvalidRequest.for_field("channel", "email delivery is not configured on this service")
    destination = normalize(request.channel, request.destination, settings.sms_allowed_countries)
    try:
        locale = resolve_locale(request.locale, settings.default_locale)
    except MalformedLocale:
        raise InvalidRequest.for_field("locale", "is not a BCP 47 language tag (such as es, pt-BR or hi)") from None
    now = deps.now()
    log.info(
        "code requested",
        extra={"channel": destination.channel, "destination": destination.masked, "purpose": request.purpose},
    )
    with answering_503("generate"):
        record_key = deps.digests.record_key(destination)
        _take_send_allowance(deps, destination, record_key, request.end_user_ip, now)
        return _issue(deps, destination, record_key, request.purpose, locale, now)


def _take_send_allowance(
    deps: Dependencies, destination: Destination, record_key: str, end_user_ip: str | None, now: int
) -> None:
    """Taken before any KMS call or delivery, so a refused request costs one write."""
    ip_key = deps.digests.network_key(policy.end_user_network(end_user_ip)) if end_user_ip else None
    plan = policy.send_plan(deps.settings, record_key, ip_key, now)
    refused = deps.store.take_send(plan, now)
    if refused is not None:
        log.info(
            "send refused by a rate limit",
            extra={"destination": destination.masked, "limits": refused.limits, "free_at": refused.free_at},
        )
        raise RateLimited(refused.free_at - now, limits=refused.limits)


def _issue(
    deps: Dependencies, destination: Destination, record_key: str, purpose: str, locale: str, now: int
) -> IssuedCode:
    settings = deps.settings
    assert deps.cipher is not None and deps.sender is not None, "generate is wired with a cipher and a sender"
    verification_id = new_verification_id(record_key, purpose)
    code = generate_code(settings.code_length)
    expires_at = now + settings.ttl_seconds
    pending = PendingCode(
        verification_id=verification_id,
        purpose=purpose,
        channel=destination.channel,
        masked_destination=destination.masked,
        created_at=now,
        expires_at=expires_at,
        ciphertext=deps.cipher.encrypt(code, policy.encryption_context(record_key, verification_id, purpose)),
    )
    # Saving supersedes any code pending for the same destination and purpose.
    deps.store.save_code(
        record_key,
        pending,
        keep_until=now + policy.record_lifetime(settings),
        forget_before=now - policy.RECORD_GRACE_SECONDS,
    )
    segments = None
    try:
        if destination.channel == "sms":
            sms = policy.sms_for(settings, locale, code)
            segments = sms.segments
            deps.sender.send_sms(destination.address, sms.text)
        else:
            message = render_email(locale, code, settings.brand_name, settings.ttl_seconds)
            deps.sender.send_email(destination.address, message.subject, message.text, message.html)
    except DeliveryRefused as exc:
        _withdraw(deps, record_key, pending, reason=str(exc))
        raise DeliveryFailed() from None
    log.info(
        "code delivered",
        extra={
            "verification_id": verification_id,
            "channel": destination.channel,
            "destination": destination.masked,
            # The ISO country, never the number: the dashboard's conversion by country reads it.
            "country": destination.region,
            "locale": locale,
            "sms_segments": segments,
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
        locale=locale,
        sms_segments=segments,
    )


def _withdraw(deps: Dependencies, record_key: str, pending: PendingCode, reason: str) -> None:
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
        deps.store.withdraw_code(record_key, pending.purpose, pending.verification_id)
    except DependencyFailure as exc:
        # The code was never seen by anyone, so it cannot be guessed better than by chance;
        # it expires at expires_at regardless.
        log.error(
            "could not withdraw an undelivered code",
            extra={"verification_id": pending.verification_id, "dependency_error": str(exc)},
        )
