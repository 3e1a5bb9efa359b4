"""The verifications function's app: GET /verifications/{id} and POST /verifications/{id}/cancel."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from otp.http.app import OtpResolver, create_resolver
from otp.http.body import JSON, no_body
from otp.http.presenters import iso
from otp.http.verification_models import (
    CANCEL_VERIFICATION_RESPONSES,
    READ_VERIFICATION_RESPONSES,
    VerificationResponse,
)
from otp.observability import count
from otp.use_cases.cancel_verification import cancel_verification
from otp.use_cases.dependencies import VerificationDependencies
from otp.use_cases.read_verification import read_verification
from otp.use_cases.verification_view import VerificationView


def create_app(deps: VerificationDependencies) -> OtpResolver:
    app = create_resolver(cors_origins=deps.settings.cors_origins)

    @app.get("/verifications/<verification_id>", summary="Read one verification", responses=READ_VERIFICATION_RESPONSES)
    def read(verification_id: str) -> Response[VerificationResponse]:
        return verification(read_verification(deps, verification_id), "VerificationRead")

    @app.post(
        "/verifications/<verification_id>/cancel",
        summary="Cancel one verification",
        responses=CANCEL_VERIFICATION_RESPONSES,
    )
    def cancel(verification_id: str) -> Response[VerificationResponse]:
        no_body(app.current_event.body)
        return verification(cancel_verification(deps, verification_id), "VerificationCanceled")

    return app


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
