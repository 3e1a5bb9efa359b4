"""The table's stream as the pumping guard's event source mapping hands it to the function.

Lambda polls the stream with the guard's role (the ReadTheTableStream statement), keeps the records
its filter pattern matches, and invokes the function with them as JSON: binary values in base64,
the creation time in epoch seconds. The IAM proof reads the emulated table's stream and does the
same, so the guard's handler sees what it would see in AWS, from the destination records that the
real generate and verify wrote (each sms code entry with its sealed prefix and country, and its
message id with a message-feedback provider).
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Mapping
from typing import Any

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
