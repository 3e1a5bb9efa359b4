"""Destination normalization, SMS fraud guards and masking."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from otp.domain.errors import DestinationNotAllowed, InvalidRequest

Channel = Literal["sms", "voice", "whatsapp", "email"]
PHONE_CHANNELS = ("sms", "voice", "whatsapp")

# Only these classes reliably receive a text. Premium-rate, shared-cost, toll-free, VoIP, pager and
# UAN numbers are the usual targets of SMS pumping, and plain fixed lines cannot receive a text;
# a landline can take a call, so voice also reaches FIXED_LINE.
_TEXT_CAPABLE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_REACHABLE = {
    "sms": _TEXT_CAPABLE,
    "whatsapp": _TEXT_CAPABLE,
    "voice": _TEXT_CAPABLE | {PhoneNumberType.FIXED_LINE},
}
# Vanity letters are refused on purpose: libphonenumber would silently map them to digits.
_PHONE_CHARACTERS = re.compile(r"^\+[0-9 ()./-]{4,40}$")


@dataclass(frozen=True)
class Destination:
    channel: Channel
    address: str  # where the message goes: E.164, or the address as written with its domain normalized
    masked: str
    region: str | None = None  # ISO region of a phone number
    canonical: str = ""  # what records and counters are keyed on; see normalize_email

    @property
    def identity(self) -> str:
        """The text every digest of this destination is taken over: one per real phone or mailbox.

        Every phone channel shares the number's record (semantics 15). The prefix stays "sms",
        as records written before voice and WhatsApp existed are keyed on it.
        """
        kind = "email" if self.channel == "email" else "sms"
        return f"{kind}:{self.canonical or self.address}"


def normalize(channel: Channel, raw: str, allowed_countries: frozenset[str] | None = None) -> Destination:
    if channel == "email":
        return normalize_email(raw)
    return normalize_phone(raw, allowed_countries, channel=channel)


def channel_of(raw: str) -> Channel:
    """How /verify tells a number from an address (an address always has an @); every phone channel
    shares the number's record, so "sms" stands for all of them here."""
    return "email" if "@" in raw else "sms"


def normalize_phone(
    raw: str,
    allowed_countries: frozenset[str] | None = None,
    *,
    check_sms_capable: bool = True,
    channel: Channel = "sms",
) -> Destination:
    text = raw.strip()
    if not _PHONE_CHARACTERS.match(text):
        raise InvalidRequest.for_field(
            "destination", "must be a phone number in international format, starting with + and the country code"
        )
    try:
        number = phonenumbers.parse(text, None)
    except NumberParseException:
        raise InvalidRequest.for_field(
            "destination", "must be a phone number in international format, starting with + and the country code"
        ) from None
    if not phonenumbers.is_valid_number(number) or number.country_code is None:
        raise InvalidRequest.for_field("destination", "must be a valid phone number with its country code")
    region = phonenumbers.region_code_for_number(number)
    if check_sms_capable and phonenumbers.number_type(number) not in _REACHABLE[channel]:
        raise DestinationNotAllowed("number_type", f"Codes by {channel} cannot reach this kind of number.")
    if allowed_countries is not None and region not in allowed_countries:
        raise DestinationNotAllowed("country", "Codes are not sent to numbers of this country.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Destination(channel, e164, mask_phone(e164, number.country_code), region, canonical=e164)


def normalize_email(raw: str) -> Destination:
    # Imported here, on the first address: its regular expressions cost every cold start about
    # 40 ms, which SMS and verify-by-number requests never need.
    from email_validator import EmailNotValidError, validate_email

    try:
        # SES accepts ASCII local parts only, so internationalized local parts are refused here
        # rather than failing at delivery; ascii_email carries the IDNA form of the domain.
        result = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise InvalidRequest.for_field("destination", "must be an email address such as name@example.com") from None
    address = result.ascii_email or result.normalized
    local, _, domain = address.rpartition("@")
    address = f"{local}@{domain.lower()}"
    # Mail providers treat local parts case-insensitively, so Victim@ and victim@ are one mailbox:
    # keying on the folded form stops case changes from dodging every per-destination limit.
    # The message still goes to the address as written, for the rare server that does care.
    canonical = f"{local.casefold()}@{domain.lower()}"
    return Destination("email", address, mask_email(address), canonical=canonical)


def mask_phone(e164: str, country_code: int) -> str:
    prefix = f"+{country_code}"
    national = e164[len(prefix) :]
    keep = 4 if len(national) >= 8 else 2
    return prefix + "*" * (len(national) - keep) + national[-keep:]


def mask_email(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"
