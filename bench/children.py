"""Fresh Python processes for cold starts: bench/first_request.py, run with the emulator's settings."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from bench.context import DESTINATION, LIMITS_OFF, ROOT, Bench
from bench.service import Handlers


@dataclass(frozen=True)
class FirstRequest:
    ms: float
    status: int | None
    clients: list[str]
    stderr: str  # what -X importtime writes, among others


def first_request(
    bench: Bench,
    kind: str,
    which: str,
    body: dict[str, Any],
    *interpreter_options: str,
    settings: dict[str, str] | None = None,
) -> FirstRequest:
    """One fresh process that imports ``which`` handler (or the floor, for ``kind`` "floor") and serves ``body``.

    ``settings`` go on top of the benchmark's (a provider's, for bench/provider_cold_start.py).
    """
    result = subprocess.run(
        [sys.executable, *interpreter_options, "-m", "bench.first_request", kind, which, json.dumps(body)],
        cwd=ROOT,
        env=bench.child_env(bench.settings({**LIMITS_OFF, **(settings or {})})),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return FirstRequest(float(answer["ms"]), answer.get("status"), list(answer["clients"]), result.stderr)


def request_body(bench: Bench, handlers: Handlers, which: str, purpose: str) -> dict[str, Any]:
    """A first request that succeeds: a generate, or a verify of a code sent just now."""
    if which == "generate":
        return {"channel": "sms", "destination": DESTINATION, "purpose": purpose}
    return bench.pending_code(handlers, purpose)
