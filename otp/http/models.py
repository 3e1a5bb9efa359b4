"""Request and response bodies of the HTTP contract, as pydantic models.

The handlers validate with these, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

PURPOSE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"
MAX_BODY_BYTES = 4096
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,128}$"  # 1 to 128 printable ASCII characters
# What may stand where an id goes: anything else is a 400; a well-formed id that names nothing is a 404.
VERIFICATION_ID_TEXT = r"^[A-Za-z0-9_.-]{1,128}$"

Purpose = Annotated[
    str,
    Field(pattern=PURPOSE_PATTERN, description="What the code is for; a code never verifies another purpose."),
]
DestinationText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=320,
        description="A phone number with its country code (normalized to E.164), or an email address.",
        examples=["+14155552671", "ada@example.com"],
    ),
]


def _an_ip_address(value: str | None) -> str | None:
    if value is not None:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("must be an IPv4 or IPv6 address") from None
    return value


ClientIp = Annotated[
    str | None,
    Field(
        max_length=64,
        description="The end user's IP address, copied by your backend from the user's request. Counts for the "
        "per-IP send limit and the per-network failure bound when the request is IAM-signed; ignored when the "
        "routes are open.",
        examples=["203.0.113.7", "2001:db8::1"],
    ),
    AfterValidator(_an_ip_address),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class GenerateRequest(_Strict):
    channel: Annotated[
        Literal["sms", "voice", "whatsapp", "email"],
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


class VerifyRequest(_Strict):
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


class GenerateResponse(BaseModel):
    verification_id: str
    channel: Literal["sms", "voice", "whatsapp", "email"]
    destination: Annotated[str, Field(description="Masked, e.g. +91******3210 or a***@example.com.")]
    purpose: str
    expires_at: Annotated[str, Field(description="ISO 8601, UTC.")]
    expires_in: Annotated[int, Field(description="Seconds until the code expires.")]
    resend_after: Annotated[int, Field(description="Seconds until another code may be sent to this destination.")]
    locale: Annotated[str, Field(description="The language the message was written in.")]


class VerifyResponse(BaseModel):
    verified: Literal[True]
    verification_id: str
    channel: Literal["sms", "voice", "whatsapp", "email"]
    destination: str
    purpose: str


class FieldProblemBody(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    details: list[FieldProblemBody] | None = None
    attempts_remaining: int | None = None
    retry_after: int | None = None
    request_id: str | None = None
    status: Annotated[str | None, Field(description="With `not_pending`: the verification's status.")] = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class VerifyErrorResponse(BaseModel):
    error: ErrorDetail
    verified: Literal[False]


class VerificationResponse(BaseModel):
    verification_id: str
    status: Annotated[
        Literal["pending", "approved", "expired", "max_attempts_reached", "superseded", "canceled"],
        Field(description="What ended the verification first, or `pending` while its code can still verify."),
    ]
    channel: Literal["sms", "voice", "whatsapp", "email"]
    destination: Annotated[str, Field(description="Masked, e.g. +91******3210 or a***@example.com.")]
    purpose: str
    attempts_remaining: Annotated[int, Field(description="0 once the attempts are spent; frozen once not pending.")]
    created_at: Annotated[str, Field(description="ISO 8601, UTC.")]
    expires_at: Annotated[str, Field(description="ISO 8601, UTC.")]
    resend_available_at: Annotated[
        str,
        Field(
            description="ISO 8601, UTC: the earliest moment a new /generate for this destination passes its "
            "cooldown, send window and failure bound. It may be in the past."
        ),
    ]
