"""Values and helpers that tests of every cost share; nothing here needs AWS or an emulator."""

from __future__ import annotations

REGION = "ap-south-1"
SENDER = "otp@example.com"
TABLE = "otp_main"

GOOD_US = "+14155552671"
GOOD_IN = "+919876543210"


def wrong_code(code: str) -> str:
    """A code of the same length that is certainly not ``code``."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
