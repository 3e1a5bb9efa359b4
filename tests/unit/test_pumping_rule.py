"""The pumping guard's rule (semantics 14) at its edges, its early evidence, and the prefix keys."""

from __future__ import annotations

from fractions import Fraction

import pytest

from otp.domain.prefix_keys import PrefixKeys, SealBroken
from otp.domain.pumping import (
    CodeFact,
    burst_holds,
    burst_onset,
    conversion_holds,
    conversion_onset,
    decide,
)
from otp.domain.pumping_rules import PumpingRules, parse_rules, prefix_of

T0 = 1_800_000_000
RULES = PumpingRules()  # the contract's defaults: 20 codes, 0.2, 60 s maturity, 3600 s window


def codes(n: int, at: int = T0, verified: int = 0, step: int = 0, name: str = "c") -> list[CodeFact]:
    return [CodeFact(f"{name}{i}", at + i * step, i < verified) for i in range(n)]


# ---- the conversion rule ---------------------------------------------------------------------------


def test_exactly_the_minimum_count_of_matured_unconverted_codes_blocks_and_one_fewer_does_not():
    assert conversion_holds(codes(20), T0 + 60, RULES)
    assert not conversion_holds(codes(19), T0 + 60, RULES)


def test_conversion_exactly_at_the_threshold_is_not_below_it():
    assert not conversion_holds(codes(20, verified=4), T0 + 60, RULES)  # 4/20 = 0.2
    assert conversion_holds(codes(20, verified=3), T0 + 60, RULES)
    # 3 of 30 is exactly 0.1: exact arithmetic, where 0.1 * 30 in floats is 3.0000000000000004.
    tenth = PumpingRules(min_conversion=Fraction("0.1"))
    assert not conversion_holds(codes(30, verified=3), T0 + 60, tenth)
    assert conversion_holds(codes(30, verified=2), T0 + 60, tenth)


def test_codes_count_only_once_matured_or_verified():
    young = codes(20)
    assert not conversion_holds(young, T0 + 59, RULES)
    assert conversion_holds(young, T0 + 60, RULES)
    # A verified code counts at once (as converted): 19 matured failures plus 1 verified young one.
    mixed = [*codes(19, at=T0 - 60), CodeFact("v", T0, verified=True)]
    assert conversion_holds(mixed, T0, RULES)  # 20 counted, 1 verified: 5 %


def test_the_window_slides_codes_out():
    old = codes(20)
    assert conversion_holds(old, T0 + 3600, RULES)  # delivered exactly a window ago: still in it
    assert not conversion_holds(old, T0 + 3601, RULES)


def test_onset_is_the_moment_the_last_needed_code_matures():
    burst = codes(20, step=1)  # delivered T0 .. T0+19
    assert conversion_onset(burst, T0 + 19, RULES) == T0 + 19 + 60
    assert conversion_onset(burst, T0 + 100, RULES) == T0 + 100  # holds already
    assert conversion_onset(codes(19, step=1), T0 + 19, RULES) is None


def test_onset_when_old_verified_codes_leave_the_window():
    # 10 verified an hour ago keep conversion up; once they leave, 20 failures remain.
    history = codes(10, at=T0, verified=10, name="h")
    failures = codes(20, at=T0 + 600, name="f")
    now = T0 + 700
    assert not conversion_holds(history + failures, now, RULES)  # 10 of 30 = 0.33
    assert conversion_onset(history + failures, now, RULES) == T0 + 3601


def test_onset_agrees_with_evaluating_every_second():
    mixed = [*codes(15, step=7, name="a"), *codes(12, at=T0 + 30, step=11, verified=3, name="b")]
    now = T0 + 160  # after the last delivery: the onset knows only codes delivered by now
    brute = next((t for t in range(now, now + 4000) if conversion_holds(mixed, t, RULES)), None)
    assert conversion_onset(mixed, now, RULES) == brute is not None


# ---- the burst rule (earlier evidence) -------------------------------------------------------------


def test_a_burst_to_a_prefix_that_never_converts_is_blocked_before_any_code_matures():
    burst = codes(10, step=1)  # T0 .. T0+9; tested from 10 s of age
    assert not burst_holds(burst, T0 + 18, RULES)  # only 9 tested yet
    assert burst_holds(burst, T0 + 19, RULES)
    assert burst_onset(burst, T0 + 9, RULES) == T0 + 19
    assert decide(burst, T0 + 19, RULES, "447911") is not None


def test_a_burst_that_converts_is_not_blocked():
    # 12 codes in 12 s; one in ten verified: well above a quarter of 0.2.
    burst = [*codes(10, step=1), CodeFact("v1", T0 + 10, True), CodeFact("v2", T0 + 11, True)]
    assert not burst_holds(burst, T0 + 30, RULES)


def test_a_burst_no_faster_than_the_prefix_usually_runs_is_not_early_evidence():
    # About 4 codes a minute for the past hour, then 10 in the last minute: 2.5 times, not 4.
    history = codes(240, at=T0 - 3500, step=14, name="h")
    young = codes(10, step=2, name="y")
    assert not burst_holds(history + young, T0 + 40, RULES)
    # The same 10 young codes on a prefix with no history are a burst.
    assert burst_holds(young, T0 + 40, RULES)


def test_below_half_the_minimum_count_is_no_burst():
    assert not burst_holds(codes(9, step=1), T0 + 59, RULES)


# ---- decisions ---------------------------------------------------------------------------------------


def test_the_safe_list_protects_whole_prefixes_and_numbers():
    rules = PumpingRules(safe_list=("4479",))
    assert decide(codes(20), T0 + 60, rules, "447911") is None
    assert decide(codes(20), T0 + 60, rules, "447811") is not None
    numbers = PumpingRules(safe_list=("447911123456",))
    assert numbers.covers("+447911123456") and not numbers.covers("+447911123457")
    assert not numbers.protects("447911")  # one safe number does not protect its whole prefix


def test_a_switched_off_guard_decides_nothing():
    assert decide(codes(50), T0 + 600, PumpingRules(enabled=False), "447911") is None


def test_a_decision_blocks_for_the_block_seconds_from_its_start():
    decision = decide(codes(20), T0 + 60, RULES, "447911")
    assert decision is not None and decision.reason in ("burst", "conversion")
    assert decision.until(RULES) == decision.starts_at + 43200


def test_a_scheduled_decision_starts_at_the_onset_not_now():
    # 20 codes over 190 s: no burst. At T0+220, 17 have matured unverified: even if the 3 young
    # ones verified, 3 of 20 is below 0.2, so a verification could make the rule hold at any
    # moment from then on, and the block starts then rather than when the 20th matures (T0+250).
    slow = codes(20, step=10)
    assert conversion_onset(slow, T0 + 190, RULES) == T0 + 250
    decision = decide(slow, T0 + 190, RULES, "447911")
    assert decision is not None and (decision.starts_at, decision.reason) == (T0 + 220, "conversion")


def test_anticipation_covers_the_verification_that_would_make_the_rule_hold():
    failures = codes(19, at=T0 - 120, name="f")
    pending = [CodeFact("y", T0 - 5)]
    assert not conversion_holds(failures + pending, T0, RULES)
    assert conversion_holds([*failures, CodeFact("y", T0 - 5, verified=True)], T0, RULES)  # were it to verify now
    assert conversion_onset(failures + pending, T0, RULES, anticipate=True) == T0
    # Where verifying the young codes would lift conversion to the threshold, nothing is anticipated.
    healthy = [*codes(15, at=T0 - 120, verified=2, name="h"), *codes(5, at=T0 - 5, name="y")]
    assert conversion_onset(healthy, T0, RULES, anticipate=True) == T0 + 55  # they mature unverified


# ---- prefixes, settings, keys ----------------------------------------------------------------------


def test_a_prefix_is_the_leading_digits_and_never_reaches_the_masked_ones():
    assert prefix_of("+447911123456", 6) == "447911"
    assert prefix_of("+14155552671", 10) == "1415555"  # 11 digits: the last 4 stay out
    assert prefix_of("+3541234567", 10) == "354123"


def test_settings_parse_with_their_ranges_named():
    rules = parse_rules(
        {"OTP_FRAUD_MIN_CODES": "5", "OTP_FRAUD_MIN_CONVERSION": "0.35", "OTP_FRAUD_SAFE_LIST": "+44, 91"}
    )
    assert (rules.min_codes, rules.min_conversion, rules.safe_list) == (5, Fraction(35, 100), ("44", "91"))
    assert parse_rules({"OTP_FRAUD_GUARD": "false"}).enabled is False
    assert parse_rules({}) == PumpingRules()
    for name, value in [
        ("OTP_FRAUD_PREFIX_DIGITS", "2"),
        ("OTP_FRAUD_WINDOW_SECONDS", "86401"),
        ("OTP_FRAUD_MIN_CONVERSION", "1.5"),
        ("OTP_FRAUD_SAFE_LIST", "+44a"),
        ("OTP_FRAUD_GUARD", "yes"),
        ("OTP_FRAUD_REACTION_SECONDS", "-1"),
    ]:
        with pytest.raises(ValueError, match=name):
            parse_rules({name: value})


def test_sealed_prefixes_open_only_under_their_secret_and_never_repeat():
    keys = PrefixKeys(lambda: b"k" * 32)
    first, second = keys.seal("447911"), keys.seal("447911")
    assert first != second and first.find(b"447911") == -1
    assert keys.open(first) == keys.open(second) == "447911"
    with pytest.raises(SealBroken):
        PrefixKeys(lambda: b"x" * 32).open(first)
    with pytest.raises(SealBroken):
        keys.open(first[:-1] + bytes([first[-1] ^ 1]))
    assert keys.digest("447911") == PrefixKeys(lambda: b"k" * 32).digest("447911")
    assert keys.digest("447911") != PrefixKeys(lambda: b"x" * 32).digest("447911")
    assert keys.token("vrf_a") != keys.token("vrf_b")


def test_forgotten_keys_are_derived_again_from_the_secret():
    secrets = [b"a" * 32, b"b" * 32]
    keys = PrefixKeys(lambda: secrets[0])
    before = keys.digest("447911")
    secrets.pop(0)
    assert keys.digest("447911") == before  # derived once, kept
    keys.forget()
    assert keys.digest("447911") != before
