"""The text of delivered messages."""

from __future__ import annotations

import html
from dataclasses import dataclass


def validity_phrase(ttl_seconds: int) -> str:
    if ttl_seconds < 60:
        return f"{ttl_seconds} second{'s' if ttl_seconds != 1 else ''}"
    minutes = -(-ttl_seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def sms_text(code: str, brand: str, ttl_seconds: int) -> str:
    return (
        f"{code} is your {brand} verification code. It expires in {validity_phrase(ttl_seconds)}. "
        "Do not share it with anyone."
    )


@dataclass(frozen=True)
class EmailMessage:
    subject: str
    text: str
    html: str


def email_message(code: str, brand: str, ttl_seconds: int) -> EmailMessage:
    validity = validity_phrase(ttl_seconds)
    text = (
        f"Your {brand} verification code is {code}\n\n"
        f"It expires in {validity}. If you did not ask for it, ignore this email; "
        "never share the code with anyone.\n"
    )
    safe_brand = html.escape(brand)
    markup = (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<p>Your {safe_brand} verification code is</p>"
        f'<p style="font-size:28px;letter-spacing:4px"><strong>{code}</strong></p>'
        f"<p>It expires in {validity}. If you did not ask for it, ignore this email; "
        "never share the code with anyone.</p></body></html>"
    )
    return EmailMessage(subject=f"Your {brand} verification code", text=text, html=markup)
