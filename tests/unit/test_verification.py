import pytest

from otp.errors import Expired, NotFound, TooManyAttempts
from otp.ports import PendingCode
from otp.verification import attempts_remaining, refusal

NOW = 1_800_000_000


def pending(**changes) -> PendingCode:
    fields = dict(
        record_key="otp#default#abc",
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
    return PendingCode(**fields)


@pytest.mark.parametrize(
    ("current", "verification_id", "expected"),
    [
        (None, None, NotFound),
        (pending(consumed=True), None, NotFound),
        (pending(consumed=True, expires_at=NOW - 1), None, NotFound),
        (pending(), "vrf_other", NotFound),
        (pending(expires_at=NOW), None, Expired),
        (pending(expires_at=NOW - 100, attempts=5), None, Expired),
        (pending(attempts=5), None, TooManyAttempts),
        (pending(attempts=5), "vrf_1", TooManyAttempts),
        (pending(attempts=2), None, NotFound),
    ],
)
def test_refusals_map_to_the_contract(current, verification_id, expected):
    assert isinstance(refusal(current, verification_id, NOW, max_attempts=5), expected)


def test_attempts_remaining_counts_down_to_zero():
    assert [attempts_remaining(pending(attempts=n), 5) for n in range(1, 6)] == [4, 3, 2, 1, 0]
