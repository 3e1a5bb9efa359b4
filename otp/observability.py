"""Structured logging and EMF metrics (Powertools), shared by both functions."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# Every otp.* module logs through the standard library; naming this logger "otp" makes them all
# inherit its JSON formatter and Lambda context keys.
logger = Logger(service="otp")
metrics = Metrics(namespace="OtpService")


def count(channel: str, *names: str) -> None:
    """One data point of each name, by channel; called once per invocation."""
    metrics.add_dimension("channel", channel)
    for name in names:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
