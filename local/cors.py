"""CORS as API Gateway answers it when the deployment sets CORS origins (serverless.yml's CorsConfiguration).

API Gateway answers a preflight itself, before any function runs, and adds the allow-origin header
to the functions' answers for a configured origin. The runner does the same from the same
configuration, so a page on an allowed origin can call the open routes, and one on any other
origin gets no CORS headers: its browser then withholds the answer and sends no preflighted request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cors:
    origins: frozenset[str]
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    max_age: int

    def preflight(self, method: str, request: Mapping[str, str]) -> dict[str, str] | None:
        """The headers of the 204 answer to a preflight, or None when the request is not one.

        A preflight from an origin, method or header set outside the configuration is answered
        without CORS headers, which the browser reads as a refusal.
        """
        origin = request.get("origin")
        wanted = request.get("access-control-request-method")
        if method != "OPTIONS" or not self.origins or origin is None or wanted is None:
            return None
        asked = {name.strip().lower() for name in request.get("access-control-request-headers", "").split(",")}
        if origin not in self.origins or wanted.upper() not in self.methods or not asked - {""} <= set(self.headers):
            return {}
        return {
            **self.allow(request),
            "Access-Control-Allow-Methods": ",".join(self.methods),
            "Access-Control-Allow-Headers": ",".join(self.headers),
            "Access-Control-Max-Age": str(self.max_age),
        }

    def allow(self, request: Mapping[str, str]) -> dict[str, str]:
        """The headers API Gateway adds to a function's answer: only for a configured origin."""
        origin = request.get("origin")
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin in self.origins else {}


def from_config(config: dict[str, Any], origins: frozenset[str]) -> Cors:
    """The CORS rules of serverless.yml's HttpApi, with the origins the runner was given (OTP_CORS_ORIGINS)."""
    resources = config.get("resources", {}).get("extensions", {})
    configured = resources["HttpApi"]["Properties"]["CorsConfiguration"]["!If"][1]
    return Cors(
        origins=origins,
        methods=tuple(str(m).upper() for m in configured["AllowMethods"]),
        headers=tuple(str(h).lower() for h in configured["AllowHeaders"]),
        max_age=int(configured["MaxAge"]),
    )
