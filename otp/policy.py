"""Policy shared by the use cases: windows, limits, encryption context, end-user networks."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from otp.config import Settings

if TYPE_CHECKING:  # verify and status never load the message texts
    from otp.messages import Sms
from otp.ports import AttemptLimits, SendPlan, Window

# Expired and used codes stay this long before DynamoDB TTL may purge them, so that a late
# /verify still hears 410 or 404 for the right reason, and a status read still finds them.
RECORD_GRACE_SECONDS = 3600
IP_WINDOW_SECONDS = 3600


def window(now: int, length: int, limit: int) -> Window:
    bucket = now // length
    return Window(bucket=bucket, limit=limit, resets_at=(bucket + 1) * length)


def failure_window(settings: Settings, now: int) -> Window:
    return window(now, settings.failure_window_seconds, settings.max_failures_per_destination)


def record_lifetime(settings: Settings) -> int:
    """How long a destination record must outlive its last write: every window and grace period in it."""
    return (
        max(settings.failure_window_seconds, settings.send_window_seconds, settings.resend_cooldown_seconds)
        + settings.ttl_seconds
        + RECORD_GRACE_SECONDS
    )


def send_plan(settings: Settings, record_key: str, ip_key: str | None, now: int) -> SendPlan:
    cooldown_until = now + settings.resend_cooldown_seconds if settings.resend_cooldown_seconds > 0 else None
    sends = (
        window(now, settings.send_window_seconds, settings.max_sends_per_window)
        if settings.max_sends_per_window > 0
        else None
    )
    ip_sends = None
    if ip_key is not None and settings.max_sends_per_ip > 0:
        ip_sends = window(now, IP_WINDOW_SECONDS, settings.max_sends_per_ip)
    return SendPlan(
        record_key=record_key,
        keep_until=now + record_lifetime(settings),
        failures=failure_window(settings, now),
        cooldown_until=cooldown_until,
        sends=sends,
        ip_key=ip_key if ip_sends else None,
        ip_sends=ip_sends,
    )


def attempt_limits(settings: Settings, now: int) -> AttemptLimits:
    """A code keeps its own attempts, and the destination as a whole may see no more than
    OTP_MAX_FAILURES_PER_DESTINATION + OTP_MAX_ATTEMPTS unproven attempts per failure window:
    /generate stops at the first number, so only the code pending then can reach the second."""
    failures = failure_window(settings, now)
    cap = settings.max_failures_per_destination + settings.max_attempts
    return AttemptLimits(max_attempts=settings.max_attempts, failures=Window(failures.bucket, cap, failures.resets_at))


def sms_for(settings: Settings, locale: str, code: str) -> Sms:
    """The SMS as this service's settings write it: language or template, brand, validity, autofill lines."""
    from otp.messages import render_sms

    return render_sms(
        locale,
        code,
        settings.brand_name,
        settings.ttl_seconds,
        template=settings.sms_template,
        webotp_domain=settings.webotp_domain,
        android_app_hash=settings.android_app_hash,
    )


def encryption_context(record_key: str, verification_id: str, purpose: str) -> dict[str, str]:
    """Binds a ciphertext to the one code it was made for; KMS refuses it anywhere else."""
    return {"otp:record": record_key, "otp:verification_id": verification_id, "otp:purpose": purpose}


def end_user_network(ip: str) -> str:
    """What the per-IP limit counts: one IPv4 address, or one IPv6 /64 (what one subscriber gets)."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
