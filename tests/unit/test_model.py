"""The use cases explored by a state machine against the reference model, not sampled by examples.

`make test` runs enough examples to matter in seconds; TEST_MODEL_EXAMPLES=5000 explores further.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from otp.domain.ports import DependencyFailure
from otp.use_cases.cancel_verification import cancel_verification
from tests.fakes import FakeAdapters, InMemoryStore
from tests.model.machine import STATS, UseCaseMachine, summary
from tests.model.reference import TTL
from tests.model.regressions import COOLDOWN, SCENARIOS, World

EXAMPLES = int(os.environ.get("TEST_MODEL_EXAMPLES", "150"))
STEPS = int(os.environ.get("TEST_MODEL_STEPS", "50"))


def test_the_use_cases_answer_as_the_reference_model_predicts():
    STATS.clear()
    run_state_machine_as_test(
        UseCaseMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(f"STATS model over the fakes: {summary()}")
    assert STATS["examples"] >= EXAMPLES  # every example ran; a machine that never started fails here


# ---- counterexamples the machine found, kept as regression tests ------------------------------
# Each departed from the contract until fixed; tests/model/regressions.py says which and why.


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_counterexample_the_machine_found_stays_fixed(scenario):
    scenario(World.over(FakeAdapters()))


class _StoreThatCannotMark(InMemoryStore):
    def mark_ended(self, *args: object, **kwargs: object) -> None:
        raise DependencyFailure("dynamodb:UpdateItem InternalServerError")


def test_a_failed_ending_mark_costs_the_frozen_value_only_never_the_answer():
    world = World.over(FakeAdapters(store=_StoreThatCannotMark()))
    first, _ = world.issue()
    world.clock.advance(COOLDOWN)
    world.issue()  # supersedes the first: its mark fails
    world.clock.advance(COOLDOWN)
    issued, _ = world.issue("login")
    canceled = cancel_verification(world.views, issued.verification_id)  # its mark fails too
    assert canceled.status == "canceled"
    world.later_activity()
    # No 503 and nothing half-written: both read as they ended, from their own cooldown's end.
    later = world.read(issued)
    assert (later.status, later.resend_available_at) == ("canceled", later.created_at + COOLDOWN)
    superseded = world.read(first)
    assert (superseded.status, superseded.resend_available_at) == ("superseded", first.expires_at - TTL + COOLDOWN)
