"""Which registered WhatsApp template language a message uses.

OTP_WHATSAPP_LANGUAGES names the languages the business registered its authentication template
in, as WhatsApp spells them (``en_US``, ``pt_BR``, ``hi``). A request's locale picks the same
language and region, else the same language without a region, else the same language in the first
region listed, else the first language listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_REGION = re.compile(r"^([A-Za-z]{2}|[0-9]{3})$")


def _split(tag: str) -> tuple[str, str | None]:
    parts = re.split(r"[-_]", tag)
    region = next((part.upper() for part in parts[1:] if _REGION.match(part)), None)
    return parts[0].lower(), region


def whatsapp_language(locale: str, configured: Sequence[str]) -> tuple[str, str]:
    """(the WhatsApp code, the same as a BCP 47 tag): ``("pt_BR", "pt-BR")``."""
    if not configured:
        raise ValueError("no WhatsApp template language is configured")
    wanted_language, wanted_region = _split(locale)
    options = [(code, *_split(code)) for code in configured]
    same_language = [option for option in options if option[1] == wanted_language]
    exact = [option for option in same_language if option[2] == wanted_region]
    regionless = [option for option in same_language if option[2] is None]
    code, language, region = (exact or regionless or same_language or options)[0]
    return code, f"{language}-{region}" if region else language
