"""Test destinations (semantics 16) through `make run`: the fixed code verifies, nothing is delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import start_runner, stop_runner

NUMBER = "+12025550123"


@pytest.fixture(scope="module")
def review_runner(runner_logs):
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = start_runner(
        runner_logs,
        OTP_TEST_DESTINATIONS=f"{NUMBER}=246810,review@example.com=135790",
        OTP_TEST_DESTINATIONS_VALID_UNTIL=until,
    )
    yield started
    stop_runner(started)


def test_a_test_destination_verifies_its_fixed_code_and_receives_nothing(review_runner):
    reply = review_runner.post("/generate", {"channel": "voice", "destination": NUMBER})
    assert reply.status_code == 201, reply.text
    assert not [m for m in review_runner.outbox() if m["destination"] == NUMBER]
    wrong = review_runner.post("/verify", {"destination": NUMBER, "code": "111111"})
    assert wrong.json()["error"]["attempts_remaining"] == 4  # every rule applies
    assert review_runner.post("/verify", {"destination": NUMBER, "code": "246810"}).status_code == 200
    assert "test destination: fixed code stored, nothing sent" in review_runner.logs()


def test_other_destinations_get_random_codes_as_usual(review_runner):
    _, code = review_runner.generate("+14155552671")
    assert code != "246810"


def test_an_expired_list_is_ignored_and_warned_of(runner_logs):
    until = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = start_runner(
        runner_logs, OTP_TEST_DESTINATIONS=f"{NUMBER}=246810", OTP_TEST_DESTINATIONS_VALID_UNTIL=until
    )
    try:
        _, code = started.generate(NUMBER)
        assert code  # delivered, with a random code
    finally:
        stop_runner(started)
