"""The state machine of tests/unit/test_model.py against the DynamoDB store on moto, in process.

The same rules and the same reference model; only the store is the real adapter, so every
conditional write, its ALL_OLD report and the item's layout are explored step by step. Fewer
examples than over the fakes: each step is a few moto calls. TEST_MODEL_EXAMPLES scales it up.
"""

from __future__ import annotations

import os
import secrets

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from otp.bootstrap import generate_dependencies, verification_dependencies
from otp.config import load_settings
from tests.fakes import FakeAdapters, FixedDeriver
from tests.helpers import GOOD_US, TABLE, FakeClock
from tests.model import reference
from tests.model.machine import STATS, UseCaseMachine

EXAMPLES = max(1, int(os.environ.get("TEST_MODEL_EXAMPLES", "150")) // 8)
STEPS = int(os.environ.get("TEST_MODEL_STEPS", "50"))


def dynamodb_store():  # type: ignore[no-untyped-def]
    """The adapter the bootstrap builds in Lambda (kept in one place, should the factory move)."""
    from otp.aws.clients import client
    from otp.aws.dynamodb import DynamoDbStore

    return DynamoDbStore(TABLE, lambda: client("dynamodb"))


class DynamoDbMachine(UseCaseMachine):
    def make_adapters(self) -> FakeAdapters:
        # A fresh digest secret per example gives every example its own record keys in one table,
        # so examples share nothing without emptying the table between them.
        return FakeAdapters(store=dynamodb_store(), deriver=FixedDeriver(secrets.token_bytes(32)))  # type: ignore[arg-type]


def test_the_dynamodb_store_answers_as_the_reference_model_predicts(aws):
    STATS.clear()
    run_state_machine_as_test(
        DynamoDbMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(f"model over DynamoDB on moto: {dict(STATS)}")
    assert STATS["examples"] >= EXAMPLES
    assert STATS["generate issued"] > 0  # the machine really reached the table


# ---- the counterexample this machine found, kept as a regression test -------------------------


@pytest.mark.parametrize(
    "store",
    [
        "memory",
        pytest.param(
            "dynamodb",
            marks=pytest.mark.xfail(
                strict=True,
                reason="dynamodb_forgets_the_replaced_code_after_a_failed_send: save_code sets "
                "replaced.#p = if_not_exists(codes.#p, NULL) while no code is pending",
            ),
        ),
    ],
)
def test_a_code_superseded_by_a_failed_send_is_still_found_after_the_next_code(store, request):
    """Both stores keep the same history: the fake keeps the superseded code, DynamoDB drops it."""
    from otp.domain.errors import DeliveryFailed
    from otp.use_cases.issue_code import IssueRequest, issue_code
    from otp.use_cases.read_verification import read_verification

    fakes = FakeAdapters()
    if store == "dynamodb":
        request.getfixturevalue("aws")
        fakes = FakeAdapters(store=dynamodb_store())  # type: ignore[arg-type]
    settings, clock = load_settings(reference.SETTINGS), FakeClock()
    generate = generate_dependencies(settings, fakes.adapters(), clock)
    views = verification_dependencies(settings, fakes.adapters(), clock)
    first = issue_code(generate, IssueRequest("sms", GOOD_US))
    clock.advance(reference.COOLDOWN)
    fakes.sender.refuse = True
    with pytest.raises(DeliveryFailed):
        issue_code(generate, IssueRequest("sms", GOOD_US))
    clock.advance(reference.COOLDOWN)
    fakes.sender.refuse = False
    issue_code(generate, IssueRequest("sms", GOOD_US))
    assert read_verification(views, first.verification_id).status == "superseded"
