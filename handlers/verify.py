"""POST /verify: check a submitted code once, before it expires, within the attempt limit."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths

from otp.api_docs import VERIFY_RESPONSES
from otp.config import load_settings
from otp.destinations import channel_of
from otp.http import build_app, serve, verified
from otp.models import VerifyRequest
from otp.observability import logger, metrics
from otp.runtime import verify_service

settings = load_settings()
service = verify_service(settings)
app = build_app("verify")


@app.post("/verify", summary="Check a one-time code", responses=VERIFY_RESPONSES)
def verify(request: Annotated[VerifyRequest, Body()]):
    app.channel = channel_of(request.destination)
    return verified(service.verify(request.destination, request.purpose, request.code, request.verification_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return serve(app, event, context)
