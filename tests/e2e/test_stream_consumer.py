"""The runner's stream consumer: the table's stream polled as Lambda's event source mapping reads it.

Against an emulator of our own, so the tests can write the records a deployment's generate would:
the filter patterns, the batching, the Lambda event's shape, ReportBatchItemFailures (retry from
the first failed record, in order), the retries running out, the schedule; then the real
handlers/stream.py in a worker process, writing a block that the operators' list shows and lifts.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests

from local import stack
from local.blocks import LocalBlocks, NoBlock
from local.emulator import Emulator, EmulatorCredentials
from local.streams import StreamPoller, passes_filters
from local.workers import WorkerPool

REGION = "ap-south-1"
DEADLINE_SECONDS = 60  # a hang, not slowness


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # moto's state is one per process: each test gets a table of its own.
    started = Emulator(REGION, EmulatorCredentials.fresh())
    started.start()
    try:
        started.table = f"otp-stream-{uuid.uuid4().hex[:8]}"  # type: ignore[attr-defined]
        started.provision(stack.table_shape(stack.load()), started.table, "otp@example.com")  # type: ignore[attr-defined]
        yield started
    finally:
        started.stop()


CONSUMER = stack.stream_consumers(stack.load())[0]


class Recorder:
    """An invoke function that records each event and answers as ``answer`` says."""

    def __init__(self, answer: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda e: {}) -> None:
        self.events: list[dict[str, Any]] = []
        self._answer = answer
        self._lock = threading.Lock()

    def __call__(self, function: str, event: dict[str, Any], request_id: str) -> dict[str, Any] | None:
        with self._lock:
            self.events.append(json.loads(json.dumps(event)))  # what crosses the pipe is JSON
        return self._answer(event)

    def batches(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            return [e["Records"] for e in self.events if "Records" in e]

    def ids(self) -> list[str]:
        return [r["dynamodb"]["Keys"]["id"]["S"] for batch in self.batches() for r in batch]


def poller(emulator: Emulator, invoke: Any, consumer: stack.StreamConsumer = CONSUMER, **options: Any) -> StreamPoller:
    return StreamPoller(
        consumer,
        lambda: emulator.client("dynamodbstreams"),
        emulator.stream_arn,
        REGION,
        invoke,
        forget_iterators=emulator.forget_shard_iterators,
        **options,
    )


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def put(emulator: Emulator, key: str, **attributes: Any) -> None:
    emulator.client("dynamodb").put_item(TableName=emulator.table, Item={"id": {"S": key}, **attributes})


def test_the_deployment_description_is_what_the_runner_applies():
    shape = stack.table_shape(stack.load())
    assert shape.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert CONSUMER.function == "pumpingGuard"
    assert (CONSUMER.module, CONSUMER.attribute) == ("handlers.stream", "lambda_handler")
    assert (CONSUMER.batch_size, CONSUMER.batching_window_seconds, CONSUMER.schedule_seconds) == (100, 1.0, 60)
    assert CONSUMER.reports_item_failures and CONSUMER.maximum_retry_attempts == 20
    assert CONSUMER.unapplied == ()  # the runner applies every option the stream event sets
    assert CONSUMER.on_failure_destination == "PumpingGuardFailuresQueue"  # logged: the runner has no queue


@pytest.mark.parametrize(
    ("record", "passes"),
    [
        ({"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"S": "dest#ab"}}}}, True),
        ({"eventName": "MODIFY", "dynamodb": {"Keys": {"id": {"S": "dest#ab"}}}}, True),
        ({"eventName": "REMOVE", "dynamodb": {"Keys": {"id": {"S": "dest#ab"}}}}, False),
        ({"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"S": "pumping#blocks"}}}}, False),
        ({"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"N": "1"}}}}, False),
        ({"eventName": "INSERT"}, False),
    ],
)
def test_the_filter_patterns_select_what_lambda_would(record, passes):
    assert passes_filters(CONSUMER.filter_patterns, record) is passes
    assert passes_filters([], record)


def test_an_unsupported_filter_operator_is_refused_at_start(emulator):
    numeric = replace(CONSUMER, filter_patterns=[{"dynamodb": {"SizeBytes": [{"numeric": [">", 1]}]}}])
    with pytest.raises(ValueError, match="numeric"):
        poller(emulator, Recorder(), numeric)


def test_matching_records_arrive_in_order_in_lambdas_shape(emulator):
    recorder = Recorder()
    reading = poller(emulator, recorder)
    reading.start()
    try:
        put(emulator, "dest#one", blob={"B": b"\x00\xffsealed"})
        put(emulator, "ip#other")  # not a destination record: filtered out
        put(emulator, "dest#two")
        emulator.client("dynamodb").delete_item(TableName=emulator.table, Key={"id": {"S": "dest#two"}})  # REMOVE
        put(emulator, "dest#one", blob={"B": b"changed"})  # MODIFY
        wait_for(lambda: len(recorder.ids()) >= 3, "three destination records")
        time.sleep(0.5)  # nothing else is coming
    finally:
        reading.stop()
    assert recorder.ids() == ["dest#one", "dest#two", "dest#one"]
    first = recorder.batches()[0][0]
    assert first["eventSource"] == "aws:dynamodb" and first["awsRegion"] == REGION
    assert first["eventSourceARN"].startswith(f"arn:aws:dynamodb:{REGION}:") and "/stream/" in first["eventSourceARN"]
    assert base64.b64decode(first["dynamodb"]["NewImage"]["blob"]["B"]) == b"\x00\xffsealed"
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert abs(first["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 120
    last = [r for batch in recorder.batches() for r in batch][-1]
    assert last["eventName"] == "MODIFY" and "OldImage" in last["dynamodb"]
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for batch in recorder.batches() for r in batch]
    assert sequences == sorted(sequences)


def test_a_reported_failure_is_retried_from_that_record_and_nothing_before_it_again(emulator):
    failed_once: list[str] = []

    def answer(event: dict[str, Any]) -> dict[str, Any]:
        for record in event["Records"]:
            if record["dynamodb"]["Keys"]["id"]["S"] == "dest#3" and not failed_once:
                failed_once.append(record["dynamodb"]["SequenceNumber"])
                return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    recorder = Recorder(answer)
    # Batches of 4, gathered for a whole second: records 0-3 arrive in one batch, whatever the poll's timing.
    reading = poller(emulator, recorder, replace(CONSUMER, batch_size=4, batching_window_seconds=1.0))
    for i in range(6):
        put(emulator, f"dest#{i}")
    reading.start()
    try:
        wait_for(lambda: "dest#5" in recorder.ids(), "the last record")
        time.sleep(0.5)
    finally:
        reading.stop()
    batches = [[r["dynamodb"]["Keys"]["id"]["S"] for r in batch] for batch in recorder.batches()]
    assert batches[0] == ["dest#0", "dest#1", "dest#2", "dest#3"]
    assert batches[1][0] == "dest#3"  # the retry starts at the failed record, the ones before are done
    delivered = [key for batch in batches[1:] for key in batch]
    assert delivered == ["dest#3", "dest#4", "dest#5"]


def test_a_crashing_consumer_retries_the_whole_batch_until_the_retries_run_out(emulator, capfd):
    recorder = Recorder(lambda event: None)  # what the pool answers for a crash or a timeout
    reading = poller(emulator, recorder, replace(CONSUMER, maximum_retry_attempts=2, batching_window_seconds=0))
    put(emulator, "dest#doomed")
    reading.start()
    output: list[str] = []

    def discarded() -> dict[str, Any] | None:
        output.append(capfd.readouterr().out)
        lines = [line for line in "".join(output).splitlines() if "records discarded" in line]
        return json.loads(lines[0][lines[0].index("{") :]) if lines else None

    try:
        logged = wait_for(discarded, "the batch to be discarded")
        put(emulator, "dest#next")
        wait_for(lambda: "dest#next" in recorder.ids(), "the next record")
    finally:
        reading.stop()
    assert recorder.ids().count("dest#doomed") == 3  # the first attempt and two retries
    # Where the batch was, as Lambda's record in the on-failure queue says it; never the records.
    [doomed] = [r for batch in recorder.batches()[:1] for r in batch]
    assert logged["on_failure_destination"] == "PumpingGuardFailuresQueue"
    assert logged["start_sequence_number"] == logged["end_sequence_number"] == doomed["dynamodb"]["SequenceNumber"]
    assert logged["shard_id"] and "dest#doomed" not in json.dumps(logged)


def test_the_schedule_invokes_the_consumer_without_records(emulator):
    recorder = Recorder()
    reading = poller(emulator, recorder, schedule_seconds=0.3)
    reading.start()
    try:
        wait_for(lambda: len(recorder.events) >= 2, "two scheduled runs")
    finally:
        reading.stop()
    scheduled = recorder.events[0]
    assert "Records" not in scheduled
    assert (scheduled["source"], scheduled["detail-type"]) == ("aws.events", "Scheduled Event")
    assert scheduled["region"] == REGION


def test_a_consumer_that_cannot_start_is_logged_and_the_poller_ends(emulator, capfd):
    def broken() -> None:
        raise RuntimeError("ImportError: no handlers")

    reading = poller(emulator, Recorder(), prepare=broken)
    reading.start()
    reading.stop()
    assert "stream consumer did not start" in capfd.readouterr().out


# ---- the real consumer, in a worker process as the runner runs it ------------------------------------

PREFIX = "447911"


@pytest.fixture
def consumer(emulator) -> Iterator[tuple[WorkerPool, StreamPoller, LocalBlocks, Any]]:
    key_arn = emulator.client("kms").create_key()["KeyMetadata"]["Arn"]
    digest_arn = emulator.client("kms").create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"][
        "Arn"
    ]
    rules: dict[str, str] = {}  # the defaults: a burst of min_codes (20) unverified codes is evidence enough
    environment = {
        **emulator.credentials.environment(),
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "OTP_KMS_KEY_ID": key_arn,
        "OTP_DIGEST_KEY_ID": digest_arn,
        "OTP_TABLE_NAME": emulator.table,
        **rules,
    }
    pool = WorkerPool([CONSUMER], size=1, environment=environment)
    reading = poller(emulator, pool.invoke, prepare=pool.start)
    blocks = LocalBlocks(emulator, emulator.table, digest_arn, window_seconds=3600)
    from otp.aws.kms import KmsSecretDeriver
    from otp.domain.keys import DIGEST_LABEL
    from otp.domain.prefix_keys import PrefixKeys

    deriver = KmsSecretDeriver(digest_arn, lambda: emulator.client("kms"))
    keys = PrefixKeys(functools.cache(lambda: deriver.derive(DIGEST_LABEL)))
    reading.start()
    try:
        yield pool, reading, blocks, keys
    finally:
        reading.stop()
        pool.stop()


def code_entry(keys: Any, vid: str, at: int, country: str = "GB", **extra: Any) -> dict[str, Any]:
    """A sms code entry as generate saves it, with the guard's sealed prefix and country."""
    entry = {
        "vid": {"S": vid},
        "channel": {"S": "sms"},
        "masked": {"S": "+44******3456"},
        "created_at": {"N": str(at)},
        "expires_at": {"N": str(at + 300)},
        "attempts": {"N": "0"},
        "pfx": {"B": keys.seal(PREFIX)},
        "country": {"S": country},
        **extra,
    }
    return {"M": {"default": {"M": entry}}}


def test_the_real_consumer_blocks_an_unverified_prefix_and_the_operators_list_and_lift_it(emulator, consumer):
    _, _, blocks, keys = consumer
    now = int(time.time())
    for i in range(20):
        put(emulator, f"dest#record{i:02d}", codes=code_entry(keys, f"vid-{i:02d}-{now}", now))
    shown = wait_for(blocks.list, "the consumer to write a block")
    (block,) = shown
    assert (block["prefix"], block["country"]) == (PREFIX, "GB")
    assert set(block) == {"prefix", "prefix_digest", "country", "reason", "starts_at", "until", "active"}
    assert blocks.lift(f"+{PREFIX}")["lifted"] == PREFIX
    assert blocks.list() == []
    with pytest.raises(NoBlock):
        blocks.lift(PREFIX)
    with pytest.raises(ValueError, match="digits"):
        blocks.lift("44x")


# ---- the runner: the consumer never stops the API --------------------------------------------------


def test_a_consumer_that_cannot_start_leaves_the_api_serving(tmp_path):
    from tests.e2e.conftest import start_runner, stop_runner

    text = (stack.SERVERLESS_YML).read_text()
    handler = "handler: handlers/stream.lambda_handler"
    assert handler in text
    broken = tmp_path / "serverless.yml"
    broken.write_text(text.replace(handler, "handler: handlers/missing.lambda_handler"))
    runner = start_runner(tmp_path, LOCAL_SERVERLESS_YML=str(broken))
    try:
        reply = runner.post("/generate", {"channel": "sms", "destination": "+14155552671"})
        assert reply.status_code == 201, reply.text
        wait_for(lambda: "stream consumer did not start" in runner.logs(), "the consumer's failure to be logged")
        assert runner.get("/_local/blocks").status_code == 200  # the list is the table's, whoever writes it
        reply = runner.post("/generate", {"channel": "email", "destination": "someone@example.com"})
        assert reply.status_code == 201, reply.text
    finally:
        stop_runner(runner)
    assert runner.process.returncode == 0, runner.terminal()


def test_the_blocks_routes_answer_json_and_stay_local(default_runner):
    assert default_runner.get("/_local/blocks").json() == {"blocks": []}
    gone = requests.delete(default_runner.url + "/_local/blocks/447911", timeout=30)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    bad = requests.delete(default_runner.url + "/_local/blocks/44x", timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    # Only GET lists and only DELETE lifts; the API's own routes know nothing of blocks.
    assert requests.post(default_runner.url + "/_local/blocks", timeout=30).status_code == 404
    assert default_runner.get("/blocks").status_code == 404
