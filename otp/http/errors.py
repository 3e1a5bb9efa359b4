"""Domain errors and validation failures, as the contract's error bodies, in the project's own words."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from otp.domain.errors import DeliveryFailed, DestinationNotAllowed, FieldProblem, InvalidRequest, OtpError, RateLimited
from otp.observability import count, error_metric, metric_for

JSON = "application/json"
_HEADER_NAMES = {"idempotency-key": "Idempotency-Key"}
# What a field must be, where a pattern alone would only say that it did not match.
_PATTERN_MEANS = {
    "purpose": "must be 1 to 32 lower-case letters, digits, '_', '.' or '-', starting with a letter or digit",
    "verification_id": "must be a verification id returned by /generate",
    "Idempotency-Key": "must be 1 to 128 printable ASCII characters",
}


def body_of(error: OtpError, *, says_unverified: bool) -> str:
    body: dict[str, Any] = {"error": {"code": error.code, "message": error.message, **error.extra()}}
    if says_unverified:
        body["verified"] = False
    return json.dumps(body, ensure_ascii=False)


def metrics_of(error: OtpError) -> list[str]:
    """What one refusal counts: its error code, and for a rate limit each reason that refused."""
    names = [error_metric(error.code)]
    if isinstance(error, DeliveryFailed):
        names.insert(0, "CodeGenerated")
    if isinstance(error, RateLimited):
        names += [metric_for(reason) for reason in error.reasons]
    if isinstance(error, DestinationNotAllowed) and error.reason == "fraud_suspected":
        names.append("PumpingSendRefused")
    return names


def count_refusal(channel: str, error: OtpError) -> None:
    count(channel, *metrics_of(error))


def invalid_request(errors: Iterable[Mapping[str, Any]]) -> InvalidRequest:
    """pydantic's validation errors, each as a field and a short lower-case sentence of what it must be."""
    problems = []
    for error in errors:
        where, *location = error.get("loc", ()) or ("body",)
        if where == "header":
            field = _HEADER_NAMES.get(str(location[0]), str(location[0]))
        else:
            field = ".".join(str(part) for part in location if not isinstance(part, int)) or "body"
        problems.append(FieldProblem(field, _sentence(field, error)))
    return InvalidRequest(problems)


def _sentence(field: str, error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "json_invalid":
        return "must be valid JSON"
    if kind == "missing":
        return "must be a JSON object" if field == "body" else "is required"
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a JSON object"
    if kind == "string_type":
        return "must be a string"
    if kind == "string_too_short" or kind == "string_too_long":
        limit = context.get("max_length") if kind == "string_too_long" else context.get("min_length")
        return f"must be {'at most' if kind == 'string_too_long' else 'at least'} {limit} characters"
    if kind == "string_pattern_mismatch":
        return _PATTERN_MEANS.get(field, "has characters that are not allowed here")
    if kind == "literal_error":
        return f"must be one of {context.get('expected', 'the documented values')}".replace("'", '"')
    if kind == "value_error" and "error" in context:
        return str(context["error"])
    return "is not valid"
