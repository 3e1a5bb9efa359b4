"""What a use case hands to delivery, and the senders that take it: one port per channel.

Plain data and Protocols only, so the domain and the use cases never import boto3. An adapter
returns a Receipt when its provider accepted the message, and raises DeliveryRefused when it did
not (the contract's 502: nothing is left pending).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DeliveryRefused(Exception):
    """The provider did not accept the message. The text names the provider's call and error code
    only, never the provider's message, which can echo the destination or the body."""


@dataclass(frozen=True)
class Receipt:
    message_id: str | None  # the provider's id, when it gives one (needed to report feedback later)
    provider: str  # "sns", "eum", "notify", "socialmessaging", "ses"


@dataclass(frozen=True)
class SmsMessage:
    phone_number: str  # E.164
    text: str  # as rendered; providers that use their own template (notify) send only the code
    code: str
    ttl_seconds: int  # the code's remaining validity: no use delivering it later
    country: str | None = None  # ISO 3166 alpha-2 of the number
    locale: str = "en"


@dataclass(frozen=True)
class VoiceMessage:
    phone_number: str
    ssml: str  # what a provider that takes SSML speaks
    text: str  # the same words as plain text, as the user hears them
    code: str
    language: str  # the language spoken, which may differ from the one asked for
    voice_id: str  # a voice the provider has for that language
    ttl_seconds: int


@dataclass(frozen=True)
class WhatsAppMessage:
    phone_number: str
    code: str
    template: str  # the registered authentication template's name
    language: str  # the template language, as WhatsApp spells it (pt_BR)


@dataclass(frozen=True)
class EmailMessage:
    address: str
    subject: str
    text: str
    html: str


class SmsSender(Protocol):
    def send_sms(self, message: SmsMessage) -> Receipt: ...


class VoiceSender(Protocol):
    def send_voice(self, message: VoiceMessage) -> Receipt: ...


class WhatsAppSender(Protocol):
    def send_whatsapp(self, message: WhatsAppMessage) -> Receipt: ...


class EmailSender(Protocol):
    def send_email(self, message: EmailMessage) -> Receipt: ...
