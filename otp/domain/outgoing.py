"""The one place a message is written from the settings, for each channel: language or template,
brand, validity, autofill lines, voice, WhatsApp template. Generate sends what this returns; the
runner's review page shows the same."""

from __future__ import annotations

from dataclasses import dataclass

from otp.config import Settings
from otp.domain.destinations import Destination
from otp.domain.outbound import EmailMessage, SmsMessage, VoiceMessage, WhatsAppMessage
from otp.messages import Sms, render_email, render_sms
from otp.messages.voice import render_voice
from otp.messages.whatsapp import whatsapp_language

Message = SmsMessage | VoiceMessage | WhatsAppMessage | EmailMessage


@dataclass(frozen=True)
class Outgoing:
    message: Message
    locale: str  # the language the person reads or hears: the 201 `locale`
    sms_segments: int | None = None  # what an SMS is billed as; None where the text is not ours


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


def compose(settings: Settings, destination: Destination, locale: str, code: str, ttl: int) -> Outgoing:
    to = destination.address
    if destination.channel == "email":
        email = render_email(locale, code, settings.brand_name, settings.ttl_seconds)
        return Outgoing(EmailMessage(to, email.subject, email.text, email.html), locale)
    if destination.channel == "voice":
        voice = render_voice(locale, code, settings.brand_name, settings.ttl_seconds, settings.default_locale)
        message = VoiceMessage(to, voice.ssml, voice.text, code, voice.language, voice.voice_id, ttl)
        return Outgoing(message, voice.language)
    if destination.channel == "whatsapp":
        language, tag = whatsapp_language(locale, settings.whatsapp_languages)
        return Outgoing(WhatsAppMessage(to, code, settings.whatsapp_template, language), tag)
    sms = sms_for(settings, locale, code)
    # With notify the text is AWS's pre-approved template: its length is not ours to count.
    segments = None if settings.sms_provider == "notify" else sms.segments
    return Outgoing(SmsMessage(to, sms.text, code, ttl, destination.region, locale), locale, segments)
