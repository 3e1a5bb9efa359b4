"""The parts of what the routes answer that they share, for the OpenAPI document: each route's own
responses sit beside its models."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the types only: this module stays importable without Powertools
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

RETRY_AFTER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def response(description: str, model: type) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


def error_response(description: str, model: type, retry_after: bool = False) -> OpenAPIResponse:
    refusal = response(description, model)
    if retry_after:
        refusal["headers"] = RETRY_AFTER
    return refusal
