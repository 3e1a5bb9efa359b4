"""The verify function's app: POST /verify."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from otp.domain.destinations import channel_of
from otp.http.app import OtpResolver, create_resolver
from otp.http.body import JSON
from otp.http.caller import end_user_ip
from otp.http.verify_models import VERIFY_RESPONSES, VerifyRequest, VerifyResponse
from otp.observability import count
from otp.use_cases.check_code import CheckRequest, VerifiedCode, check_code
from otp.use_cases.dependencies import VerifyDependencies


def create_app(deps: VerifyDependencies) -> OtpResolver:
    app = create_resolver(errors_say_unverified=True, cors_origins=deps.settings.cors_origins)

    @app.post("/verify", summary="Check a one-time code", responses=VERIFY_RESPONSES)
    def verify(request: Annotated[VerifyRequest, Body()]) -> Response[VerifyResponse]:
        channel = channel_of(request.destination)
        app.append_context(channel=channel)
        check = CheckRequest(
            request.destination,
            request.code,
            request.purpose,
            request.verification_id,
            end_user_ip=end_user_ip(app, request.client_ip, channel),
        )
        return verified(check_code(deps, check))

    return app


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
