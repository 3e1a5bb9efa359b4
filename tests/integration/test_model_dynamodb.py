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

from otp.aws.clients import client
from otp.use_cases.check_code import CheckRequest, check_code
from tests.fakes import FakeAdapters, FixedDeriver
from tests.helpers import GOOD_US, TABLE
from tests.model import reference
from tests.model.machine import STATS, UseCaseMachine, summary
from tests.model.regressions import COOLDOWN, SCENARIOS, World

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
    print(f"STATS model over DynamoDB on moto: {summary()}")
    assert STATS["examples"] >= EXAMPLES
    assert STATS["generate issued"] > 0  # the machine really reached the table


# ---- the counterexamples, held by the DynamoDB store too -------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_counterexample_the_machine_found_stays_fixed_on_dynamodb(aws, scenario):
    scenario(World.over(FakeAdapters(store=dynamodb_store())))  # type: ignore[arg-type]


def test_an_item_of_the_previous_release_reads_sensibly(aws):
    """Items written before finished codes kept resend_at and superseded_at still read: the
    superseded code dates its supersede by the newest code, and both fall back to their own cooldown."""
    world = World.over(FakeAdapters(store=dynamodb_store()))  # type: ignore[arg-type]
    first, _ = world.issue()
    world.clock.advance(COOLDOWN)
    second, code = world.issue()
    check_code(world.verify, CheckRequest(GOOD_US, code))
    dynamodb = client("dynamodb")
    [item] = [i for i in dynamodb.scan(TableName=TABLE)["Items"] if "codes" in i]
    assert "superseded_at" in item["replaced"]["M"]["default"]["M"]  # what this release writes
    dynamodb.update_item(
        TableName=TABLE,
        Key={"id": item["id"]},
        UpdateExpression="REMOVE replaced.#p.resend_at, replaced.#p.superseded_at, codes.#p.resend_at",
        ExpressionAttributeNames={"#p": "default"},
    )
    world.clock.advance(reference.SEND_WINDOW)
    for issued, status in ((first, "superseded"), (second, "approved")):
        view = world.read(issued)
        assert (view.status, view.resend_available_at) == (status, issued.expires_at - reference.TTL + COOLDOWN)
