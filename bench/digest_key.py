"""The digest key per container: the keyed-digest secret costs one KMS call on a container's first request.

Generate's pumping-guard block list is the other per-container read: one GetItem on a container's
first request, then at most one per OTP_FRAUD_REACTION_SECONDS.
"""

from __future__ import annotations

from bench.context import LIMITS_OFF, Bench, wrong_code
from bench.report import Section, prose
from bench.service import captured_output, load_handlers, recording_calls

DESTINATION = "+447400123456"
REQUESTS = 3


def measure(bench: Bench) -> Section:
    handlers = load_handlers(bench.settings(LIMITS_OFF))
    counts: dict[str, list[int]] = {"generate": [], "verify": []}
    block_reads: list[int] = []
    with recording_calls() as calls, captured_output():
        handlers.forget_digest_secrets()
        for _ in range(REQUESTS):
            calls.clear()
            handlers.generate_code({"channel": "sms", "destination": DESTINATION}).expect(201, "generate")
            counts["generate"].append(sum(1 for c in calls if c.operation == "GenerateMac"))
            block_reads.append(sum(1 for c in calls if c.operation == "GetItem" and _reads_blocks(c.params)))
        code = wrong_code(bench.latest_code(DESTINATION))
        for _ in range(REQUESTS):
            calls.clear()
            handlers.verify_code({"destination": DESTINATION, "code": code}).expect(403, "verify a wrong code")
            counts["verify"].append(sum(1 for c in calls if c.operation == "GenerateMac"))
    once = [1] + [0] * (REQUESTS - 1)
    if any(count != once for count in counts.values()):
        raise RuntimeError(f"kms:GenerateMac calls per request after a cold start: {counts}")
    if block_reads != once:
        raise RuntimeError(f"block list reads per generate after a cold start: {block_reads}")
    shown = ", ".join(f"{name} {count}" for name, count in counts.items())
    text = prose("digest_key", counts=shown, block_reads=block_reads)
    return Section("digest_key", "The digest key per container", text, {**counts, "block_list": block_reads})


def _reads_blocks(params: dict) -> bool:
    return params.get("Key", {}).get("id", {}).get("S") == "pumping#blocks"
