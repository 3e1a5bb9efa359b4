"""One exception per error code of the service's contract, with the fields the contract gives it.

Every refusal is an `OtpError` carrying `status`, `code`, `message` and `request_id`; the
subclasses add what their code carries (`attempts_remaining`, `retry_after`, `reason`, `status`
of a finished verification, `details`). API Gateway's own IAM refusal (`{"message": ...}`, sent
before the service runs) is `Forbidden`; an answer that is neither shape is `UnexpectedResponse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldProblem:
    """One entry of an `invalid_request`'s `details`."""

    field: str
    message: str


class OtpError(Exception):
    """The service (or the gateway in front of it) refused the request."""

    code: ClassVar[str] = "unknown"

    def __init__(
        self, http_status: int, message: str, body: dict[str, Any] | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(f"{http_status} {self.code}: {message}")
        self.http_status = http_status
        self.message = message
        self.body = body or {}
        self.request_id = request_id
        self.retry_after: int | None = _whole(self.body.get("retry_after"))


class InvalidRequest(OtpError):
    code = "invalid_request"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.details = [
            FieldProblem(str(item.get("field", "")), str(item.get("message", "")))
            for item in self.body.get("details") or []
            if isinstance(item, dict)
        ]


class OriginNotAllowed(OtpError):
    code = "origin_not_allowed"


class DestinationNotAllowed(OtpError):
    code = "destination_not_allowed"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason: str | None = self.body.get("reason")  # country, number_type or fraud_suspected


class InvalidCode(OtpError):
    code = "invalid_code"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempts_remaining: int | None = _whole(self.body.get("attempts_remaining"))


class NotFound(OtpError):
    code = "not_found"


class Expired(OtpError):
    code = "expired"


class IdempotencyConflict(OtpError):
    code = "idempotency_conflict"


class RequestInProgress(OtpError):
    code = "request_in_progress"


class NotPending(OtpError):
    code = "not_pending"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status: str | None = self.body.get("status")  # approved, expired, max_attempts_reached, superseded


class PayloadTooLarge(OtpError):
    code = "payload_too_large"


class UnsupportedMediaType(OtpError):
    code = "unsupported_media_type"


class RateLimited(OtpError):
    """A send limit. Retry after `retry_after` seconds if the user asks again; the client does not."""

    code = "rate_limited"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason: str | None = self.body.get("reason")  # cooldown, window, ip, failures_network, ...


class TooManyAttempts(OtpError):
    code = "too_many_attempts"


class DeliveryFailed(OtpError):
    """The provider refused the message; no code is pending. A new /generate is a new send."""

    code = "delivery_failed"


class ServiceUnavailable(OtpError):
    code = "service_unavailable"


class InternalError(OtpError):
    code = "internal_error"


class Forbidden(OtpError):
    """API Gateway's IAM authorizer refused the signature (`{"message": ...}`), before the service ran."""

    code = "forbidden"


class Throttled(OtpError):
    """API Gateway's stage throttling (429 `{"message": "Too Many Requests"}`): the service never ran."""

    code = "throttled"


class UnexpectedResponse(OtpError):
    """An answer in neither of the contract's error shapes (a proxy's HTML page, an unknown code...)."""

    code = "unexpected_response"


class NoAnswer(Exception):
    """The request got no answer (connection refused, reset, or timed out), after any retry allowed."""


ERRORS_BY_CODE: dict[str, type[OtpError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest,
        OriginNotAllowed,
        DestinationNotAllowed,
        InvalidCode,
        NotFound,
        Expired,
        IdempotencyConflict,
        RequestInProgress,
        NotPending,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
        TooManyAttempts,
        DeliveryFailed,
        ServiceUnavailable,
        InternalError,
    )
}


# API Gateway's `{"message": ...}` answers by status.
GATEWAY_ERRORS: dict[int, type[OtpError]] = {
    403: Forbidden,
    429: Throttled,
    500: InternalError,
    503: ServiceUnavailable,
}


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def error_from_answer(http_status: int, headers: dict[str, str], parsed: Any) -> OtpError:
    """The exception for a non-2xx answer, from either error shape."""
    request_id = headers.get("apigw-requestid")
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        body = parsed["error"]
        cls = ERRORS_BY_CODE.get(str(body.get("code")), UnexpectedResponse)
        error = cls(http_status, str(body.get("message", "")), body, body.get("request_id") or request_id)
    elif isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        # API Gateway's own answers. A 404 here is a route the gateway lacks (a wrong endpoint),
        # not the service's not_found, so it stays unexpected.
        cls = GATEWAY_ERRORS.get(http_status, UnexpectedResponse)
        error = cls(http_status, parsed["message"], parsed, request_id)
    else:
        error = UnexpectedResponse(http_status, "The answer is not the service's JSON.", None, request_id)
    if error.retry_after is None:
        error.retry_after = _whole(headers.get("retry-after"))
    return error
