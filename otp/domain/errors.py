"""Domain errors, one per error code of the HTTP contract.

Each carries its HTTP status and the extra body fields the contract defines, so the HTTP layer
maps any of them to a response without knowing them one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class OtpError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "The service failed unexpectedly."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def extra(self) -> dict[str, Any]:
        """Contract fields beside code and message."""
        return {}

    def headers(self) -> dict[str, str]:
        return {}


class InternalError(OtpError):
    """An unexpected fault; ``request_id`` names it in the logs."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        super().__init__()

    def extra(self) -> dict[str, Any]:
        return {"request_id": self.request_id}


class InvalidRequest(OtpError):
    status = 400
    code = "invalid_request"
    default_message = "The request is not valid."

    def __init__(self, problems: list[FieldProblem], message: str | None = None) -> None:
        self.problems = problems
        super().__init__(message)

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidRequest:
        return cls([FieldProblem(field, message)])

    def extra(self) -> dict[str, Any]:
        return {"details": [{"field": p.field, "message": p.message} for p in self.problems]}


class DestinationNotAllowed(OtpError):
    status = 403
    code = "destination_not_allowed"
    default_message = "Codes cannot be sent to this destination."

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason  # country, number_type or fraud_suspected
        super().__init__(message)

    def extra(self) -> dict[str, Any]:
        return {"reason": self.reason}


class InvalidCode(OtpError):
    status = 403
    code = "invalid_code"
    default_message = "The code is not correct."

    def __init__(self, attempts_remaining: int) -> None:
        self.attempts_remaining = attempts_remaining
        super().__init__()

    def extra(self) -> dict[str, Any]:
        return {"attempts_remaining": self.attempts_remaining}


class NotFound(OtpError):
    status = 404
    code = "not_found"
    # One message for every case, so the answer reveals no more than that nothing is pending.
    default_message = (
        "No code is pending for this destination and purpose: it was used, replaced, canceled or never sent."
    )


class IdempotencyConflict(OtpError):
    status = 409
    code = "idempotency_conflict"
    default_message = "This Idempotency-Key was already used with a different request body."


class RequestInProgress(OtpError):
    status = 409
    code = "request_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed."


class Expired(OtpError):
    status = 410
    code = "expired"
    default_message = "The code has expired. Request a new one."


class OriginNotAllowed(OtpError):
    status = 403
    code = "origin_not_allowed"
    default_message = "Requests from this web origin are not allowed."


class UnsupportedMediaType(OtpError):
    status = 415
    code = "unsupported_media_type"
    default_message = "The body must be sent as application/json."


class PayloadTooLarge(OtpError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is larger than 4 KiB."


class _RetryLater(OtpError):
    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(_RetryLater):
    status = 429
    code = "rate_limited"
    default_message = "Too many codes were requested. Try again later."
    # What each reason means to the person waiting, and when they can try again.
    _SAYS = {
        "cooldown": "A code was sent to this destination moments ago",
        "window": "Too many codes were sent to this destination recently",
        "ip": "Too many codes were requested from this network",
        "failures_network": "Too many wrong codes for this destination came from this network",
        "failures_destination": "Too many wrong codes were entered for this destination",
    }

    def __init__(self, retry_after: int, reasons: tuple[str, ...] = ()) -> None:
        self.reasons = reasons  # the binding one first; all of them in logs and metrics
        self.reason = reasons[0] if reasons else "window"
        seconds = max(1, int(retry_after))
        says = self._SAYS.get(self.reason, "Too many codes were requested")
        super().__init__(retry_after, f"{says}. A new code can be sent in {seconds} s.")

    def extra(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after, "reason": self.reason}


class TooManyAttempts(OtpError):
    status = 429
    code = "too_many_attempts"
    default_message = "Too many wrong attempts. Request a new code."


class DeliveryFailed(OtpError):
    status = 502
    code = "delivery_failed"
    default_message = "The message could not be delivered. No code is pending."


class ServiceUnavailable(_RetryLater):
    status = 503
    code = "service_unavailable"
    default_message = "A dependency is unavailable. Try again shortly."

    def __init__(self, retry_after: int = 2, message: str | None = None) -> None:
        super().__init__(retry_after, message)


class ConfigurationError(ValueError):
    """An OTP_* variable is missing or out of range; raised at cold start."""


class NotPending(OtpError):
    status = 409
    code = "not_pending"
    default_message = "The verification is no longer pending."

    def __init__(self, status: str) -> None:
        self.verification_status = status
        super().__init__(f"The verification is {status.replace('_', ' ')}; only a pending one can be canceled.")

    def extra(self) -> dict[str, Any]:
        return {"status": self.verification_status}
