"""The verifications function's app: GET /verifications/{id} and POST /verifications/{id}/cancel."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from otp.http.app import OtpResolver, create_resolver
from otp.http.body import no_body
from otp.http.docs import CANCEL_VERIFICATION_RESPONSES, READ_VERIFICATION_RESPONSES
from otp.http.models import VerificationResponse
from otp.http.presenters import verification
from otp.use_cases.cancel_verification import cancel_verification
from otp.use_cases.dependencies import VerificationDependencies
from otp.use_cases.read_verification import read_verification


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
