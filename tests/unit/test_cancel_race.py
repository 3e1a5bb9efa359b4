"""A cancel racing the last attempt of a verify, interleaved by hand through the use cases.

A verify reserves an attempt, decrypts and compares, then consumes the code (or, on the last
attempt, records it spent). The fake cipher runs the cancel at the moment of the decrypt: between
the verify's reservation and its answer, where the race over HTTP lands most of the time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from otp.bootstrap import generate_dependencies
from otp.config import load_settings
from otp.domain.errors import InvalidCode, NotFound, NotPending, ServiceUnavailable, TooManyAttempts
from otp.domain.ports import DependencyFailure
from otp.use_cases.cancel_verification import cancel_verification
from otp.use_cases.check_code import CheckRequest, check_code
from otp.use_cases.dependencies import GenerateDependencies
from otp.use_cases.issue_code import IssueRequest, issue_code
from otp.use_cases.read_verification import read_verification
from tests.fakes import FakeAdapters, FakeCipher, FakeSender
from tests.helpers import GOOD_US, FakeClock, wrong_code

BASE = {"OTP_KMS_KEY_ID": "alias/unit", "OTP_DIGEST_KEY_ID": "alias/unit-digests"}


class InterleavingCipher(FakeCipher):
    """Runs ``during`` once, inside the next decrypt: after the verify's reservation, before its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.during: Callable[[], None] | None = None

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> str:
        step, self.during = self.during, None
        if step is not None:
            step()
        return super().decrypt(ciphertext, context)


@pytest.fixture
def world() -> tuple[GenerateDependencies, InterleavingCipher]:
    cipher = InterleavingCipher()
    fakes = FakeAdapters(cipher=cipher)
    return generate_dependencies(load_settings(BASE), fakes.adapters(), FakeClock()), cipher


def issue_and_spend_all_but_one(deps: GenerateDependencies) -> tuple[str, str]:
    issued = issue_code(deps, IssueRequest("sms", GOOD_US))
    sender = deps.senders.sms
    assert isinstance(sender, FakeSender)
    found = re.search(r"\b\d{6}\b", sender.sms[-1][1])
    assert found
    code = found.group(0)
    for _ in range(deps.settings.max_attempts - 1):
        with pytest.raises(InvalidCode):
            check_code(deps, CheckRequest(GOOD_US, wrong_code(code)))
    return issued.verification_id, code


def test_a_cancel_while_the_right_last_attempt_is_checked_wins_and_the_verify_is_404(world):
    deps, cipher = world
    vid, code = issue_and_spend_all_but_one(deps)
    outcome: dict[str, object] = {}

    def cancel() -> None:
        try:
            outcome["cancel"] = cancel_verification(deps, vid).status
        except NotPending as refused:  # what the previous release answered: max_attempts_reached
            outcome["cancel"] = refused.verification_status

    cipher.during = cancel
    with pytest.raises(NotFound):
        check_code(deps, CheckRequest(GOOD_US, code))
    assert outcome["cancel"] == "canceled"
    assert read_verification(deps, vid).status == "canceled"


def test_the_right_last_attempt_before_the_cancel_makes_the_cancel_say_approved(world):
    deps, _ = world
    vid, code = issue_and_spend_all_but_one(deps)
    assert check_code(deps, CheckRequest(GOOD_US, code)).verification_id == vid
    with pytest.raises(NotPending) as refused:
        cancel_verification(deps, vid)
    assert refused.value.verification_status == "approved"


def test_a_wrong_last_attempt_leaves_the_code_out_of_attempts_and_not_cancelable(world):
    deps, _ = world
    vid, code = issue_and_spend_all_but_one(deps)
    with pytest.raises(InvalidCode) as wrong:
        check_code(deps, CheckRequest(GOOD_US, wrong_code(code)))
    assert wrong.value.attempts_remaining == 0
    with pytest.raises(NotPending) as refused:
        cancel_verification(deps, vid)
    assert refused.value.verification_status == "max_attempts_reached"
    with pytest.raises(TooManyAttempts):
        check_code(deps, CheckRequest(GOOD_US, code))


def test_a_cancel_while_a_wrong_last_attempt_is_checked_wins_and_the_answer_stays_wrong(world):
    deps, cipher = world
    vid, code = issue_and_spend_all_but_one(deps)
    cipher.during = lambda: cancel_verification(deps, vid)
    with pytest.raises(InvalidCode):
        check_code(deps, CheckRequest(GOOD_US, wrong_code(code)))
    assert read_verification(deps, vid).status == "canceled"  # the late "spent" changed nothing


def test_a_last_attempt_whose_decrypt_failed_is_spent_not_left_cancelable(world):
    deps, cipher = world
    vid, code = issue_and_spend_all_but_one(deps)

    def kms_down() -> None:
        raise DependencyFailure("kms:Decrypt KMSInternalException")

    cipher.during = kms_down
    with pytest.raises(ServiceUnavailable):
        check_code(deps, CheckRequest(GOOD_US, code))
    with pytest.raises(NotPending) as refused:
        cancel_verification(deps, vid)
    assert refused.value.verification_status == "max_attempts_reached"
