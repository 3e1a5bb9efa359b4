"""The HTTP edge shared by both functions: body handling, error bodies, metrics.

Handlers build their resolver with ``build_app`` and hand every event to ``serve``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from otp.errors import (
    DeliveryFailed,
    FieldProblem,
    InternalError,
    InvalidRequest,
    NotFound,
    OtpError,
    PayloadTooLarge,
    RateLimited,
)
from otp.models import MAX_BODY_BYTES
from otp.observability import count, logger
from otp.service import IssuedCode, VerifiedCode

JSON = "application/json"


class OtpResolver(APIGatewayHttpResolver):
    """A resolver that knows whether its error bodies carry ``"verified": false``."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(enable_validation=True)
        self.endpoint = endpoint
        self.channel = "unknown"

    def error_response(self, error: OtpError) -> Response:
        body: dict[str, Any] = {"error": {"code": error.code, "message": error.message, **error.extra()}}
        if self.endpoint == "verify":
            body["verified"] = False
        return Response(status_code=error.status, content_type=JSON, body=json.dumps(body), headers=error.headers())


def build_app(endpoint: str) -> OtpResolver:
    app = OtpResolver(endpoint)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        return _refuse(app, _as_invalid_request(exc.errors()))

    @app.exception_handler(OtpError)
    def _domain_error(exc: OtpError) -> Response:
        return _refuse(app, exc)

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected failure")
        return _refuse(app, InternalError(app.lambda_context.aws_request_id))

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return app.error_response(NotFound("No such route."))

    return app


def serve(app: OtpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway HTTP API (payload 2.0) event."""
    app.channel = "unknown"
    try:
        prepared = _prepare(event)
    except OtpError as error:
        response = _refuse(app, error)
        # Refused before routing, so shaped here the way the resolver shapes payload 2.0 results.
        return {
            "statusCode": response.status_code,
            "headers": {
                "Content-Type": JSON,
                **{k: str(v) for k, v in response.headers.items() if k != "Content-Type"},
            },
            "body": response.body,
            "isBase64Encoded": False,
            "cookies": [],
        }
    return app.resolve(prepared, context)


def _prepare(event: dict[str, Any]) -> dict[str, Any]:
    """Apply the contract's body rules before routing.

    The body is JSON whatever the Content-Type says (so ``curl -d`` works), base64 bodies are
    decoded here, and anything over 4 KiB or not UTF-8 is refused before any parsing.
    """
    body = event.get("body")
    try:
        if body is None:
            raw = b""
        elif event.get("isBase64Encoded"):
            raw = base64.b64decode(body, validate=True)
        else:
            raw = body.encode("utf-8")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidRequest.for_field("body", "is not valid base64 or UTF-8") from None
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest.for_field("body", "must be UTF-8 encoded JSON") from None
    try:
        # Parsed here first because 4 KiB of brackets nest deeper than the decoder recurses.
        json.loads(text or "null")
    except (ValueError, RecursionError):
        raise InvalidRequest.for_field("body", "is not valid JSON") from None
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    headers["content-type"] = JSON
    return {**event, "headers": headers, "body": text, "isBase64Encoded": False}


_HEADER_NAMES = {"idempotency-key": "Idempotency-Key"}


def _as_invalid_request(errors: Any) -> InvalidRequest:
    problems = []
    for error in errors:
        where, *location = error.get("loc", ()) or ("body",)
        if error.get("type") == "json_invalid":
            problems.append(FieldProblem("body", "is not valid JSON"))
            continue
        if where == "header":
            problems.append(FieldProblem(_HEADER_NAMES.get(str(location[0]), str(location[0])), error.get("msg", "")))
            continue
        field = ".".join(str(part) for part in location if not isinstance(part, int)) or "body"
        message = error.get("msg", "is not valid")
        if error.get("type") == "missing" and field == "body":
            message = "must be a JSON object"
        problems.append(FieldProblem(field, message))
    return InvalidRequest(problems)


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _refuse(app: OtpResolver, error: OtpError) -> Response:
    names = [_camel(error.code)]
    if isinstance(error, DeliveryFailed):
        names.insert(0, "CodeGenerated")
    if isinstance(error, RateLimited):
        names += [f"RateLimitedBy{_camel(limit)}" for limit in error.limits]
    count(app.channel, *names)
    return app.error_response(error)


def created(issued: IssuedCode) -> Response:
    body = {
        "verification_id": issued.verification_id,
        "channel": issued.channel,
        "destination": issued.masked_destination,
        "purpose": issued.purpose,
        "expires_at": datetime.fromtimestamp(issued.expires_at, UTC).isoformat().replace("+00:00", "Z"),
        "expires_in": issued.expires_in,
        "resend_after": issued.resend_after,
    }
    count(issued.channel, *(("IdempotentReplay",) if issued.replayed else ("CodeGenerated", "CodeDelivered")))
    return Response(status_code=201, content_type=JSON, body=json.dumps(body))


def verified(result: VerifiedCode) -> Response:
    body = {
        "verified": True,
        "verification_id": result.verification_id,
        "channel": result.channel,
        "destination": result.masked_destination,
        "purpose": result.purpose,
    }
    count(result.channel, "CodeVerified")
    return Response(status_code=200, content_type=JSON, body=json.dumps(body))
