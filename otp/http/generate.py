"""The generate function's app: POST /generate."""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header

from otp.http.app import OtpResolver, create_resolver
from otp.http.body import JSON
from otp.http.caller import end_user_ip
from otp.http.generate_models import GENERATE_RESPONSES, GenerateRequest, GenerateResponse
from otp.http.models import IDEMPOTENCY_KEY_PATTERN
from otp.http.presenters import iso
from otp.observability import count, observe
from otp.use_cases.dependencies import GenerateDependencies
from otp.use_cases.issue_code import IssuedCode, IssueRequest, issue_code


def create_app(deps: GenerateDependencies) -> OtpResolver:
    app = create_resolver(cors_origins=deps.settings.cors_origins)

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
            end_user_ip=end_user_ip(app, request.client_ip, request.channel),
            locale=request.locale,
        )
        if key is None:
            return created(issue_code(deps, issue))
        # The record keeps a keyed fingerprint of the body, never the body: it holds the number.
        fingerprint = deps.digests.fingerprint(json.dumps(request.model_dump(), sort_keys=True))
        issued = deps.idempotency.once(key, fingerprint, lambda: issue_code(deps, issue), app.lambda_context)
        return created(issued)

    return app


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
