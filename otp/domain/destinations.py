"""Destination normalization, SMS fraud guards and masking."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from otp.domain.errors import DestinationNotAllowed, InvalidRequest

Channel = Literal["sms", "email"]

# Only these classes reliably receive SMS. Premium-rate, shared-cost, toll-free, VoIP, pager and
# UAN numbers are the usual targets of SMS pumping, and plain fixed lines cannot receive at all.
_SMS_CAPABLE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
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
        """The text every digest of this destination is taken over: one per real phone or mailbox."""
        return f"{self.channel}:{self.canonical or self.address}"


def normalize(channel: Channel, raw: str, allowed_countries: frozenset[str] | None = None) -> Destination:
    if channel == "sms":
        return normalize_phone(raw, allowed_countries)
    return normalize_email(raw)


def channel_of(raw: str) -> Channel:
    """How /verify tells the two apart: an address always has an @, a number never does."""
    return "email" if "@" in raw else "sms"


def normalize_phone(
    raw: str, allowed_countries: frozenset[str] | None = None, *, check_sms_capable: bool = True
) -> Destination:
    text = raw.strip()
    if not _PHONE_CHARACTERS.match(text):
        raise InvalidRequest.for_field(
            "destination", "must be a phone number in international format, starting with + and the country code"
        )
    try:
        number = phonenumbers.parse(text, None)
    except NumberParseException:
        raise InvalidRequest.for_field("destination", "is not a phone number") from None
    if not phonenumbers.is_valid_number(number) or number.country_code is None:
        raise InvalidRequest.for_field("destination", "is not a valid phone number")
    region = phonenumbers.region_code_for_number(number)
    if check_sms_capable and phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise DestinationNotAllowed("This number cannot receive SMS codes.")
    if allowed_countries is not None and region not in allowed_countries:
        raise DestinationNotAllowed("SMS codes are not sent to this country.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Destination("sms", e164, mask_phone(e164, number.country_code), region, canonical=e164)


def normalize_email(raw: str) -> Destination:
    # Imported here, on the first address: its regular expressions cost every cold start about
    # 40 ms, which SMS and verify-by-number requests never need.
    from email_validator import EmailNotValidError, validate_email

    try:
        # SES accepts ASCII local parts only, so internationalized local parts are refused here
        # rather than failing at delivery; ascii_email carries the IDNA form of the domain.
        result = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidRequest.for_field("destination", f"is not a valid email address: {exc}") from None
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
