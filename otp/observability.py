"""Structured logging and EMF metrics (Powertools), shared by both functions."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from otp.domain.limits import REASONS

# Every otp.* module logs through the standard library; naming this logger "otp" makes them all
# inherit its JSON formatter and Lambda context keys.
NAMESPACE = "OtpService"
logger = Logger(service="otp")
metrics = Metrics(namespace=NAMESPACE)


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _error_metrics() -> set[str]:
    from otp.domain import errors

    classes = [errors.OtpError]
    found = set()
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        found.add(_camel(cls.code))
    return found


# Every metric this service can emit (namespace OtpService, dimension channel). The dashboard and
# the alarms may name only these; a test checks it against serverless.yml.
METRICS = frozenset(
    {
        "CodeGenerated",
        "CodeDelivered",
        "CodeVerified",
        "IdempotentReplay",
        "TestDestinationUsed",
        "EndUserIpMissing",
        "VerificationRead",
        "VerificationCanceled",
        "SmsSegments",
        "SmsLanguagesOverOneSegment",
        # The pumping guard's (otp.use_cases.pumping.PUMPING_METRICS; a test keeps the two equal).
        # The stream consumer's have no dimension; generate's are its own to dimension.
        "PumpingCodeCounted",
        "PumpingCodeConverted",
        "PumpingPrefixBlocked",
        "PumpingPrefixUnblocked",
        "PumpingBlockListUnavailable",
        "PumpingFeedbackSent",
        "PumpingFeedbackFailed",
        "PumpingSendRefused",
        *(f"RateLimitedBy{_camel(reason)}" for reason in REASONS),
        *_error_metrics(),
    }
)


def metric_for(reason: str) -> str:
    """The metric that counts refusals for one of the contract's 429 reasons."""
    return f"RateLimitedBy{_camel(reason)}"


def error_metric(code: str) -> str:
    """The metric that counts one error code of the contract: rate_limited -> RateLimited."""
    return _camel(code)


def observe(channel: str, name: str, value: float) -> None:
    """One data point of ``name`` with its value (SmsSegments: how many segments an SMS was billed as)."""
    if name not in METRICS:
        raise ValueError(f"not in the metric catalog: {name}")
    metrics.add_dimension("channel", channel)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def count(channel: str, *names: str) -> None:
    """One data point of each name, by channel; called once per invocation."""
    unknown = set(names) - METRICS
    if unknown:
        raise ValueError(f"not in the metric catalog: {sorted(unknown)}")
    metrics.add_dimension("channel", channel)
    for name in names:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def note(name: str) -> None:
    """One data point of ``name`` in this invocation's metrics, under the dimension the response adds."""
    if name not in METRICS:
        raise ValueError(f"not in the metric catalog: {name}")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def observe_at_start(channel: str, name: str, value: float) -> None:
    """One data point written at once, outside any invocation: what a cold start found in the configuration."""
    if name not in METRICS:
        raise ValueError(f"not in the metric catalog: {name}")
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension("channel", channel)
