"""Wiring: one bootstrap per function, building its typed dependencies once per container.

In Lambda the adapters are AWS's; unit tests pass in-memory fakes through the same functions.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from otp.config import Settings
from otp.domain.keys import Digests
from otp.domain.ports import CodeCipher, CodeStore, Idempotency, SecretDeriver, Senders
from otp.use_cases.dependencies import GenerateDependencies, VerificationDependencies, VerifyDependencies

log = logging.getLogger("otp.bootstrap")


@dataclass(frozen=True)
class Adapters:
    """How each port is made; built on first use, so a function creates only the clients it uses."""

    store: Callable[[Settings], CodeStore]
    deriver: Callable[[Settings], SecretDeriver]
    cipher: Callable[[Settings], CodeCipher]
    senders: Callable[[Settings], Senders]
    idempotency: Callable[[Settings, type], Idempotency]  # the dataclass its results are kept as
    # The pumping guard's block list, as one read: prefix digest -> (from, until).
    pumping_blocks: Callable[[Settings], Callable[[], Mapping[str, tuple[int, int]]]]
    before_snapshot: Callable[[Digests, list[str]], None] = lambda _digests, _services: None


def aws_adapters() -> Adapters:
    from otp.aws import factories  # the only import of the AWS adapters

    return Adapters(
        store=factories.store,
        deriver=factories.deriver,
        cipher=factories.cipher,
        senders=factories.senders,
        idempotency=factories.idempotency,
        pumping_blocks=factories.pumping_blocks,
        before_snapshot=factories.before_snapshot,
    )


def _common(settings: Settings, adapters: Adapters, clock: Callable[[], float]) -> dict[str, Any]:
    return {
        "settings": settings,
        "store": adapters.store(settings),
        "digests": Digests(adapters.deriver(settings)),
        "clock": clock,
    }


def _snapshot(adapters: Adapters, digests: Digests, services: list[str]) -> None:
    # Lambda sets this while it initializes a version for a SnapStart snapshot.
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        adapters.before_snapshot(digests, services)


def generate_dependencies(
    settings: Settings, adapters: Adapters | None = None, clock: Callable[[], float] = time.time
) -> GenerateDependencies:
    from otp.use_cases.issue_code import IssuedCode  # only generate loads the message texts

    adapters = adapters or aws_adapters()
    common = _common(settings, adapters, clock)
    deps = GenerateDependencies(
        **common,
        cipher=adapters.cipher(settings),
        senders=adapters.senders(settings),
        idempotency=adapters.idempotency(settings, IssuedCode),
        guard=_send_guard(settings, adapters, common["digests"]),
    )
    _snapshot(adapters, deps.digests, ["dynamodb", "kms", *_delivery_services(settings)])
    _warn_of_test_destinations(settings, clock())
    warn_of_long_sms(settings)
    return deps


def _send_guard(settings: Settings, adapters: Adapters, digests: Digests) -> Any:
    """Generate's side of the pumping guard, keyed by the record digests' secret; None when it is off."""
    if not settings.pumping.enabled:
        return None
    from otp.domain.prefix_keys import PrefixKeys
    from otp.use_cases.send_guard import BLOCK_LIST_UNAVAILABLE, BlockList, SendGuard

    def unavailable() -> None:
        from otp.observability import note

        note(BLOCK_LIST_UNAVAILABLE)

    blocks = BlockList(adapters.pumping_blocks(settings), settings.pumping.reaction_seconds, unavailable)
    return SendGuard(settings.pumping, PrefixKeys(digests.secret), blocks)


def _delivery_services(settings: Settings) -> list[str]:
    services = ["sns" if settings.sms_provider == "sns" else "pinpoint-sms-voice-v2"]
    if settings.voice_provider is not None:
        services.append("pinpoint-sms-voice-v2")
    if settings.whatsapp_phone_number_id:
        services.append("socialmessaging")
    if settings.email_enabled:
        services.append("sesv2")
    return sorted(set(services))


def _warn_of_test_destinations(settings: Settings, now: float) -> None:
    until = settings.test_destinations_valid_until
    if not settings.test_destinations or until is None:
        return
    if now >= until.timestamp():
        log.warning("OTP_TEST_DESTINATIONS has expired and is ignored: codes are random and sent again")
    else:
        log.warning(
            "OTP_TEST_DESTINATIONS is in force: fixed codes, nothing sent to those destinations",
            extra={"destinations": len(settings.test_destinations), "valid_until": until.isoformat()},
        )


def sms_segment_report(settings: Settings) -> Any:
    """The built-in SMS texts' segments with this brand and these autofill lines; None when they are
    not what is sent (a configured template, which reports its own segments, or Notify's templates)."""
    from otp.messages.templates import segment_report

    if settings.sms_template or settings.sms_provider == "notify":
        return None
    return segment_report(
        settings.brand_name,
        settings.webotp_domain,
        settings.android_app_hash,
        settings.code_length,
        settings.ttl_seconds,
    )


def warn_of_long_sms(settings: Settings) -> None:
    """At start, one warning and one data point when a built-in language would need a second segment."""
    report = sms_segment_report(settings)
    warning = report and report.warning(settings.brand_name)
    if not warning:
        return
    from otp.observability import observe_at_start

    log.warning(warning, extra={"languages": sorted(report.over), "brand_length": report.brand_length})
    observe_at_start("sms", "SmsLanguagesOverOneSegment", len(report.over))


def verify_dependencies(
    settings: Settings, adapters: Adapters | None = None, clock: Callable[[], float] = time.time
) -> VerifyDependencies:
    """No sender: the verify function never creates an SNS or SES client."""
    adapters = adapters or aws_adapters()
    deps = VerifyDependencies(**_common(settings, adapters, clock), cipher=adapters.cipher(settings))
    _snapshot(adapters, deps.digests, ["dynamodb", "kms"])
    return deps


def verification_dependencies(
    settings: Settings, adapters: Adapters | None = None, clock: Callable[[], float] = time.time
) -> VerificationDependencies:
    """Status and cancel: no cipher and no sender; the digests unmask the record an id names."""
    adapters = adapters or aws_adapters()
    deps = VerificationDependencies(**_common(settings, adapters, clock))
    _snapshot(adapters, deps.digests, ["dynamodb", "kms"])
    return deps


def stream_dependencies(settings: Settings) -> Any:
    """The pumping guard's stream consumer; the rules are generate's, from the same OTP_FRAUD_* settings."""
    from aws_lambda_powertools.metrics import MetricUnit

    from otp.aws import pumping
    from otp.aws.clients import client
    from otp.observability import metrics
    from otp.use_cases.pumping import StreamDependencies

    def emit(name: str, value: float) -> None:
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    # Generate keeps a message id for either phone channel sent through End User Messaging or Notify.
    feedback = settings.sms_feedback and bool({settings.sms_provider, settings.voice_provider} & {"eum", "notify"})
    if settings.digest_key_id is None:
        raise ValueError("OTP_DIGEST_KEY_ID is required")
    return StreamDependencies(
        rules=settings.pumping,
        keys=pumping.prefix_keys(settings.digest_key_id),
        counts=pumping.DynamoDbPumpingCounts(
            settings.table_name, functools.partial(client, "dynamodb"), settings.pumping.window_seconds
        ),
        emit=emit,
        feedback=pumping.EumMessageFeedback(functools.partial(client, "pinpoint-sms-voice-v2")) if feedback else None,
    )


def decode_stream_records(records: list[dict[str, Any]]) -> Any:
    from otp.aws.pumping_stream import decode_records

    return decode_records(records)
