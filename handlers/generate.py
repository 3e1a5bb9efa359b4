"""POST /generate: issue a code and deliver it by SMS or email."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths

from otp.api_docs import GENERATE_RESPONSES
from otp.config import load_settings
from otp.http import build_app, created, end_user_ip, serve
from otp.models import IDEMPOTENCY_KEY_PATTERN, GenerateRequest, GenerateResponse
from otp.observability import logger, metrics
from otp.runtime import generate_dependencies
from otp.use_cases.issue_code import IssueRequest, issue_code

settings = load_settings()
deps = generate_dependencies(settings)
app = build_app()


@app.post("/generate", summary="Send a one-time code by SMS or email", responses=GENERATE_RESPONSES)
def generate(
    request: Annotated[GenerateRequest, Body()],
    key: Annotated[str | None, Header(alias="idempotency-key", pattern=IDEMPOTENCY_KEY_PATTERN)] = None,
) -> Response[GenerateResponse]:
    app.append_context(channel=request.channel)
    issue = IssueRequest(
        request.channel,
        request.destination,
        request.purpose,
        end_user_ip=end_user_ip(app, request.client_ip),
        locale=request.locale,
    )
    if key is None:
        return created(issue_code(deps, issue))
    # Imported on first use: Powertools idempotency adds about 100 ms to every cold start otherwise.
    from otp.aws.idempotency import generate_idempotently

    return created(generate_idempotently(deps, key, request.model_dump(), issue, app.lambda_context))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return serve(app, event, context)
