"""One suite, two stores: the in-memory fake must keep every guarantee the DynamoDB store keeps.

The stores report facts; which limit refused is the domain's rule (otp.domain.limits), applied
here to what each store reports, so the rule exists once and the facts are held to it twice.
The atomic steps are interleaved by hand, so the guarantees do not depend on thread timing.
"""

import dataclasses

import pytest

from otp.domain.entities import AttemptLimits, FailureBlocks, IpQuota, SendPlan, SendRefusal, StoredCode, Window
from otp.domain.limits import send_refusal
from tests.fakes import InMemoryStore

NOW = 1_800_000_000
KEY = "dest#" + "ab" * 16
LIMITS = AttemptLimits(max_attempts=5, failures=Window(bucket=NOW // 86400, limit=25, resets_at=NOW + 1000))


@pytest.fixture(params=["memory", "dynamodb"])
def store(request):
    if request.param == "memory":
        return InMemoryStore()
    request.getfixturevalue("aws")
    from otp.aws.clients import client
    from otp.aws.dynamodb import DynamoDbStore

    return DynamoDbStore("otp_main", lambda: client("dynamodb"))


def plan(**changes) -> SendPlan:
    fields = dict(record_key=KEY, keep_until=NOW + 99_999)
    fields.update(changes)
    return SendPlan(**fields)


def code(verification_id="vrf_a", purpose="default", expires_at=NOW + 300) -> StoredCode:
    return StoredCode(
        verification_id=verification_id,
        purpose=purpose,
        channel="sms",
        masked_destination="+1******2671",
        created_at=NOW,
        expires_at=expires_at,
        ciphertext=b"cipher-" + verification_id.encode(),
    )


def take(store, sending: SendPlan, now: int) -> SendRefusal | None:
    """Take a send; None when it was taken, else the refusal the domain reads from the store's facts."""
    return send_refusal(sending, store.take_send(sending, now), now)


def save(store, verification_id="vrf_a", purpose="default", expires_at=NOW + 300):
    assert take(store, plan(), NOW) is None
    store.save_code(KEY, code(verification_id, purpose, expires_at), keep_until=NOW + 99_999, forget_before=NOW - 3600)


def reserve(store, verification_id=None, purpose="default", now=NOW, limits=LIMITS):
    return store.reserve_attempt(KEY, purpose, verification_id, now, limits)


def test_a_reservation_returns_the_code_with_its_ciphertext(store):
    save(store)
    reserved = reserve(store).reserved
    assert reserved.attempts == 1
    assert reserved.ciphertext == b"cipher-vrf_a"


def test_two_reservations_then_two_consumes_only_one_wins(store):
    save(store)
    first, second = reserve(store), reserve(store)
    assert first.reserved.attempts == 1
    assert second.reserved.attempts == 2
    assert store.consume(KEY, "default", "vrf_a", NOW, LIMITS) is True
    assert store.consume(KEY, "default", "vrf_a", NOW, LIMITS) is False
    after = reserve(store)
    assert after.reserved is None
    assert after.current.consumed_at == NOW
    assert after.current.ciphertext == b""  # dropped on use


def test_a_supersede_between_reserve_and_consume_wins(store):
    save(store, "vrf_old")
    reservation = reserve(store)
    save(store, "vrf_new")
    assert store.consume(KEY, "default", reservation.reserved.verification_id, NOW, LIMITS) is False
    assert reserve(store, "vrf_new").reserved.attempts == 1


def test_reservation_stops_at_the_limit_and_reports_the_code(store):
    save(store)
    limits = dataclasses.replace(LIMITS, max_attempts=3)
    assert [reserve(store, limits=limits).reserved.attempts for _ in range(3)] == [1, 2, 3]
    refused = reserve(store, limits=limits)
    assert refused.reserved is None
    assert refused.current.attempts == 3
    assert refused.record.failures[LIMITS.failures.bucket] == 3


def test_reservation_refuses_expired_missing_and_mismatched_codes(store):
    assert reserve(store).current is None
    save(store, expires_at=NOW)
    refused = reserve(store)
    assert refused.reserved is None
    assert refused.current.expires_at == NOW
    save(store)
    assert reserve(store, "vrf_other").reserved is None
    assert reserve(store, purpose="other").current is None


def test_the_destination_budget_spans_codes_and_purposes(store):
    limits = AttemptLimits(max_attempts=5, failures=Window(LIMITS.failures.bucket, 7, NOW + 1000))
    save(store, "vrf_a", "login")
    save(store, "vrf_b", "reset")
    taken = [reserve(store, purpose=p, limits=limits).reserved is not None for p in ["login"] * 5 + ["reset"] * 5]
    assert taken.count(True) == 7
    refused = reserve(store, purpose="reset", limits=limits)
    assert refused.reserved is None
    assert refused.record.failures[limits.failures.bucket] == 7


def test_a_right_code_gives_its_attempt_back(store):
    limits = AttemptLimits(max_attempts=5, failures=Window(LIMITS.failures.bucket, 2, NOW + 1000))
    for n in range(5):
        save(store, f"vrf_{n}")
        assert reserve(store, limits=limits).reserved is not None
        assert store.consume(KEY, "default", f"vrf_{n}", NOW, limits) is True
    assert store.read(KEY).failures[limits.failures.bucket] == 0


def test_failures_are_counted_per_network_and_given_back_by_a_right_code(store):
    from_a = dataclasses.replace(LIMITS, network="aa" * 16)
    save(store)
    assert reserve(store, limits=from_a).record.network_failures == {"aa" * 16: {LIMITS.failures.bucket: 1}}
    reservation = reserve(store, limits=from_a)
    assert reservation.record.failures[LIMITS.failures.bucket] == 2
    assert store.consume(KEY, "default", "vrf_a", NOW, from_a) is True
    record = store.read(KEY)
    assert record.failures[LIMITS.failures.bucket] == 1
    assert record.network_failures["aa" * 16][LIMITS.failures.bucket] == 1


def test_buckets_behind_the_window_are_dropped_by_the_next_reservation(store):
    old = dataclasses.replace(LIMITS, failures=Window(LIMITS.failures.bucket - 30, 25, NOW))
    save(store)
    reserve(store, limits=old)
    later = dataclasses.replace(LIMITS, stale_buckets=(LIMITS.failures.bucket - 30,))
    assert LIMITS.failures.bucket - 30 not in reserve(store, limits=later).record.failures


def test_generate_is_refused_while_a_failure_block_lasts(store):
    network = "bb" * 16
    save(store)
    assert take(store, plan(network=network), NOW) is None
    store.block_failures(KEY, FailureBlocks(network=network, network_until=NOW + 500))
    assert take(store, plan(network=network), NOW + 1) == SendRefusal(NOW + 500, ("failures_network",))
    assert take(store, plan(network="cc" * 16), NOW + 2) is None  # another network is not affected
    store.block_failures(KEY, FailureBlocks(destination_until=NOW + 900))
    assert take(store, plan(network="cc" * 16), NOW + 3) == SendRefusal(NOW + 900, ("failures_destination",))
    assert take(store, plan(), NOW + 900) is None


def test_withdraw_removes_only_its_own_code(store):
    save(store, "vrf_new")
    store.withdraw_code(KEY, "default", "vrf_old")
    assert reserve(store).reserved is not None
    store.withdraw_code(KEY, "default", "vrf_new")
    assert reserve(store).current is None


def test_a_message_id_is_kept_only_on_the_code_it_belongs_to(store):
    save(store, "vrf_old")
    store.keep_message_id(KEY, "default", "vrf_old", "msg-old")
    save(store, "vrf_new")
    store.keep_message_id(KEY, "default", "vrf_old", "msg-late")  # a newer code replaced it meanwhile
    record = store.read(KEY)
    assert record.codes["default"].message_id is None
    store.keep_message_id(KEY, "default", "vrf_new", "msg-new")
    assert store.read(KEY).codes["default"].message_id == "msg-new"
    assert record.replaced["default"].message_id == "msg-old"


def test_send_limits_are_all_or_nothing(store):
    sends = Window(bucket=1, limit=2, resets_at=NOW + 900)
    ip = Window(bucket=1, limit=3, resets_at=NOW + 3600)
    with_ip = {"ip": IpQuota("ip#x", ip)}
    assert take(store, plan(cooldown_until=NOW + 30, sends=sends, **with_ip), NOW) is None
    # The cooldown refuses: the window and the IP must not be charged for the refused send.
    assert take(store, plan(cooldown_until=NOW + 40, sends=sends, **with_ip), NOW + 10) == SendRefusal(
        NOW + 30, ("cooldown",)
    )
    assert take(store, plan(cooldown_until=NOW + 60, sends=sends, **with_ip), NOW + 30) is None
    assert take(store, plan(cooldown_until=NOW + 90, sends=sends, **with_ip), NOW + 60) == SendRefusal(
        NOW + 900, ("window",)
    )
    other = plan(record_key="dest#" + "cd" * 16, **with_ip)
    assert take(store, other, NOW + 61) is None  # the IP's third
    assert take(store, other, NOW + 62) == SendRefusal(NOW + 3600, ("ip",))


def test_a_status_read_sees_the_newest_and_the_superseded_code(store):
    assert store.read(KEY) is None
    save(store, "vrf_old")
    reserve(store)
    save(store, "vrf_new")
    record = store.read(KEY)
    assert record.codes["default"].verification_id == "vrf_new"
    assert record.replaced["default"].verification_id == "vrf_old"
    assert record.replaced["default"].attempts == 1
    assert record.replaced["default"].ciphertext == b""


def test_cancel_wins_once_and_only_while_pending(store):
    save(store)
    canceled, record = store.cancel(KEY, "default", "vrf_a", NOW, 5)
    assert canceled is True
    assert record.codes["default"].canceled_at == NOW
    again, record = store.cancel(KEY, "default", "vrf_a", NOW, 5)
    assert again is False
    assert record.codes["default"].canceled_at == NOW
    assert reserve(store).reserved is None


def test_cancel_and_consume_race_has_one_winner(store):
    save(store)
    reserve(store)
    assert store.cancel(KEY, "default", "vrf_a", NOW, 5)[0] is True
    assert store.consume(KEY, "default", "vrf_a", NOW, LIMITS) is False
    save(store, "vrf_b")
    reserve(store)
    assert store.consume(KEY, "default", "vrf_b", NOW, LIMITS) is True
    canceled, record = store.cancel(KEY, "default", "vrf_b", NOW, 5)
    assert canceled is False
    assert record.codes["default"].consumed_at == NOW


def test_cancel_refuses_ended_codes(store):
    save(store, expires_at=NOW)
    assert store.cancel(KEY, "default", "vrf_a", NOW, 5)[0] is False
    save(store, "vrf_b")
    for _ in range(5):
        reserve(store)
    store.spend(KEY, "default", "vrf_b", NOW)  # the last attempt was answered wrong
    canceled, record = store.cancel(KEY, "default", "vrf_b", NOW, 5)
    assert canceled is False
    assert (record.codes["default"].attempts, record.codes["default"].spent_at) == (5, NOW)
    assert store.cancel(KEY, "default", "vrf_unknown", NOW, 5)[0] is False
    assert store.cancel("dest#" + "00" * 16, "default", "vrf_b", NOW, 5) == (False, None)


def test_a_cancel_while_the_last_attempt_is_checked_wins_and_the_consume_loses(store):
    """Reserve the last attempt, cancel, then consume: the interleaving of a verify and a cancel."""
    save(store)
    for _ in range(5):
        reserve(store)
    canceled, record = store.cancel(KEY, "default", "vrf_a", NOW, 5)
    assert canceled is True
    assert record.codes["default"].canceled_at == NOW
    assert store.consume(KEY, "default", "vrf_a", NOW, LIMITS) is False
    store.spend(KEY, "default", "vrf_a", NOW)  # too late: the cancel came first and stays
    assert store.read(KEY).codes["default"].spent_at is None


def test_the_right_last_attempt_consumed_before_the_cancel_reads_as_approved_facts(store):
    save(store)
    for _ in range(5):
        reserve(store)
    assert store.consume(KEY, "default", "vrf_a", NOW, LIMITS) is True
    canceled, record = store.cancel(KEY, "default", "vrf_a", NOW, 5)
    assert canceled is False
    assert record.codes["default"].consumed_at == NOW and record.codes["default"].spent_at is None


def test_spending_the_last_attempt_marks_only_that_live_code(store):
    save(store)
    for _ in range(5):
        reserve(store)
    store.spend(KEY, "default", "vrf_other", NOW)  # another id: nothing
    assert store.read(KEY).codes["default"].spent_at is None
    store.spend(KEY, "default", "vrf_a", NOW + 1)
    assert store.read(KEY).codes["default"].spent_at == NOW + 1
    assert reserve(store).reserved is None
    # An earlier attempt, reserved before the last and still being checked, may yet prove right.
    assert store.consume(KEY, "default", "vrf_a", NOW, LIMITS) is True
    store.spend("dest#" + "00" * 16, "default", "vrf_a", NOW)  # no record: nothing, no error


def test_a_caller_inventing_purposes_cannot_grow_a_record_without_bound(store):
    for n in range(12):
        save(store, f"vrf_old{n}", f"old-{n}", expires_at=NOW - 7200)  # long ended
    for n in range(3):
        save(store, f"vrf_new{n}", f"new-{n}")
    record = store.read(KEY)
    assert len(record.codes) <= 9
    assert {f"new-{n}" for n in range(3)} <= set(record.codes)


def test_a_save_reports_the_record_and_keeps_the_replaced_code_past_a_withdrawn_one(store):
    save(store, "vrf_old")
    assert take(store, plan(), NOW) is None
    saved = store.save_code(KEY, code("vrf_failed"), keep_until=NOW + 99_999, forget_before=NOW - 3600)
    assert saved.codes["default"].verification_id == "vrf_failed"
    assert saved.replaced["default"].verification_id == "vrf_old"
    store.withdraw_code(KEY, "default", "vrf_failed")  # its delivery failed
    assert take(store, plan(), NOW) is None
    saved = store.save_code(KEY, code("vrf_next"), keep_until=NOW + 99_999, forget_before=NOW - 3600)
    # Nothing was pending: the code the failed send superseded is still the replaced one.
    for record in (saved, store.read(KEY)):
        assert record.codes["default"].verification_id == "vrf_next"
        assert record.replaced["default"].verification_id == "vrf_old"
    save(store, "vrf_last")  # and a pending code moves to `replaced` as before
    assert store.read(KEY).replaced["default"].verification_id == "vrf_next"


def test_what_a_code_showed_when_it_ended_is_kept_once_on_the_code_named(store):
    save(store, "vrf_a")
    reserve(store)
    assert store.consume(KEY, "default", "vrf_a", NOW, LIMITS, resend_at=NOW + 30) is True
    store.mark_ended(KEY, "default", "vrf_a", NOW + 99)  # already kept: the first value stays
    assert store.read(KEY).codes["default"].resend_at == NOW + 30
    save(store, "vrf_b")
    store.mark_ended(KEY, "default", "vrf_a", NOW + 40)  # not the newest code: ignored
    store.mark_ended(KEY, "default", "vrf_b", NOW + 40)
    save(store, "vrf_c")
    store.mark_ended(KEY, "default", "vrf_c", NOW + 50, superseded_at=NOW + 5)  # not the replaced one
    store.mark_ended(KEY, "default", "vrf_b", NOW + 50, superseded_at=NOW + 5)  # b was kept already
    record = store.read(KEY)
    assert (record.replaced["default"].resend_at, record.replaced["default"].superseded_at) == (NOW + 40, None)
    assert record.codes["default"].resend_at is None
    save(store, "vrf_d")
    store.mark_ended(KEY, "default", "vrf_c", NOW + 60, superseded_at=NOW + 6)
    replaced = store.read(KEY).replaced["default"]
    assert (replaced.verification_id, replaced.resend_at, replaced.superseded_at) == ("vrf_c", NOW + 60, NOW + 6)
    store.mark_ended("dest#" + "00" * 16, "default", "vrf_d", NOW)  # no such record: nothing happens
    assert store.read("dest#" + "00" * 16) is None
