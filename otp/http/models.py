"""What the routes' bodies share, as pydantic models: field types and the error body.

Each route's own request and response models sit in its module (generate_models, verify_models,
verification_models), so a function builds only its own at cold start. The handlers validate with
them, and the OpenAPI document is generated from them.
"""

import ipaddress
from typing import Annotated

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


# Fields the responses share, described once.
MaskedDestination = Annotated[str, Field(description="Masked, e.g. +91******3210 or a***@example.com.")]
IsoTime = Annotated[str, Field(description="ISO 8601, UTC.")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


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
