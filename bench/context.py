"""What every section is given: the embedded AWS emulator, the settings that point at it, the sample counts."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.service import Handlers
    from local.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
REGION = "ap-south-1"
SENDER = "bench@example.com"
TABLE = "otp_bench"
DESTINATION = "+14155552671"

# Cold starts and the runner send to one destination many times: no cooldown, no send limits.
LIMITS_OFF = {
    "OTP_RESEND_COOLDOWN_SECONDS": "0",
    "OTP_MAX_SENDS_PER_WINDOW": "0",
    "OTP_MAX_SENDS_PER_IP": "0",
    "OTP_MAX_ATTEMPTS": "10",
}
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


@dataclass
class Bench:
    quick: bool
    emulator: Emulator
    provisioned: dict[str, str]  # the OTP_* settings that name the emulator's table, keys and sender

    def samples(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def settings(self, overrides: dict[str, str] | None = None) -> dict[str, str]:
        """OTP_* settings: the contract's defaults, the emulator's resources, and ``overrides``."""
        return {**self.provisioned, **(overrides or {})}

    def child_env(self, settings: dict[str, str]) -> dict[str, str]:
        """The environment of a child process: this one's, pointed at the emulator, with ``settings``.

        Bytecode is written and reused, as in Lambda, whose runtime and our zip ship it compiled: a
        shell that sets PYTHONDONTWRITEBYTECODE would otherwise make every sample compile pydantic,
        botocore and the service from source, and measure the compiler instead of the cold start.
        """
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("OTP_") and k != "PYTHONDONTWRITEBYTECODE"}
        return {**inherited, **settings}

    def latest_code(self, destination: str) -> str:
        messages = [m for m in self.emulator.outbox() if m.destination == destination]
        if not messages:
            raise RuntimeError(f"nothing delivered to {destination}")
        found = _CODE.search(messages[-1].body)
        if found is None:
            raise RuntimeError(f"no code in the last message to {destination}")
        return found.group(0)

    def pending_code(self, handlers: Handlers, purpose: str) -> dict[str, str]:
        """A code waiting at DESTINATION, as the body of the verify request that would accept it."""
        from bench.service import captured_output

        with captured_output():  # its log lines are not the benchmark's output
            reply = handlers.generate_code({"channel": "sms", "destination": DESTINATION, "purpose": purpose})
        reply.expect(201, "a code to verify")
        return {"destination": DESTINATION, "purpose": purpose, "code": self.latest_code(DESTINATION)}


@contextlib.contextmanager
def started(quick: bool) -> Iterator[Bench]:
    """The emulator, provisioned as serverless.yml describes the stack; this process talks to it alone."""
    from local import stack
    from local.emulator import Emulator, isolate_from_real_aws

    emulator = Emulator(REGION)
    emulator.start()
    try:
        isolate_from_real_aws(emulator.url, REGION)
        os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "OtpService"
        key_arn, digest_key_arn = emulator.provision(stack.table_shape(stack.load()), TABLE, SENDER)
        provisioned = {
            "OTP_KMS_KEY_ID": key_arn,
            "OTP_DIGEST_KEY_ID": digest_key_arn,
            "OTP_TABLE_NAME": TABLE,
            "OTP_EMAIL_SENDER": SENDER,
        }
        yield Bench(quick, emulator, provisioned)
    finally:
        emulator.stop()


def wrong_code(code: str) -> str:
    """A code of the same length that is certainly not ``code``."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
