"""What an SMS text may contain, and how many segments it costs at its worst.

An operator's ``OTP_SMS_TEMPLATE`` may hold exactly three placeholders, ``{code}`` (required, once),
``{brand}`` and ``{minutes}``, and no other brace at all: not ``{user}``, not ``{code:.3}``,
``{brand!r}`` or ``{code[0]}``, not ``{{``. Rendering substitutes by plain replacement, so even a
template that slipped past this check could not run a format spec; the check makes the mistake a
configuration error at start instead of a surprise in a user's phone.

Worst case, for the 3-segment limit of a template and the segment report of built-in languages: a
brand of 40 characters (the longest OTP_BRAND_NAME allows) unless the configured one is given, a
10-digit code, 2-digit minutes, an 11-character Android app hash and a 40-character WebOTP domain,
unless the configured ones are given.

Every built-in language stays within one segment with both autofill lines (an 11-character WebOTP
domain such as example.com), a 6-digit code and 2-digit minutes, for a plain brand of up to
``ONE_SEGMENT_BRAND_LENGTH`` characters; a longer brand pushes the languages
``languages_over_one_segment`` names into a second segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TEMPLATE_SEGMENTS = 3
WORST_BRAND = "W" * 40
WORST_CODE = "9" * 10
WORST_TTL_SECONDS = 3600  # 60 minutes: two digits
WORST_APP_HASH = "A" * 11
WORST_WEBOTP_DOMAIN = "a" * 28 + ".example.com"
# The longest plain (GSM-7) brand that keeps every built-in language at one segment with both
# autofill lines; tests/unit/test_messages.py recomputes it from the locale files.
ONE_SEGMENT_BRAND_LENGTH = 21

_BRACES = re.compile(r"\{[^{}]*\}|[{}]")
_ALLOWED = {"{code}", "{brand}", "{minutes}"}


def text_problem(text: str) -> str | None:
    """Why a text's placeholders are wrong, or None."""
    pieces = _BRACES.findall(text)
    wrong = sorted({piece for piece in pieces if piece not in _ALLOWED})
    if wrong:
        return (
            f"has {', '.join(wrong)}: the only placeholders are {{code}}, {{brand}} and {{minutes}}, "
            "with nothing else inside the braces, and no other brace"
        )
    count = pieces.count("{code}")
    if count != 1:
        return "must contain {code} exactly once" if count else "must contain {code}"
    return None


def template_problem(
    template: str,
    brand: str | None = None,
    webotp_domain: str | None = None,
    android_app_hash: str | None = None,
) -> str | None:
    """Why an operator's SMS template cannot be used, or None."""
    from otp.messages import render_sms

    problem = text_problem(template)
    if problem:
        return problem
    worst = render_sms(
        "en",
        WORST_CODE,
        brand or WORST_BRAND,
        WORST_TTL_SECONDS,
        template=template,
        webotp_domain=webotp_domain or WORST_WEBOTP_DOMAIN,
        android_app_hash=android_app_hash or WORST_APP_HASH,
    )
    if worst.segments > MAX_TEMPLATE_SEGMENTS:
        return (
            f"needs {worst.segments} SMS segments at worst ({worst.encoding}, with a {len(brand or WORST_BRAND)}"
            f"-character brand, a 10-digit code and both autofill lines); at most {MAX_TEMPLATE_SEGMENTS} are allowed"
        )
    return None


def languages_over_one_segment(
    brand: str,
    webotp_domain: str | None = None,
    android_app_hash: str | None = None,
    code_length: int = 6,
    ttl_seconds: int = WORST_TTL_SECONDS,
) -> dict[str, int]:
    """The built-in languages whose SMS needs more than one segment (at its worst, 2-digit minutes,
    unless the validity is given) with this brand, code length and these autofill lines, and how
    many segments each needs."""
    from otp.messages import catalog, render_sms

    over = {}
    for locale in sorted(catalog()):
        sms = render_sms(locale, "9" * code_length, brand, ttl_seconds, None, webotp_domain, android_app_hash)
        if sms.segments > 1:
            over[locale] = sms.segments
    return over


@dataclass(frozen=True)
class SegmentReport:
    """What a configuration costs in SMS segments across the built-in languages."""

    over: dict[str, int]  # the languages over one segment, with the segments each needs
    brand_length: int  # the longest start of the brand that keeps every language at one segment

    def warning(self, brand: str) -> str | None:
        """The start-up warning, naming no code and no destination; None when every language fits."""
        if not self.over:
            return None
        languages = ", ".join(f"{locale} ({segments} segments)" for locale, segments in self.over.items())
        return (
            f"OTP_BRAND_NAME ({len(brand)} characters) with these autofill lines puts {languages} over one SMS "
            f"segment, which bills each such SMS more than once; a brand of at most {self.brand_length} "
            "characters keeps every built-in language at one segment"
        )


def segment_report(
    brand: str,
    webotp_domain: str | None,
    android_app_hash: str | None,
    code_length: int,
    ttl_seconds: int = WORST_TTL_SECONDS,
) -> SegmentReport:
    """Every built-in language's SMS with this configuration, and the brand length that fits them all."""

    def over_with(name: str) -> dict[str, int]:
        return languages_over_one_segment(name, webotp_domain, android_app_hash, code_length, ttl_seconds)

    over = over_with(brand)
    length = len(brand)
    while over and length > 0 and over_with(brand[:length]):
        length -= 1
    return SegmentReport(over=over, brand_length=length)
