"""The one place a message is written from the settings: language or template, brand, validity,
autofill lines. Generate sends what this returns; the runner's review page shows the same."""

from __future__ import annotations

from otp.config import Settings
from otp.messages import EmailMessage, Sms, render_email, render_sms

Message = Sms | EmailMessage


def sms_for(settings: Settings, locale: str, code: str) -> Sms:
    return render_sms(
        locale,
        code,
        settings.brand_name,
        settings.ttl_seconds,
        template=settings.sms_template,
        webotp_domain=settings.webotp_domain,
        android_app_hash=settings.android_app_hash,
    )


def email_for(settings: Settings, locale: str, code: str) -> EmailMessage:
    return render_email(locale, code, settings.brand_name, settings.ttl_seconds)


def compose(settings: Settings, channel: str, locale: str, code: str) -> Message:
    return sms_for(settings, locale, code) if channel == "sms" else email_for(settings, locale, code)
