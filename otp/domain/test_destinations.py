"""Test destinations (semantics 16): fixed codes for app-store review and smoke tests of a deployment.

A listed destination's code is stored and checked like any other; only its delivery is skipped,
and only until the list's expiry, which may lie at most 90 days ahead, so a forgotten list cannot
leave a fixed code working for good.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from otp.domain.destinations import Destination, normalize_email, normalize_phone
from otp.domain.errors import OtpError

VARIABLE = "OTP_TEST_DESTINATIONS"
UNTIL_VARIABLE = "OTP_TEST_DESTINATIONS_VALID_UNTIL"
MAX_VALIDITY = timedelta(days=90)


def _destination(text: str) -> Destination:
    try:
        return normalize_email(text) if "@" in text else normalize_phone(text, check_sms_capable=False)
    except OtpError:
        raise ValueError(f"{VARIABLE}: {text[:3]}… is not a valid phone number or email address") from None


def parse_entries(text: str) -> dict[str, str]:
    """``+14155552671=246810,qa@x.io=135790`` -> {destination identity: code}; an entry splits on its last =."""
    fixed: dict[str, str] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        destination, separator, code = entry.rpartition("=")
        if not separator or not destination.strip():
            raise ValueError(f"{VARIABLE}: each entry must be destination=code")
        fixed[_destination(destination.strip()).identity] = code.strip()
    return fixed


def check_test_settings(fixed: Mapping[str, str], valid_until: datetime | None, code_length: int) -> None:
    if not fixed:
        return
    wrong = [code for code in fixed.values() if not re.fullmatch(rf"[0-9]{{{code_length}}}", code)]
    if wrong:
        raise ValueError(f"{VARIABLE}: every code must be a string of {code_length} digits (OTP_CODE_LENGTH)")
    if valid_until is None:
        raise ValueError(f"{UNTIL_VARIABLE}: is required with {VARIABLE} (an ISO 8601 UTC time)")
    if valid_until.tzinfo is None or valid_until.utcoffset() != timedelta(0):
        raise ValueError(f"{UNTIL_VARIABLE}: must be a UTC time, such as 2026-12-31T23:00:00Z")
    if valid_until - datetime.fromtimestamp(time.time(), UTC) > MAX_VALIDITY:
        raise ValueError(f"{UNTIL_VARIABLE}: must be at most 90 days from now")


def fixed_code(
    fixed: Mapping[str, str], valid_until: datetime | None, destination: Destination, now: int
) -> str | None:
    """The destination's fixed code while the list is valid; None for every other destination or later."""
    if not fixed or valid_until is None or now >= valid_until.timestamp():
        return None
    return fixed.get(destination.identity)
