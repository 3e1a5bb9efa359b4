"""The use cases explored by a state machine against the reference model, not sampled by examples.

`make test` runs enough examples to matter in seconds; TEST_MODEL_EXAMPLES=5000 explores further.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.fakes import FakeAdapters
from tests.model.machine import STATS, UseCaseMachine, summary
from tests.model.regressions import SCENARIOS, World

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
