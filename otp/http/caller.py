"""Who the caller is: whose address the per-IP limit may count (contract, "Who is the caller")."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from otp.observability import count


def is_iam_authorized(app: APIGatewayHttpResolver) -> bool:
    request_context = app.current_event.raw_event.get("requestContext") or {}
    return (request_context.get("authorizer") or {}).get("iam") is not None


def end_user_ip(app: APIGatewayHttpResolver, client_ip: str | None, channel: str) -> str | None:
    """Behind IAM the caller is the customer's backend, so its source address is the same for every
    user; only the ``client_ip`` it copies from the end user's request means anything. With open
    routes anyone could forge ``client_ip``, so the connection's own address is used instead."""
    if not is_iam_authorized(app):
        return str(app.current_event.request_context.http.source_ip)
    if client_ip is None:
        count(channel, "EndUserIpMissing")
    return client_ip
