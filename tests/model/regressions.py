"""The counterexamples the state machine found, as plain scenarios run against either store.

tests/unit/test_model.py runs each over the in-memory fakes and
tests/integration/test_model_dynamodb.py over the DynamoDB store on moto: the defects were in
the domain's reading of the record (1, 2) and in the DynamoDB adapter alone (3), so each store
must hold every one.

1. A finished verification's resend_available_at followed later activity on its destination;
   the contract says it keeps the value it had when it left pending.
2. A code superseded by a /generate whose delivery failed read "superseded", then "expired".
3. DynamoDB: after that failed send, the next code stored dropped the superseded one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from otp.bootstrap import generate_dependencies, verification_dependencies, verify_dependencies
from otp.config import load_settings
from otp.domain.errors import DeliveryFailed, InvalidCode, NotPending
from otp.use_cases.cancel_verification import cancel_verification
from otp.use_cases.check_code import CheckRequest, check_code
from otp.use_cases.issue_code import IssuedCode, IssueRequest, issue_code
from otp.use_cases.read_verification import read_verification
from otp.use_cases.verification_view import VerificationView
from tests.fakes import FakeAdapters
from tests.helpers import GOOD_US, FakeClock, wrong_code
from tests.model import reference

COOLDOWN = 5
# The model's small settings, with a cooldown that ends well inside a code's validity.
SMALL = {**reference.SETTINGS, "OTP_RESEND_COOLDOWN_SECONDS": str(COOLDOWN)}


@dataclass
class World:
    fakes: FakeAdapters
    clock: FakeClock
    generate: Any
    verify: Any
    views: Any

    @classmethod
    def over(cls, fakes: FakeAdapters) -> World:
        settings, clock, adapters = load_settings(SMALL), FakeClock(), fakes.adapters()
        return cls(
            fakes,
            clock,
            generate_dependencies(settings, adapters, clock),
            verify_dependencies(settings, adapters, clock),
            verification_dependencies(settings, adapters, clock),
        )

    def issue(self, purpose: str = "default") -> tuple[IssuedCode, str]:
        issued = issue_code(self.generate, IssueRequest("sms", GOOD_US, purpose=purpose))
        found = re.search(rf"(?<!\d)\d{{{reference.CODE_LENGTH}}}(?!\d)", self.fakes.sender.sms[-1][1])
        assert found
        return issued, found.group(0)

    def read(self, issued: IssuedCode) -> VerificationView:
        return read_verification(self.views, issued.verification_id)

    def later_activity(self) -> None:
        """A send for another purpose on the same destination, in a new send window, then time."""
        self.clock.advance(reference.SEND_WINDOW)
        self.issue("login")
        self.clock.advance(reference.TTL)


def _created(issued: IssuedCode) -> int:
    return issued.expires_at - reference.TTL


# ---- 1. each way of leaving pending freezes resend_available_at ------------------------------
# Each ending returns the status it leads to and the value the verification must keep: the one
# it showed at that moment (a supersede's own send moves the cooldown, so that value is newer).


def _by_cancel(world: World, issued: IssuedCode, code: str, pending: int) -> tuple[str, int]:
    assert cancel_verification(world.views, issued.verification_id).resend_available_at == pending
    return "canceled", pending


def _by_approval(world: World, issued: IssuedCode, code: str, pending: int) -> tuple[str, int]:
    check_code(world.verify, CheckRequest(GOOD_US, code))
    return "approved", pending


def _by_attempts(world: World, issued: IssuedCode, code: str, pending: int) -> tuple[str, int]:
    for _ in range(reference.MAX_ATTEMPTS):  # fewer than the failure bound: no block moves the value
        with pytest.raises(InvalidCode):
            check_code(world.verify, CheckRequest(GOOD_US, wrong_code(code)))
    return "max_attempts_reached", pending


def _by_supersede(world: World, issued: IssuedCode, code: str, pending: int) -> tuple[str, int]:
    newer, _ = world.issue()
    return "superseded", _created(newer) + COOLDOWN


def _by_failed_supersede(world: World, issued: IssuedCode, code: str, pending: int) -> tuple[str, int]:
    world.fakes.sender.refuse = True
    with pytest.raises(DeliveryFailed):
        world.issue()
    world.fakes.sender.refuse = False
    return "superseded", int(world.clock()) + COOLDOWN  # the failed send's cooldown was taken


def _by_expiry(world: World, issued: IssuedCode, code: str, pending: int) -> tuple[str, int]:
    world.clock.advance(reference.TTL)
    return "expired", _created(issued) + COOLDOWN  # computed: its own send's cooldown end


ENDINGS: dict[str, Callable[[World, IssuedCode, str, int], tuple[str, int]]] = {
    "cancel": _by_cancel,
    "approval": _by_approval,
    "attempts": _by_attempts,
    "supersede": _by_supersede,
    "failed_supersede": _by_failed_supersede,
    "expiry": _by_expiry,
}


def a_finished_verification_keeps_its_resend_available_at(world: World, ending: str) -> None:
    issued, code = world.issue()
    world.clock.advance(COOLDOWN)
    pending = world.read(issued)
    assert (pending.status, pending.resend_available_at) == ("pending", _created(issued) + COOLDOWN)
    status, kept = ENDINGS[ending](world, issued, code, pending.resend_available_at)
    ended = world.read(issued)
    assert (ended.status, ended.resend_available_at) == (status, kept)
    world.later_activity()
    later = world.read(issued)
    assert (later.status, later.resend_available_at) == (status, kept), "it follows later activity"
    if status != "canceled":
        with pytest.raises(NotPending) as refused:
            cancel_verification(world.views, issued.verification_id)
        assert refused.value.verification_status == status


# ---- 2 and 3. a code superseded by a failed send stays superseded, and stays found -------------


def a_code_superseded_by_a_failed_send_stays_superseded(world: World) -> None:
    first, _ = world.issue()
    world.clock.advance(COOLDOWN)
    world.fakes.sender.refuse = True
    with pytest.raises(DeliveryFailed):
        world.issue()
    world.fakes.sender.refuse = False
    assert world.read(first).status == "superseded"
    world.clock.advance(reference.TTL)
    # A finished verification does not change status: superseded is where this one ended.
    assert world.read(first).status == "superseded"
    with pytest.raises(NotPending) as refused:
        cancel_verification(world.views, first.verification_id)
    assert refused.value.verification_status == "superseded"
    # The next code stored supersedes nothing pending: the code the failed send superseded stays.
    newest, _ = world.issue()
    assert world.read(first).status == "superseded"
    assert world.read(newest).status == "pending"


SCENARIOS: dict[str, Callable[[World], None]] = {
    **{
        f"finished_by_{name}_keeps_resend_available_at": (
            lambda world, name=name: a_finished_verification_keeps_its_resend_available_at(world, name)
        )
        for name in ENDINGS
    },
    "superseded_by_a_failed_send_stays_superseded_and_found": a_code_superseded_by_a_failed_send_stays_superseded,
}
