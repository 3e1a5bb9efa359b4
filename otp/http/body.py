"""The contract's body rules, applied to an API Gateway HTTP API (payload 2.0) event before routing."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from otp.domain.errors import (
    InvalidRequest,
    OriginNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
)
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


def check_open_route(event: dict[str, Any], allowed_origins: frozenset[str]) -> None:
    """Open routes can be reached by any web page through its visitors' browsers ("Who is the caller").

    A form or text/plain POST needs no CORS preflight, so anything but JSON is refused before
    anything else; an Origin outside the configured ones is refused next. Under IAM a browser
    cannot sign, so neither check applies there.
    """
    if ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") is not None:
        return
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    has_body = bool((event.get("body") or "").strip())
    if method == "POST" and (media_type not in ("", JSON) or (media_type == "" and has_body)):
        raise UnsupportedMediaType()
    origin = headers.get("origin")
    if origin is not None and origin not in allowed_origins:
        raise OriginNotAllowed()


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
