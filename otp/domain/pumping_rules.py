"""The pumping guard's settings (OTP_FRAUD_*, contract semantics 14) and what a prefix is.

Apart from the rule itself (otp.domain.pumping) because every function's settings hold these: the
verify and verifications functions load no more of the guard than this.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

# The last digits a masked number shows are never part of a prefix, so a prefix in a log line
# and a masked number in another can never add up to a whole number.
MASKED_DIGITS = 4
_DIGITS = re.compile(r"^\+?[0-9]{1,15}$")


@dataclass(frozen=True)
class PumpingRules:
    """OTP_FRAUD_*, with the contract's defaults."""

    enabled: bool = True
    prefix_digits: int = 6
    window_seconds: int = 3600
    maturity_seconds: int = 60
    min_codes: int = 20
    min_conversion: Fraction = Fraction(1, 5)
    block_seconds: int = 43200
    reaction_seconds: int = 10
    safe_list: tuple[str, ...] = ()

    def covers(self, e164: str) -> bool:
        """A number the safe list names, or that starts with a prefix it names: never refused nor counted."""
        digits = e164.removeprefix("+")
        return any(digits.startswith(entry) for entry in self.safe_list)

    def protects(self, prefix: str) -> bool:
        """A whole guard prefix inside a safe-listed prefix is never blocked."""
        return any(prefix.startswith(entry) for entry in self.safe_list)


_BOUNDS: dict[str, tuple[str, int, int]] = {
    "prefix_digits": ("OTP_FRAUD_PREFIX_DIGITS", 3, 10),
    "window_seconds": ("OTP_FRAUD_WINDOW_SECONDS", 60, 86400),
    "maturity_seconds": ("OTP_FRAUD_MATURITY_SECONDS", 1, 3600),
    "min_codes": ("OTP_FRAUD_MIN_CODES", 1, 10000),
    "block_seconds": ("OTP_FRAUD_BLOCK_SECONDS", 1, 604800),
    "reaction_seconds": ("OTP_FRAUD_REACTION_SECONDS", 1, 300),
}

# Every OTP_FRAUD_* variable this service reads, with the rule it sets; any other OTP_FRAUD_ name is a typo.
ATTRIBUTES = {
    "OTP_FRAUD_GUARD": "enabled",
    **{name: attribute for attribute, (name, _low, _high) in _BOUNDS.items()},
    "OTP_FRAUD_MIN_CONVERSION": "min_conversion",
    "OTP_FRAUD_SAFE_LIST": "safe_list",
}
SETTING_NAMES = tuple(ATTRIBUTES)


def parse_rules(env: Mapping[str, str]) -> PumpingRules:
    """Read OTP_FRAUD_* (empty counts as unset). Raises ValueError naming the variable."""
    given = {name: value.strip() for name, value in env.items() if name.startswith("OTP_FRAUD_") and value.strip()}
    values: dict[str, object] = {}
    for attribute, (name, low, high) in _BOUNDS.items():
        if name in given:
            if not re.fullmatch(r"[0-9]{1,7}", given[name]) or not low <= int(given[name]) <= high:
                raise ValueError(f"{name}: must be a whole number from {low} to {high}")
            values[attribute] = int(given[name])
    if "OTP_FRAUD_GUARD" in given:
        if given["OTP_FRAUD_GUARD"].lower() not in ("true", "false"):
            raise ValueError("OTP_FRAUD_GUARD: must be true or false")
        values["enabled"] = given["OTP_FRAUD_GUARD"].lower() == "true"
    if "OTP_FRAUD_MIN_CONVERSION" in given:
        text = given["OTP_FRAUD_MIN_CONVERSION"]
        if not re.fullmatch(r"(0(\.[0-9]{1,6})?|1(\.0{1,6})?)", text):
            raise ValueError("OTP_FRAUD_MIN_CONVERSION: must be a number from 0 to 1")
        values["min_conversion"] = Fraction(text)  # exact: 3 of 30 is not below 0.1
    if "OTP_FRAUD_SAFE_LIST" in given:
        entries = [part.strip() for part in given["OTP_FRAUD_SAFE_LIST"].split(",") if part.strip()]
        if not all(_DIGITS.match(entry) for entry in entries):
            raise ValueError("OTP_FRAUD_SAFE_LIST: give E.164 numbers or prefixes (digits after +), comma-separated")
        values["safe_list"] = tuple(entry.removeprefix("+") for entry in entries)
    return PumpingRules(**values)  # type: ignore[arg-type]


def prefix_of(e164: str, prefix_digits: int) -> str:
    """The first ``prefix_digits`` digits after +, never reaching into the digits a mask shows."""
    digits = e164.removeprefix("+")
    return digits[: max(1, min(prefix_digits, len(digits) - MASKED_DIGITS))]
