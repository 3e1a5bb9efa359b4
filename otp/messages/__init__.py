"""The messages people receive: built-in texts per language, templates, autofill lines, SMS segments.

Each language is one JSON file in ``locales/`` (``pt.json``, or ``pt-BR.json`` for a regional
variant) with the keys ``sms``, ``email_subject``, ``email_lead`` and ``email_note``, and optionally
``sms_shorter`` (shorter SMS texts, tried in order when ``sms`` would need a second segment) and
``voice`` (what a call says, and the voice that says it: see ``otp.messages.voice``). Placeholders
are ``{code}``, ``{brand}`` and ``{minutes}``, substituted by plain replacement, never by
``str.format``. Adding or editing a language touches no code.
"""

from __future__ import annotations

import functools
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

LOCALES = Path(__file__).resolve().parent / "locales"
PLACEHOLDERS = frozenset({"code", "brand", "minutes"})
_KEYS = ("sms", "email_subject", "email_lead", "email_note")
_PLACEHOLDER = re.compile(r"\{(code|brand|minutes)\}")
# A well-formed primary language subtag; langcodes parses the rest of the tag.
_LANGUAGE = re.compile(r"^[a-z]{2,8}$")
_TAG_CHARACTERS = re.compile(r"^[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8})*$")

Encoding = Literal["GSM-7", "UCS-2"]


class MalformedLocale(ValueError):
    """The tag is not BCP 47 at all (an unknown but well-formed tag is not an error: it falls back)."""


def substitute(template: str, **values: object) -> str:
    """Fill {code}, {brand} and {minutes} in one pass: a value is never scanned again, so a brand
    that reads "{code}" stays as it is, and no format spec or attribute access can ever run."""
    return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), template)


@functools.cache
def catalog() -> dict[str, dict[str, Any]]:
    """Every built-in language, by its file name; read and checked once per container."""
    from otp.messages.templates import text_problem

    texts = {}
    for path in sorted(LOCALES.glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        missing = [key for key in _KEYS if key not in entries]
        if missing:
            raise ValueError(f"{path.name}: missing {', '.join(missing)}")
        for text in (entries["sms"], *entries.get("sms_shorter", [])):
            problem = text_problem(text)
            if problem:
                raise ValueError(f"{path.name}: an SMS text {problem}")
        texts[path.stem] = {key: entries[key] for key in (*_KEYS, "sms_shorter", "voice") if key in entries}
    return texts


def resolve_locale(tag: str | None, default: str) -> str:
    """The closest language the service has: pt-BR, then pt, then the default."""
    if tag is None:
        return default
    if not _TAG_CHARACTERS.match(tag):
        raise MalformedLocale(tag)  # en_US and the like: BCP 47 separates subtags with hyphens only
    import langcodes  # only requests that name a locale pay for it

    try:
        parsed = langcodes.Language.get(tag, normalize=False)
    except (langcodes.LanguageTagError, ValueError):
        raise MalformedLocale(tag) from None
    if parsed.language is None or parsed.language.startswith("x-") or "-" in parsed.language:
        # Well-formed, and no language the service has: `und` (undetermined), a private-use tag
        # (`x-klingon`) or a grandfathered one (`i-klingon`, `zh-min-nan`) falls back.
        return default
    if not _LANGUAGE.match(parsed.language):
        raise MalformedLocale(tag)
    available = catalog()
    candidates = [f"{parsed.language}-{parsed.territory}"] if parsed.territory else []
    candidates.append(parsed.language)
    return next((candidate for candidate in candidates if candidate in available), default)


@dataclass(frozen=True)
class Sms:
    text: str
    encoding: Encoding
    segments: int


def segments_of(text: str) -> tuple[Encoding, int]:
    """How a carrier bills the text: GSM 03.38 septets when every character has one, else UCS-2."""
    import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

    try:
        septets = len(text.encode("gsm03.38"))  # characters of the extension table take two
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        return "UCS-2", 1 if units <= 70 else -(-units // 67)
    return "GSM-7", 1 if septets <= 160 else -(-septets // 153)


def minutes_of(ttl_seconds: int) -> int:
    return max(1, -(-ttl_seconds // 60))


def render_sms(
    locale: str,
    code: str,
    brand: str,
    ttl_seconds: int,
    template: str | None = None,
    webotp_domain: str | None = None,
    android_app_hash: str | None = None,
) -> Sms:
    """The SMS: the text, then the Android app hash on its own line, then the WebOTP line, which
    the WICG "SMS one-time codes" format requires to be last.

    A built-in language uses its full text when that fits one segment, else the first of its
    shorter texts that does (else the shortest); a configured template is used as it is.
    """
    texts = [template] if template else [catalog()[locale]["sms"], *catalog()[locale].get("sms_shorter", [])]
    candidates = [
        _with_autofill(
            substitute(text, code=code, brand=brand, minutes=minutes_of(ttl_seconds)),
            code,
            webotp_domain,
            android_app_hash,
        )
        for text in texts
    ]
    rendered = [Sms(body, *segments_of(body)) for body in candidates]
    return next((sms for sms in rendered if sms.segments == 1), min(rendered, key=lambda sms: sms.segments))


def _with_autofill(text: str, code: str, webotp_domain: str | None, android_app_hash: str | None) -> str:
    lines = [text]
    if android_app_hash:
        lines.append(android_app_hash)
    if webotp_domain:
        lines.append(f"@{webotp_domain} #{code}")
    return "\n".join(lines)


@dataclass(frozen=True)
class EmailMessage:
    subject: str
    text: str
    html: str


def render_email(locale: str, code: str, brand: str, ttl_seconds: int) -> EmailMessage:
    texts = catalog()[locale]
    values = {"code": code, "brand": brand, "minutes": minutes_of(ttl_seconds)}
    lead, note = substitute(texts["email_lead"], **values), substitute(texts["email_note"], **values)
    escaped = {key: html.escape(str(value)) for key, value in values.items()}
    markup = (
        f'<!doctype html><html lang="{html.escape(locale)}"><body style="font-family:sans-serif">'
        f"<p>{substitute(html.escape(texts['email_lead']), **escaped)}</p>"
        f'<p style="font-size:28px;letter-spacing:4px"><strong>{escaped["code"]}</strong></p>'
        f"<p>{substitute(html.escape(texts['email_note']), **escaped)}</p></body></html>"
    )
    return EmailMessage(
        subject=substitute(texts["email_subject"], **values),
        text=f"{lead} {code}\n\n{note}\n",
        html=markup,
    )


# The rules for operator templates, the segment report, voice and WhatsApp: stable names here.
from otp.messages.templates import (  # noqa: E402
    ONE_SEGMENT_BRAND_LENGTH,
    languages_over_one_segment,
    template_problem,
)
from otp.messages.voice import Voice, render_voice, voice_language  # noqa: E402
from otp.messages.whatsapp import whatsapp_language  # noqa: E402

__all__ = [
    "LOCALES",
    "ONE_SEGMENT_BRAND_LENGTH",
    "PLACEHOLDERS",
    "EmailMessage",
    "Encoding",
    "MalformedLocale",
    "Sms",
    "Voice",
    "catalog",
    "languages_over_one_segment",
    "minutes_of",
    "render_email",
    "render_sms",
    "render_voice",
    "resolve_locale",
    "segments_of",
    "substitute",
    "template_problem",
    "voice_language",
    "whatsapp_language",
]
