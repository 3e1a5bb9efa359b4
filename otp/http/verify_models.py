"""POST /verify's request and response bodies, and what the route answers in the OpenAPI document."""

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field

from otp.domain.destinations import Channel
from otp.http.docs import error_response, response
from otp.http.models import VERIFICATION_ID_TEXT, ClientIp, DestinationText, ErrorDetail, Purpose, Strict

if TYPE_CHECKING:  # the types only
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse


class VerifyRequest(Strict):
    destination: DestinationText
    purpose: Purpose = "default"
    code: Annotated[
        str, Field(min_length=1, max_length=64, description="The digits received; surrounding white space is ignored.")
    ]
    verification_id: Annotated[
        str | None,
        Field(
            pattern=VERIFICATION_ID_TEXT,
            description="When given, it must name the pending code (else 404, and no attempt is spent).",
        ),
    ] = None
    client_ip: ClientIp = None


class VerifyResponse(BaseModel):
    verified: Literal[True]
    verification_id: str
    channel: Channel
    destination: str
    purpose: str


class VerifyErrorResponse(BaseModel):
    error: ErrorDetail
    verified: Literal[False]


VERIFY_RESPONSES: dict[int, "OpenAPIResponse"] = {
    200: response("The code is right; it is now used up.", VerifyResponse),
    400: error_response("`invalid_request`: malformed; a malformed code costs no attempt.", VerifyErrorResponse),
    403: error_response(
        "`invalid_code`: wrong code; `error.attempts_remaining` after this attempt. On open routes also "
        "`origin_not_allowed`.",
        VerifyErrorResponse,
    ),
    415: error_response("`unsupported_media_type`: open routes take application/json only.", VerifyErrorResponse),
    404: error_response("`not_found`: nothing pending (never sent, used, superseded or purged).", VerifyErrorResponse),
    410: error_response("`expired`: the code's validity has passed.", VerifyErrorResponse),
    413: error_response("`payload_too_large`: the body is over 4 KiB.", VerifyErrorResponse),
    429: error_response("`too_many_attempts`: the attempt limit is spent; generate a new code.", VerifyErrorResponse),
    500: error_response(
        "`internal_error`: an unexpected fault; `error.request_id` names it in the logs.", VerifyErrorResponse
    ),
    503: error_response("`service_unavailable`: KMS or DynamoDB failed after retries.", VerifyErrorResponse, True),
}
