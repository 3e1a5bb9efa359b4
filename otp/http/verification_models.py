"""The verification resource's body (GET /verifications/{id} and its cancel), and what both routes
answer in the OpenAPI document."""

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field

from otp.domain.destinations import Channel
from otp.http.docs import error_response, response
from otp.http.models import ErrorResponse, IsoTime, MaskedDestination

if TYPE_CHECKING:  # the types only
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse


class VerificationResponse(BaseModel):
    verification_id: str
    status: Annotated[
        Literal["pending", "approved", "expired", "max_attempts_reached", "superseded", "canceled"],
        Field(description="What ended the verification first, or `pending` while its code can still verify."),
    ]
    channel: Channel
    destination: MaskedDestination
    purpose: str
    attempts_remaining: Annotated[int, Field(description="0 once the attempts are spent; frozen once not pending.")]
    created_at: IsoTime
    expires_at: IsoTime
    resend_available_at: Annotated[
        str,
        Field(
            description="ISO 8601, UTC: the earliest moment a new /generate for this destination passes its "
            "cooldown, send window and failure bound. It may be in the past."
        ),
    ]


_VERIFICATION_ERRORS: dict[int, "OpenAPIResponse"] = {
    400: error_response(
        "`invalid_request`: the id is malformed (or, on cancel, the body is not empty or `{}`).", ErrorResponse
    ),
    404: error_response("`not_found`: no verification has this id, or its record has been purged.", ErrorResponse),
    500: error_response(
        "`internal_error`: an unexpected fault; `error.request_id` names it in the logs.", ErrorResponse
    ),
    503: error_response("`service_unavailable`: DynamoDB failed after retries.", ErrorResponse, True),
}

READ_VERIFICATION_RESPONSES: dict[int, "OpenAPIResponse"] = {
    200: response(
        "The verification's state. Reading never costs an attempt or changes anything.", VerificationResponse
    ),
    **_VERIFICATION_ERRORS,
}

CANCEL_VERIFICATION_RESPONSES: dict[int, "OpenAPIResponse"] = {
    200: response("Canceled (also when it already was): its code no longer verifies.", VerificationResponse),
    409: error_response(
        "`not_pending`: approved, expired, out of attempts or superseded; `error.status` says which.", ErrorResponse
    ),
    **_VERIFICATION_ERRORS,
}
