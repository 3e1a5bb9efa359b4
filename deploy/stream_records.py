"""The table's stream as the pumping guard's event source mapping hands it to the function.

Lambda polls the stream with the guard's role (the ReadTheTableStream statement), keeps the records
its filter pattern matches, and invokes the function with them as JSON: binary values in base64,
the creation time in epoch seconds. The IAM proof reads the emulated table's stream and does the
same, so the guard's handler sees what it would see in AWS, from the destination records that the
real generate and verify wrote (each sms code entry with its sealed prefix and country, and its
message id with a message-feedback provider).
"""

from __future__ import annotations

import json
from typing import Any

from local.streams import lambda_record, passes_filters

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
    """The invocation Lambda makes: the matching records, in Lambda's JSON (as the local runner's
    poller builds and filters them)."""
    shaped = [lambda_record(record, stream_arn, region) for record in records]
    return {"Records": [record for record in shaped if passes_filters(patterns, record)]}
