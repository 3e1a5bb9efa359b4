"""The latency floor: a handler that does nothing, served by the same runner as ours."""

import json


def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"ok": True})}
