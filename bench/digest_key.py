"""The digest key per container: the keyed-digest secret costs one KMS call on a container's first request."""

from __future__ import annotations

from bench.context import LIMITS_OFF, Bench, wrong_code
from bench.report import Section, prose
from bench.service import captured_output, load_handlers, recording_calls

DESTINATION = "+447400123456"
REQUESTS = 3


def measure(bench: Bench) -> Section:
    handlers = load_handlers(bench.settings(LIMITS_OFF))
    counts: dict[str, list[int]] = {"generate": [], "verify": []}
    with recording_calls() as calls, captured_output():
        handlers.forget_digest_secrets()
        for _ in range(REQUESTS):
            calls.clear()
            handlers.generate_code({"channel": "sms", "destination": DESTINATION}).expect(201, "generate")
            counts["generate"].append(sum(1 for c in calls if c.operation == "GenerateMac"))
        code = wrong_code(bench.latest_code(DESTINATION))
        for _ in range(REQUESTS):
            calls.clear()
            handlers.verify_code({"destination": DESTINATION, "code": code}).expect(403, "verify a wrong code")
            counts["verify"].append(sum(1 for c in calls if c.operation == "GenerateMac"))
    if any(count != [1] + [0] * (REQUESTS - 1) for count in counts.values()):
        raise RuntimeError(f"kms:GenerateMac calls per request after a cold start: {counts}")
    shown = ", ".join(f"{name} {count}" for name, count in counts.items())
    return Section("digest_key", "The digest key per container", prose("digest_key", counts=shown), counts)
