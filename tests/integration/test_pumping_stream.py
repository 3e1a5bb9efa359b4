"""The pumping guard end to end on moto: the real store writes, DynamoDB Streams records, handlers/stream.py.

The store does not write the guard's attributes yet (the lead adds ``pfx`` and ``country`` to the
code entry that save_code writes, in that same write). ``GuardedDynamoDb`` stands in for exactly
that addition and nothing else: every write, condition and stream record is the real store's.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from otp.aws.dynamodb import DynamoDbStore
from otp.aws.kms import KmsSecretDeriver
from otp.aws.pumping import BLOCKS_KEY, DynamoDbPumpingCounts, EumMessageFeedback, _admin, prefix_keys
from otp.domain.destinations import normalize_phone
from otp.domain.entities import AttemptLimits, SendPlan, StoredCode, Window
from otp.domain.keys import Digests
from otp.domain.pumping import prefix_of
from otp.use_cases.pumping import BlockList
from tests.helpers import REGION, TABLE

PREFIX = "447911"
LIMITS = AttemptLimits(max_attempts=5, failures=Window(bucket=0, limit=35, resets_at=0))
NUMBERS = [f"+{PREFIX}1234{i:02d}" for i in range(12)]
# Wall-clock time, since moto stamps stream records with it; on a 10 s slot boundary, as counted.
T0 = int(time.time()) // 10 * 10


class GuardedDynamoDb:
    """The real client, plus the two attributes generate will add to each sms code entry it saves."""

    def __init__(self, real: Any, keys: Any, countries: dict[str, str]) -> None:
        self._real, self._keys, self._countries = real, keys, countries

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def update_item(self, **request: Any) -> Any:
        entry = request.get("ExpressionAttributeValues", {}).get(":entry", {}).get("M")
        if entry is not None:
            number = self._countries[entry["vid"]["S"]]
            entry["pfx"] = {"B": self._keys.seal(prefix_of(number, 6))}
            entry["country"] = {"S": "GB" if number.startswith("+44") else "IN"}
        return self._real.update_item(**request)


class Guarded:
    """A destination store whose codes carry the guard's attributes, and the table's stream."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws
        dynamodb = aws.client("dynamodb")
        self.stream_arn = dynamodb.update_table(
            TableName=TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        )["TableDescription"]["LatestStreamArn"]
        self.keys = prefix_keys(aws.digest_key_id)
        self.digests = Digests(KmsSecretDeriver(aws.digest_key_id, lambda: aws.client("kms")))
        self.numbers: dict[str, str] = {}
        self.store = DynamoDbStore(TABLE, lambda: GuardedDynamoDb(dynamodb, self.keys, self.numbers))

    def deliver(self, number: str, at: int, purpose: str = "default") -> tuple[str, str]:
        record_key = self.digests.record_key(normalize_phone(number))
        assert self.store.take_send(SendPlan(record_key, keep_until=at + 90000), at).taken
        vid = self.digests.new_verification_id(record_key, purpose)
        self.numbers[vid] = number
        code = StoredCode(vid, purpose, "sms", normalize_phone(number).masked, at, at + 300, ciphertext=b"x")
        self.store.save_code(record_key, code, keep_until=at + 90000, forget_before=at - 86400)
        return record_key, vid

    def records(self) -> list[dict[str, Any]]:
        streams = boto3.client(
            "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
        )
        found = []
        for shard in streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            found += streams.get_records(ShardIterator=iterator)["Records"]
        return found


def lambda_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The records as Lambda delivers them: JSON, binary values in base64, times in epoch seconds."""

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            import base64

            return base64.b64encode(value).decode()
        if hasattr(value, "timestamp"):
            return int(value.timestamp())
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return json.loads(json.dumps({"Records": [plain(r) for r in records]}))


@pytest.fixture
def guarded(aws) -> Guarded:
    return Guarded(aws)


@pytest.fixture
def stream(aws, monkeypatch: pytest.MonkeyPatch):
    """handlers/stream.py as a cold start imports it, with its clock in the test's hands."""
    for name, value in {
        "OTP_KMS_KEY_ID": aws.key_id,
        "OTP_DIGEST_KEY_ID": aws.digest_key_id,
        "OTP_TABLE_NAME": TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    module = sys.modules.get("handlers.stream")
    module = importlib.reload(module) if module else importlib.import_module("handlers.stream")
    now = [T0]
    monkeypatch.setattr(module, "clock", lambda: now[0])

    def invoke(event: dict[str, Any], at: int) -> dict[str, Any]:
        from local.events import LambdaContext

        now[0] = at
        return module.lambda_handler(event, LambdaContext(function_name="otp-stream"))

    invoke.module = module  # type: ignore[attr-defined]
    return invoke


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
    # Ten codes by T0+3, each tested at ten seconds of age: the block is written to start at T0+10.
    assert spans == {digest: (T0 + 10, T0 + 10 + 43200)}
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
    withdrawn_key, withdrawn = guarded.deliver(NUMBERS[2], T0 + 50)
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
    aws.client("dynamodb").update_item(  # what generate writes after an eum send, with feedback on
        TableName=TABLE,
        Key={"id": {"S": record_key}},
        UpdateExpression="SET codes.#p.msg = :id",
        ConditionExpression="codes.#p.vid = :vid",
        ExpressionAttributeNames={"#p": "default"},
        ExpressionAttributeValues={":id": {"S": "msg-0123456789abcdef"}, ":vid": {"S": vid}},
    )
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


def test_an_operator_lists_and_lifts_a_block_and_the_old_codes_no_longer_count(aws, guarded, stream, capsys):
    burst(guarded)
    event = lambda_event(guarded.records())
    stream(event, T0 + 5)
    env = {"OTP_TABLE_NAME": TABLE, "OTP_DIGEST_KEY_ID": aws.digest_key_id}
    capsys.readouterr()  # the consumer's own log lines
    assert _admin(["list"], env) == 0
    (shown,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (shown["prefix"], shown["country"], shown["reason"]) == (PREFIX, "GB", "burst")
    assert _admin(["lift", f"+{PREFIX}"], env) == 0
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
