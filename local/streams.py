"""The table's DynamoDB stream, polled in the runner and delivered to its consumer as Lambda would.

A deployment's event source mapping reads the stream's shards, drops records its filter patterns
do not match, gathers up to ``batchSize`` records for at most ``batchWindow`` seconds,
and invokes the function; with ReportBatchItemFailures it retries from the first failed record,
so a shard's records reach the function in order, each at least once. The consumer's ``schedule``
invokes it with an EventBridge event. This module does the same against the emulator, so
`make run` computes the pumping guard as a deployment does.

Nothing the consumer does may stop the HTTP side: every failure here is a log line.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.stack import StreamConsumer
from local.workers import write_log_line

POLL_SECONDS = 0.2
MAX_RETRY_DELAY_SECONDS = 5.0
_RECORDS_PER_READ = 1000  # GetRecords' own maximum

Invoke = Callable[[str, dict[str, Any], str], "dict[str, Any] | None"]


def _log(level: str, message: str, **fields: Any) -> None:
    write_log_line(json.dumps({"level": level, "message": message, **fields}))


# ---- the records as Lambda hands them over -------------------------------------------------------


def as_lambda_json(value: Any) -> Any:
    """boto3 parses binary values to bytes and times to datetimes; Lambda's event has base64 and epoch seconds."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return int(moment.timestamp())
    if isinstance(value, dict):
        return {key: as_lambda_json(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple | set):
        return [as_lambda_json(inner) for inner in value]
    return value


def lambda_record(record: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    shaped: dict[str, Any] = as_lambda_json(dict(record))
    shaped["awsRegion"] = region  # moto writes us-east-1 whatever the table's region
    shaped["eventSourceARN"] = stream_arn
    return shaped


def scheduled_event(region: str, rule: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{rule}"],
        "detail": {},
    }


# ---- Lambda's event filtering ---------------------------------------------------------------------

_OPERATORS = frozenset({"prefix", "suffix", "anything-but", "exists", "equals-ignore-case"})


def check_patterns(patterns: list[dict[str, Any]]) -> None:
    """Raises ValueError for a pattern this runner cannot apply, rather than let every record through."""

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, inner in node.items():
                walk(inner, f"{where}.{key}")
        elif isinstance(node, list):
            for rule in node:
                if isinstance(rule, dict) and (len(rule) != 1 or not set(rule) <= _OPERATORS):
                    raise ValueError(f"filter pattern {where}: {sorted(rule)} is not supported by the local runner")
        else:
            raise ValueError(f"filter pattern {where}: a pattern value is a list of rules or an object")

    for pattern in patterns:
        walk(pattern, "filterPatterns")


def _rule_holds(rule: Any, present: bool, value: Any) -> bool:
    if not isinstance(rule, dict):
        return present and value == rule
    (operator, operand), *_ = rule.items()
    if operator == "exists":
        return present is bool(operand)
    if not present:
        return False
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(operand).lower()
    excluded = operand if isinstance(operand, list) else [operand]  # anything-but
    return value not in excluded


def _matches(pattern: Mapping[str, Any], record: Any) -> bool:
    for key, expected in pattern.items():
        present = isinstance(record, Mapping) and key in record
        value = record.get(key) if present else None
        if isinstance(expected, dict):
            if not present or not _matches(expected, value):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(_rule_holds(rule, present, one) for rule in expected for one in values):
            return False
    return True


def passes_filters(patterns: list[dict[str, Any]], record: Mapping[str, Any]) -> bool:
    """Lambda's rule: no pattern lets everything through; else a record must match one of them."""
    return not patterns or any(_matches(pattern, record) for pattern in patterns)


# ---- the poller -----------------------------------------------------------------------------------


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)  # matched records not yet processed
    waiting_since: float | None = None  # when the batching window of the pending records opened
    failures: int = 0  # of the batch at the head of ``pending``
    retry_at: float = 0.0


class StreamPoller:
    """Reads the table's stream in a thread and invokes the consumer with each batch, in shard order."""

    def __init__(
        self,
        consumer: StreamConsumer,
        streams: Callable[[], Any],
        stream_arn: str,
        region: str,
        invoke: Invoke,
        prepare: Callable[[], None] = lambda: None,
        forget_iterators: Callable[[set[str]], None] = lambda keep: None,
        poll_seconds: float = POLL_SECONDS,
        schedule_seconds: float | None = None,
    ) -> None:
        """``streams`` makes the DynamoDB Streams client, and ``prepare`` starts the consumer's
        worker: both run first in the thread, so start-up waits for neither.

        The stream is read from its start, whatever ``startingPosition`` says: the runner's stream
        is born with its table, before any request, just as a deployment's mapping (LATEST) is
        made with the stack, before any traffic; so both see every record written after them.

        ``schedule_seconds`` replaces the consumer's own schedule period (tests shorten it).
        """
        check_patterns(consumer.filter_patterns)
        self.consumer = consumer
        self._streams = streams
        self._arn = stream_arn
        self._region = region
        self._invoke = invoke
        self._prepare = prepare
        self._forget_iterators = forget_iterators
        self._poll = poll_seconds
        period = schedule_seconds if schedule_seconds is not None else consumer.schedule_seconds
        self._schedule = float(period) if period else None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-consumer", daemon=True)
        self._shards: list[_Shard] = []

    def _open(self) -> None:
        # moto gives a table one shard for life, so the shards are listed once.
        self._client = self._streams()
        for shard in self._client.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]:
            found = self._client.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )
            self._shards.append(_Shard(shard["ShardId"], str(found["ShardIterator"])))

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._prepare()
            self._open()
        except Exception as exc:
            if self._stopping.is_set():
                return  # stopped while its worker was starting
            _log(
                "ERROR",
                "stream consumer did not start; the API keeps serving without it",
                function=self.consumer.function,
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        next_schedule = time.monotonic() + self._schedule if self._schedule else None
        while not self._stopping.wait(self._poll):
            try:
                for shard in self._shards:
                    self._poll_shard(shard)
                if next_schedule is not None and time.monotonic() >= next_schedule:
                    next_schedule = max(next_schedule + (self._schedule or 0), time.monotonic())
                    self._run_schedule()
            except Exception as exc:
                if self._stopping.is_set():
                    return  # the runner is stopping: its emulator and workers are going away
                _log("ERROR", "stream consumer poll failed", function=self.consumer.function, error=repr(exc))

    def _poll_shard(self, shard: _Shard) -> None:
        consumer = self.consumer
        if shard.iterator is not None and len(shard.pending) < consumer.batch_size:
            read = self._client.get_records(ShardIterator=shard.iterator, Limit=_RECORDS_PER_READ)
            shard.iterator = read.get("NextShardIterator")  # None once a closed shard is read to its end
            self._forget_iterators({s.iterator for s in self._shards if s.iterator})
            for record in read.get("Records", []):
                shaped = lambda_record(record, self._arn, self._region)
                if passes_filters(consumer.filter_patterns, shaped):
                    shard.pending.append(shaped)
            if shard.pending and shard.waiting_since is None:
                shard.waiting_since = time.monotonic()
        now = time.monotonic()
        if not shard.pending or now < shard.retry_at:
            return
        window_open = shard.waiting_since is not None and now - shard.waiting_since < consumer.batching_window_seconds
        if window_open and len(shard.pending) < consumer.batch_size and not shard.failures:
            return
        self._deliver(shard, shard.pending[: consumer.batch_size])

    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        result = self._invoke(self.consumer.function, {"Records": batch}, str(uuid.uuid4()))
        done = self._processed(batch, result)
        _log(
            "INFO",
            "stream batch",
            function=self.consumer.function,
            records=len(batch),
            processed=done,
            attempt=shard.failures + 1,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        del shard.pending[:done]
        if done == len(batch):
            shard.failures = 0
            shard.waiting_since = time.monotonic() if shard.pending else None
            return
        shard.failures += 1
        limit = self.consumer.maximum_retry_attempts
        if limit is not None and shard.failures > limit:
            # The records are skipped for good; with an on-failure destination Lambda sends it a
            # record of where they were, which the runner, without a queue, logs.
            discarded = len(batch) - done
            failed = batch[done:]
            del shard.pending[:discarded]
            _log(
                "ERROR",
                "stream records discarded after the retries ran out",
                function=self.consumer.function,
                records=discarded,
                retries=limit,
                **self._failure_record(shard, failed),
            )
            shard.failures = 0
            shard.waiting_since = time.monotonic() if shard.pending else None
            return
        delay = min(self._poll * 2**shard.failures, MAX_RETRY_DELAY_SECONDS)
        shard.retry_at = time.monotonic() + delay
        _log(
            "WARNING",
            "stream batch failed; retrying from its first failed record",
            function=self.consumer.function,
            records=len(batch) - done,
            attempt=shard.failures,
            retry_in_seconds=round(delay, 2),
        )

    def _failure_record(self, shard: _Shard, failed: list[dict[str, Any]]) -> dict[str, Any]:
        if self.consumer.on_failure_destination is None:
            return {}
        return {
            "on_failure_destination": self.consumer.on_failure_destination,
            "shard_id": shard.shard_id,
            "start_sequence_number": failed[0]["dynamodb"]["SequenceNumber"],
            "end_sequence_number": failed[-1]["dynamodb"]["SequenceNumber"],
        }

    def _processed(self, batch: list[dict[str, Any]], result: dict[str, Any] | None) -> int:
        """How many records at the batch's head are done: all, none (a failed invocation), or those
        before the lowest sequence number that batchItemFailures names."""
        if result is None:
            return 0
        if not self.consumer.reports_item_failures:
            return len(batch)
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if failures is None:
            return len(batch)  # Lambda reads a response without the list as a success
        if not isinstance(failures, list):
            return 0  # an answer Lambda cannot read fails the whole batch
        sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
        named = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if any(n not in sequences for n in named):
            return 0
        if not named:
            return len(batch)
        return min(sequences.index(n) for n in named)

    def _run_schedule(self) -> None:
        started = time.perf_counter()
        event = scheduled_event(self._region, f"{self.consumer.function}-schedule")
        result = self._invoke(self.consumer.function, event, str(uuid.uuid4()))
        _log(
            "INFO" if result is not None else "ERROR",
            "scheduled run" if result is not None else "scheduled run failed",
            function=self.consumer.function,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
