"""The pumping guard end to end on moto: the real store writes, DynamoDB Streams records, handlers/stream.py,
and the generate handler refusing a blocked prefix.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from otp.aws.dynamodb import DynamoDbStore
from otp.aws.kms import KmsSecretDeriver
from otp.aws.pumping import BLOCKS_KEY, DynamoDbPumpingCounts, EumMessageFeedback, _admin, prefix_keys
from otp.domain.destinations import normalize_phone
from otp.domain.entities import AttemptLimits, GuardMark, SendPlan, StoredCode, Window
from otp.domain.keys import Digests
from otp.domain.pumping_rules import prefix_of
from otp.use_cases.send_guard import BlockList
from tests.helpers import REGION, TABLE
from tests.integration.conftest import enable_stream, lambda_event, stream_records

PREFIX = "447400"  # GB mobiles (447911 is Guernsey)
LIMITS = AttemptLimits(max_attempts=5, failures=Window(bucket=0, limit=35, resets_at=0))
NUMBERS = [f"+{PREFIX}1234{i:02d}" for i in range(12)]
# Wall-clock time, since moto stamps stream records with it; on a 10 s slot boundary, as counted.
T0 = int(time.time()) // 10 * 10


class Guarded:
    """The real destination store, codes marked as generate marks them, and the table's stream."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws
        dynamodb = aws.client("dynamodb")
        self.stream_arn = enable_stream(aws)
        self.keys = prefix_keys(aws.digest_key_id)
        self.digests = Digests(KmsSecretDeriver(aws.digest_key_id, lambda: aws.client("kms")))
        self.store = DynamoDbStore(TABLE, lambda: dynamodb)

    def deliver(self, number: str, at: int, purpose: str = "default", ttl: int = 300) -> tuple[str, str]:
        record_key = self.digests.record_key(normalize_phone(number))
        assert self.store.take_send(SendPlan(record_key, keep_until=at + 90000), at).taken
        vid = self.digests.new_verification_id(record_key, purpose)
        destination = normalize_phone(number)
        prefix = prefix_of(destination.address, 6)
        mark = GuardMark(self.keys.digest(prefix), self.keys.seal(prefix), destination.region or "ZZ")
        code = StoredCode(vid, purpose, "sms", destination.masked, at, at + ttl, ciphertext=b"x", guard=mark)
        self.store.save_code(record_key, code, keep_until=at + 90000, forget_before=at - 86400)
        return record_key, vid

    def records(self) -> list[dict[str, Any]]:
        return stream_records(self.stream_arn)


@pytest.fixture
def guarded(aws) -> Guarded:
    return Guarded(aws)


def counts(aws) -> DynamoDbPumpingCounts:
    return DynamoDbPumpingCounts(TABLE, lambda: aws.client("dynamodb"), 3600)


def pumping_items(aws) -> list[dict[str, Any]]:
    return sorted((i for i in aws.table_items() if i["id"]["S"].startswith("pumping#")), key=lambda i: i["id"]["S"])


def burst(guarded: Guarded) -> None:
    for i, number in enumerate(NUMBERS):
        guarded.deliver(number, T0 + i // 3)


def test_a_burst_through_the_stream_blocks_the_prefix_for_generate(aws, guarded, stream):
    burst(guarded)
    assert stream(lambda_event(guarded.records()), T0 + 5) == {"batchItemFailures": []}
    digest = guarded.keys.digest(PREFIX)
    spans = counts(aws).read_blocks()
    # The tenth code, delivered at T0+3, is tested at ten seconds of age: the block starts at T0+13.
    assert spans == {digest: (T0 + 13, T0 + 13 + 43200)}
    start = spans[digest][0]
    blocks = BlockList(counts(aws).read_blocks, 10, lambda: None)
    assert not blocks.refuses(digest, start - 1)
    assert blocks.refuses(digest, start)
    assert not blocks.refuses(guarded.keys.digest("919876"), start)


def test_a_replayed_batch_changes_nothing(aws, guarded, stream):
    burst(guarded)
    event = lambda_event(guarded.records())
    stream(event, T0 + 5)
    before = pumping_items(aws)
    assert stream(event, T0 + 6) == {"batchItemFailures": []}
    assert pumping_items(aws) == before
    tokens = [v["SS"] for i in before for k, v in i.items() if k.startswith("d")]
    assert sum(len(t) for t in tokens) == 12


def test_a_failed_count_is_retried_from_its_record_and_the_retry_completes_it(
    aws, guarded, stream, faults, backoff_sleeps
):
    burst(guarded)
    records = guarded.records()
    faults.fail("dynamodb", "UpdateItem", 500, "InternalServerError", when=lambda body: b'"pumping#' in body)
    failed = stream(lambda_event(records), T0 + 5)["batchItemFailures"]
    first_counted = next(r for r in records if r["dynamodb"].get("NewImage", {}).get("codes", {}).get("M"))
    assert failed == [{"itemIdentifier": first_counted["dynamodb"]["SequenceNumber"]}]
    assert counts(aws).read_blocks() == {}
    faults.heal()
    retry = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(failed[0]["itemIdentifier"])]
    assert stream(lambda_event(retry), T0 + 6) == {"batchItemFailures": []}
    assert guarded.keys.digest(PREFIX) in counts(aws).read_blocks()


def test_verified_superseded_and_withdrawn_codes_count_as_the_contract_says(aws, guarded, stream):
    verified_key, verified = guarded.deliver(NUMBERS[0], T0)
    assert guarded.store.consume(verified_key, "default", verified, T0 + 20, LIMITS)
    guarded.deliver(NUMBERS[1], T0)
    guarded.deliver(NUMBERS[1], T0 + 40)  # supersedes: both were delivered
    # Withdrawn before it expired, as the stream's wall-clock stamp sees it however late this test runs.
    withdrawn_key, withdrawn = guarded.deliver(NUMBERS[2], T0 + 50, ttl=86400)
    guarded.store.withdraw_code(withdrawn_key, "default", withdrawn)  # its delivery failed
    stream(lambda_event(guarded.records()), T0 + 60)
    facts = counts(aws).codes(guarded.keys.digest(PREFIX), T0 - 3600, T0 + 60)
    assert sorted(f.verified for f in facts) == [False, False, True]
    assert guarded.keys.token(withdrawn) not in {f.token for f in facts}
    assert guarded.keys.token(verified) in {f.token for f in facts if f.verified}


def test_the_table_holds_no_prefix_and_nothing_that_links_codes_to_their_prefix(aws, guarded, stream):
    burst(guarded)
    guarded.deliver("+919876543210", T0)
    stream(lambda_event(guarded.records()), T0 + 5)
    items = aws.table_items()
    dump = json.dumps(items, default=lambda b: b.hex() if isinstance(b, bytes) else str(b))
    for prefix in (PREFIX, "919876"):
        assert prefix not in dump and prefix.encode().hex() not in dump
    sealed = [e["M"]["pfx"]["B"] for i in items if i["id"]["S"].startswith("dest#") for e in i["codes"]["M"].values()]
    assert len(sealed) == 13 and len(set(sealed)) == 13  # one prefix, twelve unrelated-looking values
    vids = [e["M"]["vid"]["S"] for i in items if i["id"]["S"].startswith("dest#") for e in i["codes"]["M"].values()]
    for item in pumping_items(aws):
        for value in item.values():
            for token in value.get("SS", []):
                assert not any(token in vid for vid in vids)
    # What a destination item says of its number is the masked form and the country: 10^6 candidates.
    for item in (i for i in items if i["id"]["S"].startswith("dest#")):
        for entry in item["codes"]["M"].values():
            assert entry["M"]["country"] == {"S": "GB" if entry["M"]["masked"]["S"].startswith("+44") else "IN"}
            masked = entry["M"]["masked"]["S"]
            assert masked.count("*") >= 4 and set(entry["M"]) - {"pfx", "country"} == {
                "vid",
                "channel",
                "masked",
                "created_at",
                "expires_at",
                "attempts",
            }
    # Hashing every candidate prefix without the secret finds no counts item.
    candidates = {hashlib.sha256(f"44{n:04d}".encode()).hexdigest()[:32] for n in range(10**4)}
    assert not any(item["id"]["S"].split("#")[1] in candidates for item in pumping_items(aws))


def test_feedback_is_reported_once_a_code_that_has_its_message_id_verifies(aws, guarded, stream):
    record_key, vid = guarded.deliver(NUMBERS[0], T0)
    # What generate writes after an eum send with feedback on.
    guarded.store.keep_message_id(record_key, "default", vid, "msg-0123456789abcdef")
    assert guarded.store.consume(record_key, "default", vid, T0 + 20, LIMITS)
    sms_voice = boto3.client("pinpoint-sms-voice-v2", region_name=REGION)
    with Stubber(sms_voice) as stubbed:
        stubbed.add_response(
            "put_message_feedback",
            {"MessageId": "msg-0123456789abcdef", "MessageFeedbackStatus": "RECEIVED"},
            {"MessageId": "msg-0123456789abcdef", "MessageFeedbackStatus": "RECEIVED"},
        )
        stream.module.deps.feedback = EumMessageFeedback(lambda: sms_voice)
        assert stream(lambda_event(guarded.records()), T0 + 21) == {"batchItemFailures": []}
        stubbed.assert_no_pending_responses()


def test_an_operator_lists_and_lifts_a_block_and_the_old_codes_no_longer_count(aws, guarded, stream, capsys, caplog):
    burst(guarded)
    event = lambda_event(guarded.records())
    stream(event, T0 + 5)
    env = {"OTP_TABLE_NAME": TABLE, "OTP_DIGEST_KEY_ID": aws.digest_key_id}
    capsys.readouterr()  # the consumer's own log lines
    assert _admin(["list"], env) == 0
    (shown,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (shown["prefix"], shown["country"], shown["reason"]) == (PREFIX, "GB", "burst")
    caplog.clear()
    assert _admin(["lift", f"+{PREFIX}"], env) == 0
    (line,) = [r for r in caplog.records if r.getMessage() == "prefix unblocked"]
    assert (line.prefix, line.country, line.reason) == (PREFIX, "GB", "lifted")  # type: ignore[attr-defined]
    assert counts(aws).read_blocks() == {}
    assert _admin(["lift", PREFIX], env) == 1  # nothing left to lift
    stream(event, int(time.time()) + 1)  # the same evidence again
    assert counts(aws).read_blocks() == {}


def test_a_block_expires_on_a_scheduled_run_with_a_log_line(aws, guarded, stream, log_output):
    burst(guarded)
    stream(lambda_event(guarded.records()), T0 + 5)
    (until,) = [u for _, u in counts(aws).read_blocks().values()]
    assert stream({"source": "aws.events"}, until) == {"batchItemFailures": []}
    assert counts(aws).read_blocks() == {}
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if line.strip()]
    (unblocked,) = [line for line in lines if line.get("message") == "prefix unblocked"]
    assert (unblocked["prefix"], unblocked["country"], unblocked["reason"]) == (PREFIX, "GB", "expired")
    assert not any(number[1:] in log_output.getvalue() for number in NUMBERS)


def test_generate_fails_open_when_the_block_list_cannot_be_read(aws, guarded, stream, faults, backoff_sleeps):
    burst(guarded)
    stream(lambda_event(guarded.records()), T0 + 5)
    digest = guarded.keys.digest(PREFIX)
    faults.fail("dynamodb", "GetItem", 500, "InternalServerError", when=lambda body: BLOCKS_KEY.encode() in body)
    failures = []
    from otp.aws.clients import client

    blocks = BlockList(
        DynamoDbPumpingCounts(TABLE, lambda: client("dynamodb"), 3600).read_blocks, 10, lambda: failures.append(1)
    )
    assert not blocks.refuses(digest, T0 + 60)
    assert failures == [1]
    faults.heal()
    assert blocks.refuses(digest, T0 + 70)


def test_generate_refuses_a_prefix_the_consumer_blocked_and_sends_nothing(aws, guarded, stream, make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS=0)
    api.clock.now = T0
    for number in NUMBERS[:10]:
        assert api.generate({"channel": "sms", "destination": number}).status == 201
    assert stream(lambda_event(guarded.records()), T0 + 5) == {"batchItemFailures": []}
    sent = len(aws.sms())
    api.clock.now = T0 + 14  # the block starts at T0 + 13; the cached empty list is 14 s old
    refused = api.generate({"channel": "sms", "destination": NUMBERS[10]})
    assert (refused.status, refused.error, refused.body["error"]["reason"]) == (
        403,
        "destination_not_allowed",
        "fraud_suspected",
    )
    assert len(aws.sms()) == sent
    assert api.generate({"channel": "sms", "destination": "+919876543210"}).status == 201
    assert api.generate({"channel": "email", "destination": "someone@example.com"}).status == 201


def test_a_counted_code_keeps_the_second_it_was_delivered_so_it_matures_no_sooner(aws, guarded, stream):
    guarded.deliver(NUMBERS[0], T0 + 7)
    stream(lambda_event(guarded.records()), T0 + 8)
    (fact,) = counts(aws).codes(guarded.keys.digest(PREFIX), T0 - 3600, T0 + 8)
    assert fact.delivered_at == T0 + 7, "a 10-second slot's start would mature it 7 s early"
