"""Code generation and comparison."""

from __future__ import annotations

import hmac
import secrets


def generate_code(length: int) -> str:
    """A uniformly random string of ``length`` decimal digits from the OS CSPRNG."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def codes_match(expected: str, submitted: str) -> bool:
    """Constant-time, so response timing reveals nothing about how many digits were right."""
    return hmac.compare_digest(expected.encode("ascii"), submitted.encode("ascii"))
