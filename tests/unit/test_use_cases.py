"""Every use-case rule against in-memory fakes of the ports: no emulator, no network, milliseconds.

The fakes keep the store's atomic conditions (tests/integration/test_store_contract.py runs the
same checks against them and against DynamoDB), so these rules hold for the real adapters too.
"""

from __future__ import annotations

import re

import pytest

from otp.bootstrap import generate_dependencies
from otp.config import load_settings
from otp.domain.errors import (
    DeliveryFailed,
    Expired,
    InvalidCode,
    InvalidRequest,
    NotFound,
    NotPending,
    RateLimited,
    TooManyAttempts,
)
from otp.use_cases.cancel_verification import cancel_verification
from otp.use_cases.check_code import CheckRequest, check_code
from otp.use_cases.dependencies import GenerateDependencies as Dependencies
from otp.use_cases.issue_code import IssueRequest, issue_code
from otp.use_cases.read_verification import read_verification
from tests.fakes import FakeAdapters, FakeSender
from tests.helpers import GOOD_IN, GOOD_US, FakeClock, wrong_code

BASE = {"OTP_KMS_KEY_ID": "alias/unit", "OTP_DIGEST_KEY_ID": "alias/unit-digests", "OTP_EMAIL_SENDER": "otp@x.io"}


def wire(**settings: str) -> Dependencies:
    """The generate function's dependencies, made by its bootstrap from in-memory fakes."""
    return generate_dependencies(load_settings({**BASE, **settings}), FakeAdapters().adapters(), FakeClock())


@pytest.fixture
def deps() -> Dependencies:
    return wire()


def last_code(deps: Dependencies) -> str:
    sender = deps.senders.sms
    assert isinstance(sender, FakeSender)
    text = sender.sms[-1][1] if sender.sms else sender.emails[-1][2]
    found = re.search(r"\b\d{6}\b", text)
    assert found
    return found.group(0)


def issue(deps: Dependencies, destination: str = GOOD_US, channel: str = "sms", **fields):
    issued = issue_code(deps, IssueRequest(channel, destination, **fields))  # type: ignore[arg-type]
    return issued, last_code(deps)


def check(deps: Dependencies, code: str, destination: str = GOOD_US, **fields):
    return check_code(deps, CheckRequest(destination, code, **fields))


# ---- issue a code --------------------------------------------------------------------------------


def test_a_code_is_encrypted_stored_and_delivered(deps):
    issued, code = issue(deps)
    assert issued.masked_destination == "+1******2671"
    assert issued.expires_in == 300
    assert issued.resend_after == 30
    record = deps.store.records[deps.digests.record_key(_phone(GOOD_US))]
    assert code.encode() not in record.codes["default"].ciphertext  # the fake cipher encodes, never stores plain
    assert deps.senders.sms.sms[-1][0] == GOOD_US


def test_email_needs_a_configured_sender():
    deps = wire(OTP_EMAIL_SENDER="")
    with pytest.raises(InvalidRequest):
        issue(deps, "ada@example.com", channel="email")


def test_the_cooldown_spans_purposes(deps):
    issue(deps)
    deps.clock.advance(10)
    with pytest.raises(RateLimited) as refused:
        issue(deps, purpose="reset")
    assert refused.value.retry_after == 20
    assert refused.value.reasons == ("cooldown",)


def test_the_end_user_ip_limit_counts_a_v6_64_once():
    deps = wire(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_IP="1")
    issue(deps, GOOD_US, end_user_ip="2001:db8::1")
    with pytest.raises(RateLimited) as refused:
        issue(deps, GOOD_IN, end_user_ip="2001:db8::2")
    assert refused.value.reasons == ("ip",)
    issue(deps, GOOD_IN)  # no end-user IP: no per-IP limit


def test_a_refused_delivery_leaves_nothing_verifiable(deps):
    deps.senders.sms.refuse = True
    with pytest.raises(DeliveryFailed):
        issue_code(deps, IssueRequest("sms", GOOD_US))
    assert deps.store.records[deps.digests.record_key(_phone(GOOD_US))].codes == {}


def test_case_changes_reach_one_mailbox_record(deps):
    issue(deps, "Victim@Example.com", channel="email")
    with pytest.raises(RateLimited):
        issue(deps, "victim@example.com", channel="email")
    assert deps.senders.sms.emails[-1][0] == "Victim@example.com"


# ---- check a code --------------------------------------------------------------------------------


def test_a_right_code_verifies_once(deps):
    issued, code = issue(deps)
    assert check(deps, code).verification_id == issued.verification_id
    with pytest.raises(NotFound):
        check(deps, code)


def test_wrong_codes_count_down_then_even_the_right_code_is_refused(deps):
    _, code = issue(deps)
    remaining = []
    for _ in range(5):
        with pytest.raises(InvalidCode) as wrong:
            check(deps, wrong_code(code))
        remaining.append(wrong.value.attempts_remaining)
    assert remaining == [4, 3, 2, 1, 0]
    with pytest.raises(TooManyAttempts):
        check(deps, code)


@pytest.mark.parametrize("code", ["12345", "abcdef", "", "1234567"])
def test_a_malformed_code_costs_no_attempt(deps, code):
    _, real = issue(deps)
    with pytest.raises(InvalidRequest):
        check(deps, code)
    with pytest.raises(InvalidCode) as wrong:
        check(deps, wrong_code(real))
    assert wrong.value.attempts_remaining == 4


def test_expired_codes_are_refused_by_the_clock(deps):
    _, code = issue(deps)
    deps.clock.advance(300)
    with pytest.raises(Expired):
        check(deps, code)


def test_a_code_is_bound_to_its_purpose_and_its_verification(deps):
    issued, code = issue(deps, purpose="login")
    with pytest.raises(NotFound):
        check(deps, code)  # the default purpose
    other = issued.verification_id.replace("_login", "_reset")
    with pytest.raises(NotFound):
        check(deps, code, purpose="login", verification_id=other)
    assert check(deps, code, purpose="login", verification_id=issued.verification_id)


def test_a_new_code_supersedes_the_pending_one():
    deps = wire(OTP_RESEND_COOLDOWN_SECONDS="0")
    _, old = issue(deps)
    _, new = issue(deps)
    if old != new:
        with pytest.raises(InvalidCode):
            check(deps, old)
    assert check(deps, new)


def test_a_ciphertext_of_another_record_never_verifies():
    deps = wire(OTP_RESEND_COOLDOWN_SECONDS="0")
    _, victim_code = issue(deps, GOOD_US)
    issue(deps, GOOD_IN)
    store = deps.store
    victim = store.records[deps.digests.record_key(_phone(GOOD_US))].codes["default"]
    key = deps.digests.record_key(_phone(GOOD_IN))
    attacker = store.records[key].codes["default"]
    store.records[key].codes["default"] = type(attacker)(**{**attacker.__dict__, "ciphertext": victim.ciphertext})
    with pytest.raises(InvalidCode):
        check(deps, victim_code, GOOD_IN)


def test_the_failure_bound_spans_codes_and_locks_generate():
    deps = wire(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_FAILURES_PER_DESTINATION="7")
    compared, refusals = 0, []
    for _ in range(5):
        try:
            _, code = issue(deps)
        except RateLimited as locked:
            refusals.append(locked.reasons)
            break
        for _ in range(5):
            try:
                check(deps, wrong_code(code))
            except InvalidCode:
                compared += 1
            except TooManyAttempts:
                pass
    assert compared == 10  # 7 reached during the second code, which keeps its attempts: 7 + 3
    assert refusals == [("failures_destination",)]


def test_a_required_verification_id_is_required():
    deps = wire(OTP_REQUIRE_VERIFICATION_ID="true")
    issued, code = issue(deps)
    with pytest.raises(InvalidRequest):
        check(deps, code)
    assert check(deps, code, verification_id=issued.verification_id)


# ---- read and cancel a verification --------------------------------------------------------------


def test_statuses_through_a_verification_s_life():
    deps = wire(OTP_RESEND_COOLDOWN_SECONDS="0")
    first, code = issue(deps)
    assert read_verification(deps, first.verification_id).status == "pending"
    second, code = issue(deps)
    assert read_verification(deps, first.verification_id).status == "superseded"
    check(deps, code)
    view = read_verification(deps, second.verification_id)
    assert (view.status, view.attempts_remaining) == ("approved", 4)
    with pytest.raises(NotPending) as refused:
        cancel_verification(deps, second.verification_id)
    assert refused.value.verification_status == "approved"


def test_cancel_is_idempotent_and_stops_the_code(deps):
    issued, code = issue(deps)
    assert cancel_verification(deps, issued.verification_id).status == "canceled"
    assert cancel_verification(deps, issued.verification_id).status == "canceled"
    with pytest.raises(NotFound):
        check(deps, code)


def test_unknown_and_malformed_ids(deps):
    issued, _ = issue(deps)
    with pytest.raises(NotFound):
        read_verification(deps, issued.verification_id.replace("_default", "_other"))
    with pytest.raises(InvalidRequest):
        read_verification(deps, "not-an-id")


def _phone(number: str):
    from otp.domain.destinations import normalize_phone

    return normalize_phone(number)
