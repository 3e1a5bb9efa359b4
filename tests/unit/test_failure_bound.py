"""Semantics 11: wrong codes bound per end-user network and in all, in a sliding window.

A guesser who knows only a number must not stop its owner, on another network, from getting a code.
"""

from __future__ import annotations

import pytest

from otp.domain.errors import InvalidCode, RateLimited, TooManyAttempts
from tests.helpers import GOOD_US, wrong_code
from tests.unit.test_use_cases import check, issue, wire

ATTACKER = "203.0.113.9"  # network 203.0.113.0/24
ATTACKER_NEIGHBOUR = "203.0.113.200"  # the same /24
OWNER = "198.51.100.7"


def guess_until_refused(deps, client_ip: str, limit: int = 100) -> tuple[int, RateLimited]:
    """Generate from ``client_ip`` and guess wrong from it until /generate refuses; wrong codes compared."""
    compared = 0
    for _ in range(limit):
        try:
            _, code = issue(deps, end_user_ip=client_ip)
        except RateLimited as refused:
            return compared, refused
        for _ in range(deps.settings.max_attempts):
            try:
                check(deps, wrong_code(code), end_user_ip=client_ip)
            except InvalidCode:
                compared += 1
            except TooManyAttempts:
                break
    raise AssertionError("never refused")


@pytest.fixture
def deps():
    return wire(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0")


def test_one_network_is_refused_after_its_own_bound_and_the_owner_is_not(deps):
    compared, refused = guess_until_refused(deps, ATTACKER)
    assert compared == 10  # OTP_MAX_FAILURES_PER_NETWORK's default
    assert refused.reasons == ("failures_network",)
    with pytest.raises(RateLimited):
        issue(deps, end_user_ip=ATTACKER_NEIGHBOUR)  # the whole /24 counts as one network
    issued, code = issue(deps, end_user_ip=OWNER)
    assert check(deps, code, end_user_ip=OWNER).verification_id == issued.verification_id


def test_three_networks_reach_the_bound_in_all_and_then_every_network_is_refused(deps):
    for network in ("203.0.113.1", "203.0.114.1", "203.0.115.1"):
        guess_until_refused(deps, network)
    with pytest.raises(RateLimited) as refused:
        issue(deps, end_user_ip=OWNER)
    assert refused.value.reasons[0] == "failures_destination"
    with pytest.raises(RateLimited):
        issue(deps)  # no known address: counted and refused in all


def test_a_refusal_never_outlasts_the_window_and_the_window_slides():
    deps = wire(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_FAILURE_WINDOW_SECONDS="2400")
    _, refused = guess_until_refused(deps, ATTACKER)
    assert 0 < refused.retry_after <= 2400
    deps.clock.advance(refused.retry_after - 1)
    with pytest.raises(RateLimited):
        issue(deps, end_user_ip=ATTACKER)
    deps.clock.advance(1)
    issue(deps, end_user_ip=ATTACKER)


def test_wrong_codes_without_a_known_address_count_only_in_all(deps):
    compared = 0
    for _ in range(12):
        _, code = issue(deps)
        for _ in range(5):
            try:
                check(deps, wrong_code(code))
            except InvalidCode:
                compared += 1
            except TooManyAttempts:
                break
        if compared >= 12:
            break
    issue(deps, end_user_ip=ATTACKER)  # no network reached its own bound: only 12 of 30 in all


def test_right_codes_give_the_network_count_back(deps):
    for _ in range(9):
        _, code = issue(deps, end_user_ip=ATTACKER)
        with pytest.raises(InvalidCode):
            check(deps, wrong_code(code), end_user_ip=ATTACKER)
        check(deps, code, end_user_ip=ATTACKER)
    issue(deps, end_user_ip=ATTACKER)  # 9 wrong, 9 right: under the bound of 10
    _, code = issue(deps, end_user_ip=ATTACKER)
    with pytest.raises(InvalidCode):
        check(deps, wrong_code(code), end_user_ip=ATTACKER)
    with pytest.raises(RateLimited):
        issue(deps, end_user_ip=ATTACKER)  # the tenth wrong code reaches it


def test_the_destination_is_the_one_guessed(deps):
    guess_until_refused(deps, ATTACKER)
    other, _ = issue(deps, "+12025550123", end_user_ip=ATTACKER)  # other numbers from that network are not locked
    assert other.masked_destination != GOOD_US


# ---- test destinations (semantics 16) ------------------------------------------------------------


def _until(deps, seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(deps.clock.now + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_test_destination_stores_its_fixed_code_and_sends_nothing():
    from otp.use_cases.issue_code import IssueRequest, issue_code

    probe = wire()
    deps = wire(OTP_TEST_DESTINATIONS=f"{GOOD_US}=246810", OTP_TEST_DESTINATIONS_VALID_UNTIL=_until(probe, 3600))
    deps.clock.now = probe.clock.now
    issued = issue_code(deps, IssueRequest("sms", GOOD_US))
    assert issued.test_destination
    assert deps.senders.sms.sms == []
    with pytest.raises(InvalidCode):
        check(deps, "135790")  # every other rule applies: a wrong code costs an attempt
    assert check(deps, "246810").verification_id == issued.verification_id
    with pytest.raises(RateLimited):
        issue_code(deps, IssueRequest("sms", GOOD_US))  # the cooldown too


def test_after_its_valid_until_the_list_is_ignored():
    from otp.use_cases.issue_code import IssueRequest, issue_code

    probe = wire()
    deps = wire(OTP_TEST_DESTINATIONS=f"{GOOD_US}=246810", OTP_TEST_DESTINATIONS_VALID_UNTIL=_until(probe, 60))
    deps.clock.now = probe.clock.now + 61
    issued = issue_code(deps, IssueRequest("sms", GOOD_US))
    assert not issued.test_destination
    assert len(deps.senders.sms.sms) == 1
    assert "246810" not in deps.senders.sms.sms[0][1]  # a random code (one chance in a million to collide)


@pytest.mark.parametrize(
    ("entries", "until_in", "message"),
    [
        (f"{GOOD_US}=12345", 3600, "every code must be a string of 6 digits"),
        ("+15555550100=123456", 3600, "is not a valid phone number or email address"),
        (f"{GOOD_US}=123456", None, "OTP_TEST_DESTINATIONS_VALID_UNTIL: is required"),
        (f"{GOOD_US}=123456", 91 * 86400, "must be at most 90 days from now"),
    ],
)
def test_bad_test_destinations_stop_the_start_naming_the_variable(entries, until_in, message):
    from otp.config import load_settings
    from otp.domain.errors import ConfigurationError

    env = {"OTP_KMS_KEY_ID": "k", "OTP_DIGEST_KEY_ID": "d", "OTP_TEST_DESTINATIONS": entries}
    if until_in is not None:
        env["OTP_TEST_DESTINATIONS_VALID_UNTIL"] = _until(wire(), until_in)
    with pytest.raises(ConfigurationError, match=message):
        load_settings(env)
