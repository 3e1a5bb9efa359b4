"""The HTTP edge shared by both functions: body handling, error bodies, metrics.

Handlers build their resolver with ``build_app`` and hand every event to ``serve``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel

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
from otp.models import MAX_BODY_BYTES, GenerateResponse, VerificationResponse, VerifyResponse
from otp.observability import count, error_metric, logger, metric_for, observe

if TYPE_CHECKING:  # each function imports only its own use cases
    from otp.use_cases.check_code import VerifiedCode
    from otp.use_cases.issue_code import IssuedCode
    from otp.use_cases.read_verification import VerificationView

JSON = "application/json"


class OtpResolver(APIGatewayHttpResolver):
    """A resolver whose error bodies carry ``"verified": false`` when its routes are /verify's."""

    def __init__(self, *, errors_say_unverified: bool = False) -> None:
        super().__init__(enable_validation=True)
        self.errors_say_unverified = errors_say_unverified

    @property
    def channel(self) -> str:
        """The metrics dimension: set by each route with ``append_context(channel=...)``."""
        return str(self.context.get("channel", "unknown"))

    def error_response(self, error: OtpError) -> Response:
        body: dict[str, Any] = {"error": {"code": error.code, "message": error.message, **error.extra()}}
        if self.errors_say_unverified:
            body["verified"] = False
        return Response(status_code=error.status, content_type=JSON, body=json.dumps(body), headers=error.headers())


def build_app(*, errors_say_unverified: bool = False) -> OtpResolver:
    app = OtpResolver(errors_say_unverified=errors_say_unverified)

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
        parsed = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError):
        raise InvalidRequest.for_field("body", "is not valid JSON") from None
    if not isinstance(parsed, dict):
        # An array holding a valid object is not a request, whatever it holds.
        raise InvalidRequest.for_field("body", "must be a JSON object")
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


def _refuse(app: OtpResolver, error: OtpError) -> Response:
    names = [error_metric(error.code)]
    if isinstance(error, DeliveryFailed):
        names.insert(0, "CodeGenerated")
    if isinstance(error, RateLimited):
        names += [metric_for(limit) for limit in error.limits]
    count(app.channel, *names)
    return app.error_response(error)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _json(status: int, model: BaseModel) -> Response:
    # The typed route (-> Response[Model]) validates and serializes the model, and documents it.
    return Response(status_code=status, content_type=JSON, body=model)


def created(issued: IssuedCode) -> Response:
    count(issued.channel, *(("IdempotentReplay",) if issued.replayed else ("CodeGenerated", "CodeDelivered")))
    if issued.sms_segments is not None and not issued.replayed:
        observe(issued.channel, "SmsSegments", issued.sms_segments)
    return _json(
        201,
        GenerateResponse(
            verification_id=issued.verification_id,
            channel=issued.channel,
            destination=issued.masked_destination,
            purpose=issued.purpose,
            expires_at=_iso(issued.expires_at),
            expires_in=issued.expires_in,
            resend_after=issued.resend_after,
            locale=issued.locale,
        ),
    )


def verified(result: VerifiedCode) -> Response:
    count(result.channel, "CodeVerified")
    return _json(
        200,
        VerifyResponse(
            verified=True,
            verification_id=result.verification_id,
            channel=result.channel,
            destination=result.masked_destination,
            purpose=result.purpose,
        ),
    )


def verification(view: VerificationView, metric: str) -> Response:
    count(view.channel, metric)
    return _json(
        200,
        VerificationResponse(
            verification_id=view.verification_id,
            status=view.status,
            channel=view.channel,
            destination=view.masked_destination,
            purpose=view.purpose,
            attempts_remaining=view.attempts_remaining,
            created_at=_iso(view.created_at),
            expires_at=_iso(view.expires_at),
            resend_available_at=_iso(view.resend_available_at),
        ),
    )


def no_body(app: OtpResolver) -> None:
    """For routes that take none: nothing, or an empty JSON object."""
    text = (app.current_event.body or "").strip()
    if text and json.loads(text):
        raise InvalidRequest.for_field("body", "must be empty or {}")


def end_user_ip(app: OtpResolver, client_ip: str | None) -> str | None:
    """Whose address the per-IP limit counts (see "Who is the caller" in the README).

    Behind IAM the caller is the customer's backend, so its source address is the same for every
    user; only the ``client_ip`` it copies from the end user's request means anything. With open
    routes anyone could forge ``client_ip``, so the connection's own address is used instead.
    """
    request_context = app.current_event.raw_event.get("requestContext") or {}
    if (request_context.get("authorizer") or {}).get("iam") is None:
        return app.current_event.request_context.http.source_ip
    if client_ip is None:
        count(app.channel, "EndUserIpMissing")
    return client_ip
