"""A small typed Python client for the OTP service. Its only dependency is botocore.

from otp_client import OtpClient, InvalidCode

otp = OtpClient("https://abc123.execute-api.ap-south-1.amazonaws.com")
sent = otp.generate("sms", "+919876543210", client_ip=user_ip)
try:
    otp.verify("+919876543210", typed_code, verification_id=sent.verification_id, client_ip=user_ip)
except InvalidCode as wrong:
    print(wrong.attempts_remaining)
"""

from otp_client.client import OtpClient
from otp_client.errors import (
    DeliveryFailed,
    DestinationNotAllowed,
    Expired,
    FieldProblem,
    Forbidden,
    IdempotencyConflict,
    InternalError,
    InvalidCode,
    InvalidRequest,
    NoAnswer,
    NotFound,
    NotPending,
    OriginNotAllowed,
    OtpError,
    PayloadTooLarge,
    RateLimited,
    RequestInProgress,
    ServiceUnavailable,
    Throttled,
    TooManyAttempts,
    UnexpectedResponse,
    UnsupportedMediaType,
)
from otp_client.models import Generated, Verification, Verified

__all__ = [
    "DeliveryFailed",
    "DestinationNotAllowed",
    "Expired",
    "FieldProblem",
    "Forbidden",
    "Generated",
    "IdempotencyConflict",
    "InternalError",
    "InvalidCode",
    "InvalidRequest",
    "NoAnswer",
    "NotFound",
    "NotPending",
    "OriginNotAllowed",
    "OtpClient",
    "OtpError",
    "PayloadTooLarge",
    "RateLimited",
    "RequestInProgress",
    "ServiceUnavailable",
    "Throttled",
    "TooManyAttempts",
    "UnexpectedResponse",
    "UnsupportedMediaType",
    "Verification",
    "Verified",
]
