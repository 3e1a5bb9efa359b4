"""The contract's body rules, applied to an API Gateway HTTP API (payload 2.0) event before routing."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from otp.domain.errors import InvalidRequest, PayloadTooLarge
from otp.http.models import MAX_BODY_BYTES

JSON = "application/json"


def prepare(event: dict[str, Any]) -> dict[str, Any]:
    """The body is JSON whatever the Content-Type says (so ``curl -d`` works), base64 bodies are
    decoded here, and anything over 4 KiB or not UTF-8 is refused before any parsing."""
    raw = _raw_body(event)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest.for_field("body", "must be UTF-8 encoded JSON") from None
    try:
        # Parsed here first because 4 KiB of brackets nest deeper than the decoder recurses.
        parsed = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError):
        raise InvalidRequest.for_field("body", "must be valid JSON") from None
    if not isinstance(parsed, dict):
        # An array holding a valid object is not a request, whatever it holds.
        raise InvalidRequest.for_field("body", "must be a JSON object")
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    headers["content-type"] = JSON
    return {**event, "headers": headers, "body": text, "isBase64Encoded": False}


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    try:
        if body is None:
            return b""
        if event.get("isBase64Encoded"):
            return base64.b64decode(body, validate=True)
        return str(body).encode("utf-8")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidRequest.for_field("body", "must be valid base64 of UTF-8 JSON") from None


def no_body(text: str | None) -> None:
    """For routes that take none: nothing, or an empty JSON object."""
    stripped = (text or "").strip()
    if stripped and json.loads(stripped):
        raise InvalidRequest.for_field("body", "must be empty or {}")
