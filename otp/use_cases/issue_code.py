"""Issue a code: take the send limits, encrypt, store, deliver."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from otp.domain import limits
from otp.domain.codes import generate_code
from otp.domain.destinations import Channel, Destination, normalize
from otp.domain.entities import GuardMark, StoredCode
from otp.domain.errors import DeliveryFailed, DestinationNotAllowed, InvalidRequest, RateLimited
from otp.domain.keys import encryption_context
from otp.domain.outbound import DeliveryRefused, EmailMessage, Receipt, SmsMessage, VoiceMessage, WhatsAppMessage
from otp.domain.outgoing import Message, compose
from otp.domain.ports import DependencyFailure
from otp.domain.test_destinations import fixed_code
from otp.messages import MalformedLocale, resolve_locale
from otp.use_cases import answering_503
from otp.use_cases.dependencies import GenerateDependencies
from otp.use_cases.verification_view import keep_superseded

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
    test_destination: bool = False  # a fixed code of OTP_TEST_DESTINATIONS: nothing was sent
    replayed: bool = False  # answered from an Idempotency-Key record; nothing was sent


def issue_code(deps: GenerateDependencies, request: IssueRequest) -> IssuedCode:
    settings = deps.settings
    if not settings.channel_enabled(request.channel):
        raise InvalidRequest.for_field("channel", f"must be a channel this service delivers; {request.channel} is off")
    destination = normalize(request.channel, request.destination, settings.sms_allowed_countries)
    try:
        locale = resolve_locale(request.locale, settings.default_locale)
    except MalformedLocale:
        raise InvalidRequest.for_field("locale", "must be a BCP 47 language tag (such as es, pt-BR or hi)") from None
    now = deps.now()
    log.info(
        "code requested",
        extra={"channel": destination.channel, "destination": destination.masked, "purpose": request.purpose},
    )
    fixed = fixed_code(settings.test_destinations, settings.test_destinations_valid_until, destination, now)
    with answering_503("generate"):
        # Semantics 16: a test destination is neither counted nor refused by the guard.
        mark = deps.guard.mark(destination) if deps.guard is not None and fixed is None else None
        if mark is not None and deps.guard is not None and deps.guard.refuses(mark, now):
            # Before the send allowance: a refused send takes nothing from the number's limits.
            log.warning(
                "send refused: the number's prefix is blocked by the pumping guard",
                extra={"channel": destination.channel, "destination": destination.masked, "country": mark.country},
            )
            raise DestinationNotAllowed("fraud_suspected", "Codes are not sent to this number range at the moment.")
        record_key = deps.digests.record_key(destination)
        _take_send_allowance(deps, destination, record_key, request.end_user_ip, now)
        return _issue(deps, destination, record_key, _Pending(request.purpose, locale, fixed, mark), now)


def _take_send_allowance(
    deps: GenerateDependencies, destination: Destination, record_key: str, end_user_ip: str | None, now: int
) -> None:
    """Taken before any KMS call or delivery, so a refused request costs one write."""
    ip_key = deps.digests.network_key(limits.end_user_network(end_user_ip)) if end_user_ip else None
    network = deps.digests.failure_network_key(limits.failure_network(end_user_ip)) if end_user_ip else None
    plan = limits.send_plan(deps.settings, record_key, ip_key, now, network)
    refused = limits.send_refusal(plan, deps.store.take_send(plan, now), now)
    if refused is not None:
        log.info(
            "send refused by a rate limit",
            extra={"destination": destination.masked, "reasons": refused.reasons, "free_at": refused.free_at},
        )
        raise RateLimited(refused.free_at - now, reasons=refused.reasons)


@dataclass(frozen=True)
class _Pending:
    """What was decided about a code before it exists."""

    purpose: str
    locale: str
    fixed: str | None  # the test destination's fixed code
    mark: GuardMark | None  # counted by the pumping guard


def _issue(
    deps: GenerateDependencies, destination: Destination, record_key: str, pending: _Pending, now: int
) -> IssuedCode:
    settings = deps.settings
    purpose, fixed = pending.purpose, pending.fixed
    verification_id = deps.digests.new_verification_id(record_key, purpose)
    code = fixed or generate_code(settings.code_length)
    # Written before anything is stored: a message that cannot be rendered leaves no code behind.
    outgoing = compose(settings, destination, pending.locale, code, settings.ttl_seconds)
    stored = StoredCode(
        verification_id=verification_id,
        purpose=purpose,
        channel=destination.channel,
        masked_destination=destination.masked,
        created_at=now,
        expires_at=now + settings.ttl_seconds,
        ciphertext=deps.cipher.encrypt(code, encryption_context(record_key, verification_id, purpose)),
        guard=pending.mark,
    )
    # Saving supersedes any code pending for the same destination and purpose.
    saved = deps.store.save_code(
        record_key,
        stored,
        keep_until=now + limits.record_lifetime(settings),
        forget_before=now - limits.RECORD_GRACE_SECONDS,
    )
    keep_superseded(deps, record_key, saved, purpose, now)
    _send(deps, record_key, stored, outgoing.message, test_destination=fixed is not None)
    segments = None if fixed is not None else outgoing.sms_segments
    log.info(
        "code delivered",
        extra={
            "verification_id": verification_id,
            "channel": destination.channel,
            "destination": destination.masked,
            # The ISO country, never the number: the dashboard's conversion by country reads it.
            "country": destination.region,
            "locale": outgoing.locale,
            "sms_segments": segments,
        },
    )
    return IssuedCode(
        verification_id=verification_id,
        channel=destination.channel,
        masked_destination=destination.masked,
        purpose=purpose,
        expires_at=stored.expires_at,
        expires_in=settings.ttl_seconds,
        resend_after=settings.resend_cooldown_seconds,
        locale=outgoing.locale,
        sms_segments=segments,
        test_destination=fixed is not None,
    )


def _send(
    deps: GenerateDependencies, record_key: str, stored: StoredCode, message: Message, *, test_destination: bool
) -> None:
    if test_destination:
        # Semantics 16: stored and checked like any code; only the delivery is skipped.
        log.warning(
            "test destination: fixed code stored, nothing sent",
            extra={"verification_id": stored.verification_id, "destination": stored.masked_destination},
        )
        return
    receipt = _deliver(deps, record_key, stored, message)
    _keep_message_id(deps, record_key, stored, receipt)


def _deliver(deps: GenerateDependencies, record_key: str, stored: StoredCode, message: Message) -> Receipt:
    """Send the message; a refused one withdraws the code, so nothing nobody received stays verifiable."""
    senders = deps.senders
    try:
        if isinstance(message, SmsMessage):
            return senders.sms.send_sms(message)
        if isinstance(message, EmailMessage) and senders.email is not None:
            return senders.email.send_email(message)
        if isinstance(message, VoiceMessage) and senders.voice is not None:
            return senders.voice.send_voice(message)
        if isinstance(message, WhatsAppMessage) and senders.whatsapp is not None:
            return senders.whatsapp.send_whatsapp(message)
        raise DeliveryRefused(f"no sender is configured for {stored.channel}")
    except DeliveryRefused as exc:
        _withdraw(deps, record_key, stored, reason=str(exc))
        raise DeliveryFailed() from None


def _keep_message_id(deps: GenerateDependencies, record_key: str, stored: StoredCode, receipt: Receipt) -> None:
    """End User Messaging takes RECEIVED for a message only by its id, which exists only now: one
    more write, only for an SMS or a call sent with message feedback, so that the stream consumer
    can report it once the code verifies (OTP_SMS_FEEDBACK). The code was sent: a failure here
    costs the report, not the request."""
    if not (deps.settings.sms_feedback and receipt.provider in ("eum", "notify") and receipt.message_id):
        return
    try:
        deps.store.keep_message_id(record_key, stored.purpose, stored.verification_id, receipt.message_id)
    except DependencyFailure as exc:
        log.warning(
            "message id not kept: delivery feedback will not be reported for this code",
            extra={"verification_id": stored.verification_id, "dependency_error": str(exc)},
        )


def _withdraw(deps: GenerateDependencies, record_key: str, stored: StoredCode, reason: str) -> None:
    log.warning(
        "delivery refused; withdrawing the code",
        extra={
            "verification_id": stored.verification_id,
            "destination": stored.masked_destination,
            "delivery_error": reason,
        },
    )
    try:
        deps.store.withdraw_code(record_key, stored.purpose, stored.verification_id)
    except DependencyFailure as exc:
        # The code was never seen by anyone, so it cannot be guessed better than by chance;
        # it expires at expires_at regardless.
        log.error(
            "could not withdraw an undelivered code",
            extra={"verification_id": stored.verification_id, "dependency_error": str(exc)},
        )
