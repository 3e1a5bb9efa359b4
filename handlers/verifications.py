"""GET /verifications/{id} and POST /verifications/{id}/cancel: one verification's state, and its end."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

from otp.api_docs import CANCEL_VERIFICATION_RESPONSES, READ_VERIFICATION_RESPONSES
from otp.config import load_settings
from otp.http import build_app, no_body, serve, verification
from otp.models import VerificationResponse
from otp.observability import logger, metrics
from otp.runtime import verification_dependencies
from otp.use_cases.cancel_verification import cancel_verification
from otp.use_cases.read_verification import read_verification

settings = load_settings()
deps = verification_dependencies(settings)
app = build_app()


@app.get("/verifications/<verification_id>", summary="Read one verification", responses=READ_VERIFICATION_RESPONSES)
def read(verification_id: str) -> Response[VerificationResponse]:
    return verification(read_verification(deps, verification_id), "VerificationRead")


@app.post(
    "/verifications/<verification_id>/cancel",
    summary="Cancel one verification",
    responses=CANCEL_VERIFICATION_RESPONSES,
)
def cancel(verification_id: str) -> Response[VerificationResponse]:
    no_body(app)
    return verification(cancel_verification(deps, verification_id), "VerificationCanceled")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return serve(app, event, context)
