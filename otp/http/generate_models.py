"""POST /generate's request and response bodies, and what the route answers in the OpenAPI document."""

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, Field

from otp.domain.destinations import Channel
from otp.http.docs import error_response, response
from otp.http.models import ClientIp, DestinationText, ErrorResponse, IsoTime, MaskedDestination, Purpose, Strict

if TYPE_CHECKING:  # the types only
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse


class GenerateRequest(Strict):
    channel: Annotated[
        Channel,
        Field(
            description=(
                "How to deliver the code: `sms` through Amazon SNS, End User Messaging SMS or Notify "
                "(the deployment's OTP_SMS_PROVIDER: sns, eum or notify); `voice` through End User "
                "Messaging (eum) or Notify; `whatsapp` through End User Messaging Social; `email` through "
                "Amazon SES. A channel the deployment has not configured is 400."
            )
        ),
    ]
    destination: DestinationText
    purpose: Purpose = "default"
    locale: Annotated[
        str | None,
        Field(
            max_length=64,
            description="BCP 47 language of the message (es, pt-BR, hi). The closest built-in language is used "
            "(pt-BR, then pt, then the service's default); a malformed tag is a 400.",
            examples=["pt-BR", "hi"],
        ),
    ] = None
    client_ip: ClientIp = None


class GenerateResponse(BaseModel):
    verification_id: str
    channel: Channel
    destination: MaskedDestination
    purpose: str
    expires_at: IsoTime
    expires_in: Annotated[int, Field(description="Seconds until the code expires.")]
    resend_after: Annotated[int, Field(description="Seconds until another code may be sent to this destination.")]
    locale: Annotated[str, Field(description="The language the message was written in.")]


GENERATE_RESPONSES: dict[int, "OpenAPIResponse"] = {
    201: response("The code was sent. The response never contains it.", GenerateResponse),
    400: error_response(
        "`invalid_request`: a field is missing, malformed or unknown (see `error.details`).", ErrorResponse
    ),
    403: error_response(
        "`destination_not_allowed` (with `reason`: country, number_type), or on open routes `origin_not_allowed`.",
        ErrorResponse,
    ),
    415: error_response("`unsupported_media_type`: open routes take application/json only.", ErrorResponse),
    409: error_response("`idempotency_conflict` or `request_in_progress` for this Idempotency-Key.", ErrorResponse),
    413: error_response("`payload_too_large`: the body is over 4 KiB.", ErrorResponse),
    429: error_response(
        "`rate_limited`: a send limit; `error.retry_after` repeats Retry-After, `error.reason` names the limit "
        "(cooldown, window, ip, failures_network, failures_destination).",
        ErrorResponse,
        True,
    ),
    500: error_response(
        "`internal_error`: an unexpected fault; `error.request_id` names it in the logs.", ErrorResponse
    ),
    502: error_response("`delivery_failed`: SNS or SES refused the message; no code is pending.", ErrorResponse),
    503: error_response("`service_unavailable`: KMS or DynamoDB failed after retries.", ErrorResponse, True),
}
