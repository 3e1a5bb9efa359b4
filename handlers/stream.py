"""The pumping guard's consumer: DynamoDB Streams (NEW_AND_OLD_IMAGES) of the service's table.

Counts sms and voice codes per prefix, writes blocks, reports delivery feedback. Configured with
ReportBatchItemFailures: a failure names the first record to retry, and every write is idempotent,
so the records replayed after it change nothing. A scheduled invocation (any event without
``Records``) applies expiries when no traffic arrives.
"""

from __future__ import annotations

import time
from typing import Any

from otp.bootstrap import stream_dependencies
from otp.config import load_settings
from otp.observability import logger, metrics
from otp.use_cases.pumping import consume, housekeeping

settings = load_settings()
deps = stream_dependencies(settings)
clock = time.time


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = int(clock())
    if "Records" not in event:
        housekeeping(deps, now)
        return {"batchItemFailures": []}
    from otp.bootstrap import decode_stream_records

    events, feedback = decode_stream_records(event["Records"])
    failed = consume(deps, events, feedback, now)
    return {"batchItemFailures": [{"itemIdentifier": failed}] if failed else []}
