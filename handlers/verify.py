"""POST /verify: check a submitted code once, before it expires, within the attempt limits."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths

from otp.api_docs import VERIFY_RESPONSES
from otp.config import load_settings
from otp.destinations import channel_of
from otp.http import build_app, serve, verified
from otp.models import VerifyRequest, VerifyResponse
from otp.observability import logger, metrics
from otp.runtime import verify_dependencies
from otp.use_cases.check_code import CheckRequest, check_code

settings = load_settings()
deps = verify_dependencies(settings)
app = build_app(errors_say_unverified=True)


@app.post("/verify", summary="Check a one-time code", responses=VERIFY_RESPONSES)
def verify(request: Annotated[VerifyRequest, Body()]) -> Response[VerifyResponse]:
    app.append_context(channel=channel_of(request.destination))
    check = CheckRequest(request.destination, request.code, request.purpose, request.verification_id)
    return verified(check_code(deps, check))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return serve(app, event, context)
