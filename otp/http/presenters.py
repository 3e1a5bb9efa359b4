"""A use case's result as the contract's response body, with the metric that counts it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response

from otp.http.body import JSON
from otp.http.models import GenerateResponse, VerificationResponse, VerifyResponse
from otp.observability import count, observe

if TYPE_CHECKING:  # each function imports only its own use cases
    from otp.use_cases.check_code import VerifiedCode
    from otp.use_cases.issue_code import IssuedCode
    from otp.use_cases.verification_view import VerificationView


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def created(issued: IssuedCode) -> Response[GenerateResponse]:
    if issued.replayed:
        count(issued.channel, "IdempotentReplay")
    else:
        count(issued.channel, "CodeGenerated", "TestDestinationUsed" if issued.test_destination else "CodeDelivered")
    if issued.sms_segments is not None and not issued.replayed:
        observe(issued.channel, "SmsSegments", issued.sms_segments)
    body = GenerateResponse(
        verification_id=issued.verification_id,
        channel=issued.channel,
        destination=issued.masked_destination,
        purpose=issued.purpose,
        expires_at=iso(issued.expires_at),
        expires_in=issued.expires_in,
        resend_after=issued.resend_after,
        locale=issued.locale,
    )
    return Response(status_code=201, content_type=JSON, body=body)


def verified(result: VerifiedCode) -> Response[VerifyResponse]:
    count(result.channel, "CodeVerified")
    body = VerifyResponse(
        verified=True,
        verification_id=result.verification_id,
        channel=result.channel,
        destination=result.masked_destination,
        purpose=result.purpose,
    )
    return Response(status_code=200, content_type=JSON, body=body)


def verification(view: VerificationView, metric: str) -> Response[VerificationResponse]:
    count(view.channel, metric)
    body = VerificationResponse(
        verification_id=view.verification_id,
        status=view.status,
        channel=view.channel,
        destination=view.masked_destination,
        purpose=view.purpose,
        attempts_remaining=view.attempts_remaining,
        created_at=iso(view.created_at),
        expires_at=iso(view.expires_at),
        resend_available_at=iso(view.resend_available_at),
    )
    return Response(status_code=200, content_type=JSON, body=body)
