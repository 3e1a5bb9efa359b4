"""The resolver each function's app is built on: error mapping, the transport rules, the entry point."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths

from otp.domain.errors import InternalError, NotFound, OtpError
from otp.http.body import JSON, check_open_route, prepare
from otp.http.errors import body_of, count_refusal, invalid_request
from otp.observability import logger, metrics

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class OtpResolver(APIGatewayHttpResolver):
    """A resolver whose error bodies carry ``"verified": false`` when its routes are /verify's."""

    def __init__(self, *, errors_say_unverified: bool = False, cors_origins: frozenset[str] = frozenset()) -> None:
        # Powertools keeps the event being resolved on its base class and the routing context on the
        # app. Lambda resolves one event per process at a time, but a threaded host (the integration
        # tests race handlers in threads) resolves several: without this, a cancel reads a concurrent
        # verify's body, and one request's end clears another's context.
        self._resolving = threading.local()
        super().__init__(enable_validation=True)
        self.errors_say_unverified = errors_say_unverified
        self.cors_origins = cors_origins

    @property
    def current_event(self) -> Any:  # type: ignore[override]
        return self._resolving.event

    @property
    def lambda_context(self) -> Any:  # type: ignore[override]
        return self._resolving.lambda_context

    @property
    def context(self) -> dict[str, Any]:
        if not hasattr(self._resolving, "context"):
            self._resolving.context = {}
        return self._resolving.context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._resolving.context = value

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        self._resolving.event = self._to_proxy_event(event)
        self._resolving.lambda_context = context
        return super().resolve(event, context)

    @property
    def channel(self) -> str:
        """The metrics dimension: set by each route with ``append_context(channel=...)``."""
        return str(self.context.get("channel", "unknown"))

    def refuse(self, error: OtpError) -> Response:
        count_refusal(self.channel, error)
        return Response(
            status_code=error.status,
            content_type=JSON,
            body=body_of(error, says_unverified=self.errors_say_unverified),
            headers=error.headers(),
        )


def create_resolver(*, errors_say_unverified: bool = False, cors_origins: frozenset[str] = frozenset()) -> OtpResolver:
    app = OtpResolver(errors_say_unverified=errors_say_unverified, cors_origins=cors_origins)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        if any(tuple(error.get("loc") or ())[:1] == ("response",) for error in exc.errors()):
            # Powertools reports an answer that fails its own model this way too: our fault, not the caller's.
            logger.error("response failed its model", extra={"problems": [e.get("loc") for e in exc.errors()]})
            return app.refuse(InternalError(app.lambda_context.aws_request_id))
        return app.refuse(invalid_request(exc.errors()))

    @app.exception_handler(OtpError)
    def _domain_error(exc: OtpError) -> Response:
        return app.refuse(exc)

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected failure")
        return app.refuse(InternalError(app.lambda_context.aws_request_id))

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return app.refuse(NotFound("No such route."))

    return app


def serve(app: OtpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway HTTP API (payload 2.0) event."""
    try:
        check_open_route(event, app.cors_origins)
        prepared = prepare(event)
    except OtpError as error:
        response = app.refuse(error)
        # Refused before routing, so shaped here the way the resolver shapes payload 2.0 results.
        return {
            "statusCode": response.status_code,
            "headers": {
                "Content-Type": JSON,
                **{k: str(v) for k, v in response.headers.items() if k != "Content-Type"},
            },
            "body": response.body,
            "isBase64Encoded": False,
            "cookies": [],
        }
    return app.resolve(prepared, context)


def lambda_entry(app: OtpResolver) -> LambdaHandler:
    """The function's handler: structured logs with the request's correlation id, metrics flushed per call."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return serve(app, event, context)

    return lambda_handler
