"""What each route answers, for the OpenAPI document the resolver generates from the models."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the types only: this module stays importable without Powertools
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

from otp.http.models import ErrorResponse, GenerateResponse, VerificationResponse, VerifyErrorResponse, VerifyResponse

_RETRY_AFTER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _error(description: str, model: type, retry_after: bool = False) -> OpenAPIResponse:
    response: OpenAPIResponse = {"description": description, "content": {"application/json": {"model": model}}}
    if retry_after:
        response["headers"] = _RETRY_AFTER
    return response


GENERATE_RESPONSES: dict[int, OpenAPIResponse] = {
    201: {
        "description": "The code was sent. The response never contains it.",
        "content": {"application/json": {"model": GenerateResponse}},
    },
    400: _error("`invalid_request`: a field is missing, malformed or unknown (see `error.details`).", ErrorResponse),
    403: _error(
        "`destination_not_allowed` (with `reason`: country, number_type), or on open routes `origin_not_allowed`.",
        ErrorResponse,
    ),
    415: _error("`unsupported_media_type`: open routes take application/json only.", ErrorResponse),
    409: _error("`idempotency_conflict` or `request_in_progress` for this Idempotency-Key.", ErrorResponse),
    413: _error("`payload_too_large`: the body is over 4 KiB.", ErrorResponse),
    429: _error(
        "`rate_limited`: a send limit; `error.retry_after` repeats Retry-After, `error.reason` names the limit "
        "(cooldown, window, ip, failures_network, failures_destination).",
        ErrorResponse,
        True,
    ),
    500: _error("`internal_error`: an unexpected fault; `error.request_id` names it in the logs.", ErrorResponse),
    502: _error("`delivery_failed`: SNS or SES refused the message; no code is pending.", ErrorResponse),
    503: _error("`service_unavailable`: KMS or DynamoDB failed after retries.", ErrorResponse, True),
}

VERIFY_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The code is right; it is now used up.",
        "content": {"application/json": {"model": VerifyResponse}},
    },
    400: _error("`invalid_request`: malformed; a malformed code costs no attempt.", VerifyErrorResponse),
    403: _error(
        "`invalid_code`: wrong code; `error.attempts_remaining` after this attempt. On open routes also "
        "`origin_not_allowed`.",
        VerifyErrorResponse,
    ),
    415: _error("`unsupported_media_type`: open routes take application/json only.", VerifyErrorResponse),
    404: _error("`not_found`: nothing pending (never sent, used, superseded or purged).", VerifyErrorResponse),
    410: _error("`expired`: the code's validity has passed.", VerifyErrorResponse),
    413: _error("`payload_too_large`: the body is over 4 KiB.", VerifyErrorResponse),
    429: _error("`too_many_attempts`: the attempt limit is spent; generate a new code.", VerifyErrorResponse),
    500: _error("`internal_error`: an unexpected fault; `error.request_id` names it in the logs.", VerifyErrorResponse),
    503: _error("`service_unavailable`: KMS or DynamoDB failed after retries.", VerifyErrorResponse, True),
}

_VERIFICATION_ERRORS: dict[int, OpenAPIResponse] = {
    400: _error(
        "`invalid_request`: the id is malformed (or, on cancel, the body is not empty or `{}`).", ErrorResponse
    ),
    404: _error("`not_found`: no verification has this id, or its record has been purged.", ErrorResponse),
    500: _error("`internal_error`: an unexpected fault; `error.request_id` names it in the logs.", ErrorResponse),
    503: _error("`service_unavailable`: DynamoDB failed after retries.", ErrorResponse, True),
}

READ_VERIFICATION_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The verification's state. Reading never costs an attempt or changes anything.",
        "content": {"application/json": {"model": VerificationResponse}},
    },
    **_VERIFICATION_ERRORS,
}

CANCEL_VERIFICATION_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "Canceled (also when it already was): its code no longer verifies.",
        "content": {"application/json": {"model": VerificationResponse}},
    },
    409: _error(
        "`not_pending`: approved, expired, out of attempts or superseded; `error.status` says which.", ErrorResponse
    ),
    **_VERIFICATION_ERRORS,
}
