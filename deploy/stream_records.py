"""The table's stream as the pumping guard's event source mapping hands it to the function.

Lambda polls the stream with the guard's role (the ReadTheTableStream statement), keeps the records
its filter pattern matches, and invokes the function with them as JSON: binary values in base64,
the creation time in epoch seconds. The IAM proof reads the emulated table's stream and does the
same, so the guard's handler sees what it would see in AWS, from the destination records that the
real generate and verify wrote.

``with_guard_attributes`` is a stand-in, and only until generate writes ``pfx`` and ``country``
(and ``msg`` with a message-feedback provider) into each sms and voice code entry itself: it adds
them to the entries that lack them, from the numbers the scenario sent to, so that the guard counts
those codes and makes the requests it makes in AWS. Once generate writes them it adds nothing.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable, Mapping
from typing import Any

from otp.domain.destinations import normalize_phone
from otp.domain.pumping import PrefixKeys, prefix_of

SCHEDULED_EVENT = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def read_stream(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every record of every shard, oldest first, as the DynamoDB Streams API returns them."""
    found: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            found += page["Records"]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return found


def _as_lambda_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    if isinstance(value, Mapping):
        return {k: _as_lambda_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_lambda_json(v) for v in value]
    return value


def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style filtering, as far as the guard's pattern uses it: nested keys, lists of
    literal values, and {"prefix": ...}."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and _matches(p, value[k]) for k, p in pattern.items())
    for option in pattern:
        if isinstance(option, dict) and "prefix" in option:
            if isinstance(value, str) and value.startswith(option["prefix"]):
                return True
        elif option == value:
            return True
    return False


def filter_patterns(template: dict[str, Any], function_logical_id: str) -> list[dict[str, Any]]:
    """The filter patterns of the function's DynamoDB stream mapping in the packaged template."""
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if (
            resource["Type"] == "AWS::Lambda::EventSourceMapping"
            and properties.get("FunctionName") == {"Fn::GetAtt": [function_logical_id, "Arn"]}
            and "StreamArn" in json.dumps(properties.get("EventSourceArn"))
        ):
            return [json.loads(f["Pattern"]) for f in properties.get("FilterCriteria", {}).get("Filters", [])]
    raise LookupError(f"no stream mapping for {function_logical_id}")


def lambda_event(
    records: list[dict[str, Any]], patterns: list[dict[str, Any]], stream_arn: str, region: str
) -> dict[str, Any]:
    """The invocation Lambda makes: the matching records, in Lambda's JSON."""
    delivered = []
    for record in records:
        shaped = {**_as_lambda_json(record), "eventSourceARN": stream_arn, "awsRegion": region}
        if not patterns or any(_matches(p, shaped) for p in patterns):
            delivered.append(shaped)
    return {"Records": delivered}


def with_guard_attributes(
    records: list[dict[str, Any]],
    keys: PrefixKeys,
    numbers: Mapping[str, str],
    prefix_digits: int,
    message_id: Callable[[str], str | None] = lambda vid: None,
) -> tuple[list[dict[str, Any]], int]:
    """The records with pfx, country (and msg) on each code entry of a known number that lacks them;
    and how many entries were given them (0 once generate writes them itself)."""
    added = 0
    sealed: dict[str, bytes] = {}
    for record in records:
        for image in ("OldImage", "NewImage"):
            codes = record.get("dynamodb", {}).get(image, {}).get("codes", {}).get("M", {})
            for entry in codes.values():
                fields = entry.get("M", {})
                vid = fields.get("vid", {}).get("S")
                if vid not in numbers or "pfx" in fields:
                    continue
                number = numbers[vid]
                if vid not in sealed:  # one seal per code, as generate would write it once
                    sealed[vid] = keys.seal(prefix_of(number, prefix_digits))
                fields["pfx"] = {"B": sealed[vid]}
                fields["country"] = {"S": normalize_phone(number).region or "ZZ"}
                message = message_id(vid)
                if message is not None:
                    fields["msg"] = {"S": message}
                added += 1
    return records, added
