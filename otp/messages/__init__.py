"""The messages people receive: built-in texts per language, templates, autofill lines, SMS segments.

Each language is one JSON file in ``locales/`` (``pt.json``, or ``pt-BR.json`` for a regional
variant) with the keys ``sms``, ``email_subject``, ``email_lead`` and ``email_note``; placeholders
are ``{code}``, ``{brand}`` and ``{minutes}``. Adding or editing a language touches no code.
"""

from __future__ import annotations

import functools
import html
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

LOCALES = Path(__file__).resolve().parent / "locales"
PLACEHOLDERS = frozenset({"code", "brand", "minutes"})
_KEYS = ("sms", "email_subject", "email_lead", "email_note")
# A well-formed primary language subtag; langcodes parses the rest of the tag.
_LANGUAGE = re.compile(r"^[a-z]{2,8}$")
_TAG_CHARACTERS = re.compile(r"^[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8})*$")

Encoding = Literal["GSM-7", "UCS-2"]


class MalformedLocale(ValueError):
    """The tag is not BCP 47 at all (an unknown but well-formed tag is not an error: it falls back)."""


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    """Every built-in language, by its file name; read once per container."""
    texts = {}
    for path in sorted(LOCALES.glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        missing = [key for key in _KEYS if key not in entries]
        if missing:
            raise ValueError(f"{path.name}: missing {', '.join(missing)}")
        texts[path.stem] = {key: entries[key] for key in _KEYS}
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
    if parsed.language is None or not _LANGUAGE.match(parsed.language):
        raise MalformedLocale(tag)
    available = catalog()
    candidates = [f"{parsed.language}-{parsed.territory}"] if parsed.territory else []
    candidates.append(parsed.language)
    return next((candidate for candidate in candidates if candidate in available), default)


def template_problem(template: str) -> str | None:
    """Why an operator's SMS template cannot be used, or None."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"is not a valid template: {exc}"
    unknown = sorted({name for name in fields if name not in PLACEHOLDERS})
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        return f"has unknown placeholder(s) {names}; use {{code}}, {{brand}}, {{minutes}}"
    if "code" not in fields:
        return "must contain {code}"
    return None


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
    the WICG "SMS one-time codes" format requires to be last."""
    text = (template or catalog()[locale]["sms"]).format(code=code, brand=brand, minutes=minutes_of(ttl_seconds))
    lines = [text]
    if android_app_hash:
        lines.append(android_app_hash)
    if webotp_domain:
        lines.append(f"@{webotp_domain} #{code}")
    body = "\n".join(lines)
    encoding, segments = segments_of(body)
    return Sms(body, encoding, segments)


@dataclass(frozen=True)
class EmailMessage:
    subject: str
    text: str
    html: str


def render_email(locale: str, code: str, brand: str, ttl_seconds: int) -> EmailMessage:
    texts = catalog()[locale]
    values = {"code": code, "brand": brand, "minutes": minutes_of(ttl_seconds)}
    lead, note = texts["email_lead"].format(**values), texts["email_note"].format(**values)
    escaped = {key: html.escape(str(value)) for key, value in values.items()}
    markup = (
        f'<!doctype html><html lang="{html.escape(locale)}"><body style="font-family:sans-serif">'
        f"<p>{html.escape(texts['email_lead']).format(**escaped)}</p>"
        f'<p style="font-size:28px;letter-spacing:4px"><strong>{escaped["code"]}</strong></p>'
        f"<p>{html.escape(texts['email_note']).format(**escaped)}</p></body></html>"
    )
    return EmailMessage(
        subject=texts["email_subject"].format(**values),
        text=f"{lead} {code}\n\n{note}\n",
        html=markup,
    )
