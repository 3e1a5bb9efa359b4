"""Send limits, SMS fraud guards and Idempotency-Key, each at its edges, with an injectable clock."""

import json
import threading

import pytest

from tests.helpers import GOOD_IN, GOOD_US
from tests.integration.faults import Gate

SMS = {"channel": "sms", "destination": GOOD_US}


def refused(reply, retry_after):
    assert reply.status == 429, reply.body
    assert reply.error == "rate_limited"
    assert reply.body["error"]["retry_after"] == retry_after
    assert reply.headers["retry-after"] == str(retry_after)
    return True


def test_resend_cooldown_edges(api, aws):
    assert api.generate(SMS).status == 201
    api.clock.advance(29)
    assert refused(api.generate(SMS), 1)
    api.clock.advance(1)
    assert api.generate(SMS).status == 201
    assert len(aws.sms()) == 2


def test_the_cooldown_spans_purposes(api):
    assert api.generate(SMS).status == 201
    api.clock.advance(10)
    assert refused(api.generate({**SMS, "purpose": "password-reset"}), 20)


def test_the_cooldown_is_per_destination(api):
    assert api.generate(SMS).status == 201
    assert api.generate({"channel": "sms", "destination": GOOD_IN}).status == 201


def test_a_zero_cooldown_is_off(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0")
    assert [api.generate(SMS).status for _ in range(3)] == [201, 201, 201]


def test_destination_window_edges(make_api, aws):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="3", OTP_SEND_WINDOW_SECONDS="900")
    for _ in range(3):  # the clock starts on a window boundary
        assert api.generate(SMS).status == 201
        api.clock.advance(100)
    assert refused(api.generate(SMS), 600)  # 300 s into the window, 600 s left
    api.clock.advance(599)
    assert refused(api.generate(SMS), 1)
    api.clock.advance(1)
    assert api.generate(SMS).status == 201
    assert len(aws.sms()) == 4


def test_a_zero_window_limit_is_off(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0")
    assert all(api.generate(SMS).status == 201 for _ in range(8))


def test_source_ip_limit_edges_on_open_routes(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_SENDS_PER_IP="2")
    numbers = ["+14155552671", "+12025550123", "+919876543210"]

    def send(number, ip):
        return api.generate({"channel": "sms", "destination": number}, source_ip=ip, iam_authorized=False)

    assert send(numbers[0], "198.51.100.7").status == 201
    api.clock.advance(1800)
    assert send(numbers[1], "198.51.100.7").status == 201
    assert refused(send(numbers[2], "198.51.100.7"), 1800)
    # Another caller is not affected.
    assert send(numbers[2], "198.51.100.8").status == 201
    api.clock.advance(1800)
    assert send(numbers[2], "198.51.100.7").status == 201


def test_a_zero_ip_limit_is_off(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_SENDS_PER_IP="0")
    assert all(api.generate(SMS, source_ip="198.51.100.9", iam_authorized=False).status == 201 for _ in range(60))
    assert all(api.generate({**SMS, "client_ip": "198.51.100.9"}).status == 201 for _ in range(60))


def test_limits_are_checked_before_any_kms_call_or_delivery(api, aws, faults):
    faults.watch("kms", "Encrypt")
    faults.watch("sns", "Publish")
    assert api.generate(SMS).status == 201
    assert refused(api.generate(SMS), 30)
    assert faults.attempts["kms.Encrypt"] == 1
    assert faults.attempts["sns.Publish"] == 1


def test_a_refused_send_does_not_use_up_the_window(make_api):
    api = make_api(OTP_MAX_SENDS_PER_WINDOW="2")
    assert api.generate(SMS).status == 201
    for _ in range(5):  # all refused by the cooldown
        assert api.generate(SMS).status == 429
    api.clock.advance(30)
    assert api.generate(SMS).status == 201  # the window still had room for this one


def test_twenty_concurrent_generates_for_a_new_destination_send_once(api, aws):
    # All threads share one set of handler modules, which Lambda never does, but every event is the
    # same, so what is raced here is the store's condition, as in AWS.
    barrier = threading.Barrier(20)
    statuses = []

    def request():
        barrier.wait()
        statuses.append(api.generate(SMS).status)

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [429] * 19
    assert len(aws.sms()) == 1


def test_each_refusal_is_counted_by_reason(api, capsys):
    api.generate(SMS)
    capsys.readouterr()
    api.generate(SMS)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [metrics] = emitted
    names = {m["Name"] for m in metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"RateLimited", "RateLimitedByCooldown", "EndUserIpMissing"}
    assert metrics["channel"] == "sms"


def test_countries_allow_list_with_several_regions(make_api, aws):
    api = make_api(OTP_SMS_ALLOWED_COUNTRIES="IN,FR")
    assert api.generate({"channel": "sms", "destination": "+33612345678"}).status == 201
    assert api.generate({"channel": "sms", "destination": GOOD_IN}).status == 201
    reply = api.generate({"channel": "sms", "destination": "+61491570156"})
    assert reply.status == 403
    assert reply.error == "destination_not_allowed"
    assert len(aws.sms()) == 2


# ---- Idempotency-Key -------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_first_answer_and_sends_nothing(api, aws):
    headers = {"content-type": "application/json", "idempotency-key": "order-42-login"}
    first = api.generate(SMS, headers=headers)
    api.clock.advance(5)  # inside the cooldown: without the key this would be a 429
    second = api.generate(SMS, headers=headers)
    assert first.status == second.status == 201
    assert second.body == first.body
    assert len(aws.sms()) == 1


def test_the_same_key_with_another_body_is_a_conflict(api, aws):
    headers = {"idempotency-key": "k-1"}
    assert api.generate(SMS, headers=headers).status == 201
    reply = api.generate({**SMS, "purpose": "other"}, headers=headers)
    assert reply.status == 409
    assert reply.error == "idempotency_conflict"
    assert len(aws.sms()) == 1


def test_a_duplicate_while_the_first_is_in_flight_is_request_in_progress(api, aws):
    gate = Gate("sns", "Publish")
    headers = {"idempotency-key": "in-flight"}
    first = []
    thread = threading.Thread(target=lambda: first.append(api.generate(SMS, headers=headers)))
    thread.start()
    assert gate.reached.wait(timeout=10)
    try:
        duplicate = api.generate(SMS, headers=headers)
    finally:
        gate.open()
        thread.join()
    assert duplicate.status == 409
    assert duplicate.error == "request_in_progress"
    assert first[0].status == 201
    assert len(aws.sms()) == 1


def test_a_failed_request_can_be_retried_with_the_same_key(api, aws, faults, backoff_sleeps):
    headers = {"idempotency-key": "retry-me"}
    faults.fail("sns", "Publish", 400, "InvalidParameter")
    assert api.generate(SMS, headers=headers).status == 502
    faults.heal()
    api.clock.advance(30)
    assert api.generate(SMS, headers=headers).status == 201
    assert len(aws.sms()) == 1


@pytest.mark.parametrize("key", ["x" * 129, "tab\there", "naïve", ""])
def test_malformed_keys_are_400(api, aws, key):
    reply = api.generate(SMS, headers={"idempotency-key": key})
    assert reply.status == 400
    assert reply.body["error"]["details"][0]["field"] == "Idempotency-Key"
    assert aws.sms() == []


def test_idempotency_records_live_under_their_own_prefix_with_a_ttl(api, aws):
    api.generate(SMS, headers={"idempotency-key": "prefix-check"})
    code = api.last_code(GOOD_US)
    [record] = [item for item in aws.table_items() if item["id"]["S"].startswith("idem#")]
    assert record["status"]["S"] == "COMPLETED"
    assert int(record["expiry"]["N"]) > 0
    stored = json.dumps(record, default=str)
    assert code not in stored  # only the 201 body is kept, and it never holds the code
    assert GOOD_US not in stored


WITH_IP = {**SMS, "client_ip": "203.0.113.7"}


def test_a_concurrent_transaction_on_the_same_limits_is_a_short_rate_limit(api, aws, faults):
    # DynamoDB cancels one of two transactions that touch the same counters at the same moment.
    reasons = [{"Code": "TransactionConflict"}, {"Code": "None"}]
    faults.fail("dynamodb", "TransactWriteItems", 400, "TransactionCanceledException", CancellationReasons=reasons)
    assert refused(api.generate(WITH_IP), 1)
    assert aws.sms() == []


def test_a_transaction_cancelled_for_throttling_is_503(api, aws, faults, backoff_sleeps):
    reasons = [{"Code": "ThrottlingError"}, {"Code": "None"}]
    faults.fail("dynamodb", "TransactWriteItems", 400, "TransactionCanceledException", CancellationReasons=reasons)
    reply = api.generate(WITH_IP)
    assert reply.status == 503
    assert aws.sms() == []


def test_an_idempotency_record_lets_no_table_reader_test_candidate_numbers(api, aws):
    """Security finding: Powertools hashes the payload with unkeyed MD5, and the body holds the number.

    Candidate numbers (the real one among them) are tried the way a table reader would: the body as
    the request sent it, hashed as Powertools hashes payloads. None may match anything stored; with
    the unkeyed hash of round 2 the real number's matched the record's validation hash.
    """
    import hashlib

    body = {"channel": "sms", "destination": GOOD_US, "purpose": "default", "locale": None, "client_ip": None}
    api.generate(SMS, headers={"idempotency-key": "dump-check"})
    [record] = [item for item in aws.table_items() if item["id"]["S"].startswith("idem#")]
    stored = {str(value.get("S", "")) for value in record.values()} | {record["id"]["S"].split("#")[-1]}
    prefix, suffix = GOOD_US[:-6], GOOD_US[-4:]
    for middle in range(100):
        number = f"{prefix}{middle:02d}{suffix}"
        wrapped = {"key": "dump-check", "request": {**body, "destination": number}}
        for payload in ({**body, "destination": number}, wrapped):
            digest = hashlib.md5(json.dumps(payload, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
            assert digest not in stored
    assert record.get("validation", {}).get("S")  # a payload check is kept, over the keyed fingerprint
