import pytest

from otp.domain.entities import AttemptLimits, AttemptReservation, StoredCode, Window
from otp.domain.errors import Expired, NotFound, TooManyAttempts
from otp.domain.verification import attempts_remaining, refusal, status_of

NOW = 1_800_000_000


def pending(**changes) -> StoredCode:
    fields = dict(
        verification_id="vrf_1",
        channel="sms",
        purpose="default",
        masked_destination="+1******2671",
        ciphertext=b"x",
        created_at=NOW - 10,
        expires_at=NOW + 290,
        attempts=1,
    )
    fields.update(changes)
    return StoredCode(**fields)


@pytest.mark.parametrize(
    ("current", "verification_id", "budget_spent", "expected"),
    [
        (None, None, False, NotFound),
        (pending(consumed_at=NOW - 1), None, False, NotFound),
        (pending(consumed_at=NOW - 1, expires_at=NOW - 1), None, False, NotFound),
        (pending(canceled_at=NOW - 1), None, False, NotFound),
        (pending(), "vrf_other", False, NotFound),
        (pending(expires_at=NOW), None, False, Expired),
        (pending(expires_at=NOW - 100, attempts=5), None, False, Expired),
        (pending(attempts=5), None, False, TooManyAttempts),
        (pending(attempts=5), "vrf_1", False, TooManyAttempts),
        (pending(attempts=2), None, True, TooManyAttempts),  # the destination's failure budget is spent
        (pending(attempts=2), None, False, NotFound),
    ],
)
def test_refusals_map_to_the_contract(current, verification_id, budget_spent, expected):
    limits = AttemptLimits(max_attempts=5, failures=Window(bucket=0, limit=25, resets_at=NOW + 60))
    reservation = AttemptReservation(reserved=None, current=current)
    assert isinstance(refusal(reservation, verification_id, NOW, limits, budget_spent), expected)


def test_attempts_remaining_counts_down_to_zero():
    assert [attempts_remaining(pending(attempts=n), 5) for n in range(1, 6)] == [4, 3, 2, 1, 0]


@pytest.mark.parametrize(
    ("code", "superseded_at", "expected"),
    [
        (pending(), None, "pending"),
        (pending(consumed_at=NOW - 5), None, "approved"),
        (pending(consumed_at=NOW - 5, expires_at=NOW - 1), None, "approved"),
        (pending(canceled_at=NOW - 5), None, "canceled"),
        (pending(attempts=5), None, "max_attempts_reached"),
        (pending(attempts=5, expires_at=NOW - 1), None, "max_attempts_reached"),
        (pending(expires_at=NOW), None, "expired"),
        (pending(), NOW - 5, "superseded"),
        (pending(expires_at=NOW - 100), NOW - 5, "expired"),  # it had expired before the new code came
        (pending(expires_at=NOW - 1), NOW - 5, "superseded"),  # it was still live when replaced
        (pending(consumed_at=NOW - 9), NOW - 5, "approved"),
    ],
)
def test_status_is_what_ended_the_code_first(code, superseded_at, expected):
    assert status_of(code, NOW, 5, superseded_at=superseded_at) == expected
