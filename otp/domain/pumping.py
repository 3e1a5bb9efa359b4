"""The SMS pumping guard's rule (contract, semantics 14), its early evidence, and the prefix keys.

Pure: no AWS, no clock. The stream consumer feeds it what it counted per prefix; generate asks
only whether a prefix is blocked, through a cached block list.

Two rules decide a block. The *conversion rule* is the contract's: at least ``min_codes``
matured codes delivered within the window, fewer than ``min_conversion`` of them verified. It
depends on time as well as on events (a code matures by merely getting older), so the consumer
asks for its *onset*, the first moment it will hold if no further code verifies, and writes the
block ahead of time to start then: every container's cached copy already refuses at the onset.
The *burst rule* is the earlier evidence the contract allows ("sooner, never later"); see
``burst_holds``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from otp.domain.pumping_rules import PumpingRules

# Burst rule: a burst is at least this share of min_codes, delivered within one maturity period...
BURST_SHARE = Fraction(1, 2)
# ...at least this many times the prefix's own rate over the rest of the window...
BURST_FACTOR = 4
# ...while the prefix converts less than this share of min_conversion, counting every code at
# least TESTED_AGE_SHARE of the maturity period old as a chance to verify that was not taken.
BURST_CONVERSION_SHARE = Fraction(1, 4)
TESTED_AGE_SHARE = Fraction(1, 6)


# ---- what the consumer counted, and the decision ---------------------------------------------------


@dataclass(frozen=True)
class CodeFact:
    """One delivered code of a prefix, as the counting holds it."""

    token: str  # a keyed, unlinkable id of the code: counted once however often it is seen
    delivered_at: int
    verified: bool = False


@dataclass(frozen=True)
class Decision:
    """A block to start at ``starts_at`` (possibly in the future), and why."""

    starts_at: int
    reason: str  # "conversion" (semantics 14) or "burst" (earlier evidence)

    def until(self, rules: PumpingRules) -> int:
        return self.starts_at + rules.block_seconds


def _in_window(code: CodeFact, t: int, rules: PumpingRules) -> bool:
    return t - rules.window_seconds <= code.delivered_at <= t


def conversion_holds(codes: Iterable[CodeFact], t: int, rules: PumpingRules) -> bool:
    """Semantics 14's condition at ``t``, for codes known by then."""
    matured = [
        c for c in codes if _in_window(c, t, rules) and (c.verified or c.delivered_at + rules.maturity_seconds <= t)
    ]
    return _blocking(len(matured), sum(1 for c in matured if c.verified), 0, rules)


def conversion_onset(
    codes: Sequence[CodeFact], now: int, rules: PumpingRules, *, anticipate: bool = False
) -> int | None:
    """The first t >= now at which the conversion rule holds if no more codes verify, else None.

    Only maturing and leaving the window change the counts after now; a sweep over those moments
    finds the first one at which the rule holds. A verification can also make it hold, at a
    moment no one can predict: it adds one matured code (a converted one) to a prefix short of
    min_codes. With ``anticipate``, the rule counts as holding once it would hold even if as
    many young codes as it lacks verified, so that such a verification never finds it unblocked.
    """
    changes: dict[int, list[tuple[int, int, int]]] = {}  # t -> [(delta counted, delta verified, delta young)]
    counted = verified = young = 0
    for code in (c for c in codes if c.delivered_at <= now):
        start = code.delivered_at if code.verified else code.delivered_at + rules.maturity_seconds
        end = code.delivered_at + rules.window_seconds + 1  # out of the window from this second on
        if start >= end or end <= now:
            continue
        if start <= now:
            counted += 1
            verified += code.verified
        else:
            young += 1
            changes.setdefault(start, []).append((1, 0, -1))
        changes.setdefault(end, []).append((-1, -int(code.verified), 0))
    if not anticipate:
        young = 0
    if _blocking(counted, verified, young, rules):
        return now
    for t in sorted(changes):
        for delta_counted, delta_verified, delta_young in changes[t]:
            counted += delta_counted
            verified += delta_verified
            young += delta_young if anticipate else 0
        if _blocking(counted, verified, young, rules):
            return t
    return None


def _blocking(matured: int, verified: int, young: int, rules: PumpingRules) -> bool:
    """The rule over matured codes, or over them plus the fewest young ones that, verifying, would reach min_codes."""
    lacking = max(0, rules.min_codes - matured)
    if lacking > young:
        return False
    return verified + lacking < rules.min_conversion * (matured + lacking)


def burst_holds(codes: Iterable[CodeFact], t: int, rules: PumpingRules) -> bool:
    """Earlier evidence: a burst far above the prefix's own history, to a prefix that is not converting.

    Conversion alone is slow: at 60 s maturity, a bot at 10 requests per second has 600 messages
    out before its first code matures. But a human verifies within seconds (the median is about
    25 s), so a burst whose codes have had time to verify, and did not, is evidence already:
    - at least BURST_SHARE of min_codes delivered within the last maturity period, and at least
      BURST_FACTOR times the prefix's own rate over the rest of the window (a prefix that had no
      traffic has no rate to beat), and
    - verified fewer than BURST_CONVERSION_SHARE of min_conversion of its codes in the window,
      counting only codes old enough to have been tested (TESTED_AGE_SHARE of maturity).
    A marketing push to a country raises the rate but converts at once, so it never holds.
    """
    window = [c for c in codes if _in_window(c, t, rules)]
    young = [c for c in window if c.delivered_at > t - rules.maturity_seconds]
    older = len(window) - len(young)
    rest_of_window = rules.window_seconds - rules.maturity_seconds
    if len(young) < max(1, math.ceil(BURST_SHARE * rules.min_codes)):
        return False
    if rest_of_window > 0 and len(young) * rest_of_window < BURST_FACTOR * older * rules.maturity_seconds:
        return False
    tested_age = math.ceil(TESTED_AGE_SHARE * rules.maturity_seconds)
    tested = [c for c in window if c.verified or c.delivered_at + tested_age <= t]
    if len(tested) < max(1, math.ceil(BURST_SHARE * rules.min_codes)):
        return False
    verified = sum(1 for c in tested if c.verified)
    return verified < BURST_CONVERSION_SHARE * rules.min_conversion * len(tested)


def burst_onset(codes: Sequence[CodeFact], now: int, rules: PumpingRules) -> int | None:
    """The first t in [now, now + maturity] at which the burst rule holds with no new events."""
    tested_age = math.ceil(TESTED_AGE_SHARE * rules.maturity_seconds)
    horizon = now + rules.maturity_seconds
    moments = {now}
    for code in codes:
        for t in (code.delivered_at + tested_age, code.delivered_at + rules.maturity_seconds):
            if now < t <= horizon:
                moments.add(t)
    return next((t for t in sorted(moments) if burst_holds(codes, t, rules)), None)


def decide(codes: Sequence[CodeFact], now: int, rules: PumpingRules, prefix: str) -> Decision | None:
    """The block this prefix's counts call for, starting now or at a known moment; None if none."""
    if not rules.enabled or rules.protects(prefix):
        return None
    onsets = [
        (t, reason)
        for t, reason in (
            (burst_onset(codes, now, rules), "burst"),
            (conversion_onset(codes, now, rules, anticipate=True), "conversion"),
        )
        if t is not None
    ]
    if not onsets:
        return None
    starts_at, reason = min(onsets)
    return Decision(starts_at, reason)
