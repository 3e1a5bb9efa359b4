"""The pumping guard's consumer: DynamoDB Streams (NEW_AND_OLD_IMAGES) of the service's table.

Counts sms and voice codes per prefix, writes blocks, reports delivery feedback. Configured with
ReportBatchItemFailures: a failure names the first record to retry, and every write is idempotent,
so the records replayed after it change nothing. A scheduled invocation (any event without
``Records``) applies expiries when no traffic arrives.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from otp.aws.clients import client
from otp.aws.pumping import DynamoDbPumpingCounts, EumMessageFeedback, decode_records, prefix_keys
from otp.config import load_settings
from otp.domain.pumping import parse_rules
from otp.errors import ConfigurationError
from otp.observability import logger, metrics
from otp.use_cases.pumping import StreamDependencies, consume, housekeeping

settings = load_settings()
try:
    # The lead moves OTP_FRAUD_* into Settings; until then they are read here, once, at cold start.
    rules = parse_rules(os.environ)
except ValueError as exc:
    raise ConfigurationError(f"invalid configuration: {exc}") from None
# Feedback needs the message id that generate stores in the code entry (`msg`) for these providers.
_FEEDBACK = (
    os.environ.get("OTP_SMS_PROVIDER", "sns") in ("eum", "notify")
    and os.environ.get("OTP_SMS_FEEDBACK", "true").strip().lower() != "false"
)
clock = time.time


def _emit(name: str, value: float) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


assert settings.digest_key_id is not None  # load_settings requires it
deps = StreamDependencies(
    rules=rules,
    keys=prefix_keys(settings.digest_key_id),
    counts=DynamoDbPumpingCounts(settings.table_name, functools.partial(client, "dynamodb"), rules.window_seconds),
    emit=_emit,
    feedback=EumMessageFeedback(functools.partial(client, "pinpoint-sms-voice-v2")) if _FEEDBACK else None,
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = int(clock())
    if "Records" not in event:
        housekeeping(deps, now)
        return {"batchItemFailures": []}
    events, feedback = decode_records(event["Records"])
    failed = consume(deps, events, feedback, now)
    return {"batchItemFailures": [{"itemIdentifier": failed}] if failed else []}
