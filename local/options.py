"""What `make run` reads from its environment, checked before anything starts."""

from __future__ import annotations

import os
from typing import Any

from local import sigv4

DEFAULT_EMAIL_SENDER = "otp@example.com"


# Every channel is on in `make run`, delivered by the local End User Messaging emulation.
LOCAL_CHANNELS = {
    "OTP_VOICE_PROVIDER": "eum",
    "OTP_VOICE_ORIGINATION_IDENTITY": "+12065550100",
    "OTP_WHATSAPP_PHONE_NUMBER_ID": "phone-number-id-0123456789abcdef0123456789abcdef",
    "OTP_WHATSAPP_LANGUAGES": "en_US,es,pt_BR,fr,de,it,id,hi",
}


def options() -> tuple[int, int, bool, Any, Any]:
    """PORT, LOCAL_WORKERS, OPEN_ENDPOINTS, SIGV4 and the OTP_* settings; raises ValueError naming the problem."""
    from otp.config import load_settings, sender_problem
    from otp.domain.errors import ConfigurationError

    try:
        port = int(os.environ.get("PORT", "3000"))
        workers = int(os.environ.get("LOCAL_WORKERS", "4"))
    except ValueError:
        raise ValueError("PORT and LOCAL_WORKERS must be whole numbers") from None
    open_endpoints = os.environ.get("OPEN_ENDPOINTS", "false").strip().lower()
    if open_endpoints not in ("true", "false"):
        raise ValueError("OPEN_ENDPOINTS must be true or false")
    signing = sigv4.from_environment(os.environ)  # before AWS_REGION is pointed at the emulator
    os.environ.setdefault("OTP_EMAIL_SENDER", DEFAULT_EMAIL_SENDER)
    for name, value in LOCAL_CHANNELS.items():
        os.environ.setdefault(name, value)
    try:
        settings = load_settings(require_kms_key=False)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    problem = sender_problem(settings.email_sender) if settings.email_sender else None
    if problem:
        raise ValueError(f"invalid configuration: {problem}")
    return port, workers, open_endpoints == "true", signing, settings


def schedule_seconds() -> float | None:
    """LOCAL_SCHEDULE_SECONDS: the stream consumer's scheduled runs this often instead of its own rate."""
    given = os.environ.get("LOCAL_SCHEDULE_SECONDS", "").strip()
    if not given:
        return None
    try:
        seconds = float(given)
    except ValueError:
        seconds = 0.0
    if not 0.1 <= seconds <= 86400:
        raise ValueError("LOCAL_SCHEDULE_SECONDS must be a number of seconds from 0.1 to 86400")
    return seconds
