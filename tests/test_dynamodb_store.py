"""The store's atomic steps, interleaved by hand: the guarantees do not depend on thread timing."""

import pytest

from otp.aws.clients import client
from otp.aws.dynamodb import DynamoDbStore
from otp.ports import Cooldown, PendingCode, SendQuota, SendRefusal

NOW = 1_800_000_000


@pytest.fixture
def store(aws):
    return DynamoDbStore("otp_main", lambda: client("dynamodb"))


def save(store, verification_id="vrf_a", expires_at=NOW + 300):
    store.save_pending(
        PendingCode(
            record_key="otp#default#k",
            verification_id=verification_id,
            channel="sms",
            purpose="default",
            masked_destination="+1******2671",
            ciphertext=b"cipher",
            created_at=NOW,
            expires_at=expires_at,
        ),
        ttl_until=expires_at + 3600,
    )


def test_two_reservations_then_two_consumes_only_one_wins(store):
    save(store)
    first = store.reserve_attempt("otp#default#k", None, NOW, 5)
    second = store.reserve_attempt("otp#default#k", None, NOW, 5)
    assert first.reserved.attempts == 1 and second.reserved.attempts == 2
    assert store.consume("otp#default#k", "vrf_a", NOW) is True
    assert store.consume("otp#default#k", "vrf_a", NOW) is False
    after = store.reserve_attempt("otp#default#k", None, NOW, 5)
    assert after.reserved is None and after.current.consumed
    assert after.current.ciphertext == b""  # dropped on use


def test_a_supersede_between_reserve_and_consume_wins(store):
    save(store, "vrf_old")
    reservation = store.reserve_attempt("otp#default#k", None, NOW, 5)
    save(store, "vrf_new")
    assert store.consume("otp#default#k", reservation.reserved.verification_id, NOW) is False
    assert store.reserve_attempt("otp#default#k", "vrf_new", NOW, 5).reserved.attempts == 1


def test_reservation_stops_at_the_limit_and_reports_the_record(store):
    save(store)
    for n in range(1, 4):
        assert store.reserve_attempt("otp#default#k", None, NOW, 3).reserved.attempts == n
    refused = store.reserve_attempt("otp#default#k", None, NOW, 3)
    assert refused.reserved is None
    assert refused.current.attempts == 3


def test_reservation_refuses_expired_missing_and_mismatched_codes(store):
    assert store.reserve_attempt("otp#default#k", None, NOW, 5).current is None
    save(store, expires_at=NOW)
    refused = store.reserve_attempt("otp#default#k", None, NOW, 5)
    assert refused.reserved is None and refused.current.expires_at == NOW
    save(store)
    assert store.reserve_attempt("otp#default#k", "vrf_other", NOW, 5).reserved is None


def test_discard_removes_only_its_own_code(store):
    save(store, "vrf_new")
    store.discard_pending("otp#default#k", "vrf_old")
    assert store.reserve_attempt("otp#default#k", None, NOW, 5).reserved is not None
    store.discard_pending("otp#default#k", "vrf_new")
    assert store.reserve_attempt("otp#default#k", None, NOW, 5).current is None


def test_send_limits_are_all_or_nothing(store):
    quota = SendQuota("sends#d#1", limit=2, resets_at=NOW + 900, name="destination_window")
    assert store.reserve_send(Cooldown("cooldown#d", NOW + 30), [quota], NOW) is None
    # Cooldown refuses: the quota must not be charged for the refused send.
    assert store.reserve_send(Cooldown("cooldown#d", NOW + 40), [quota], NOW + 10) == SendRefusal(
        NOW + 30, ("cooldown",)
    )
    assert store.reserve_send(Cooldown("cooldown#d", NOW + 60), [quota], NOW + 30) is None
    assert store.reserve_send(Cooldown("cooldown#d", NOW + 90), [quota], NOW + 60) == SendRefusal(
        NOW + 900, ("destination_window",)
    )
