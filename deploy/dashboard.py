"""Generates the CloudWatch dashboard (deploy/resources/dashboard.yml) from the metric catalog.

    python -m deploy.dashboard          # writes the file serverless.yml includes
    python -m deploy.dashboard --check  # exits 1 when the committed file is not what this makes

Every metric of ``otp.observability.METRICS`` (namespace OtpService, dimension channel) is either
on a widget or listed in ``NOT_ON_THE_DASHBOARD`` with the reason, so a metric added to the code
cannot be left off without someone deciding so: the generator refuses an unplaced one, and a test
fails when the committed file differs from what the generator makes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from otp.observability import METRICS

OUTPUT = Path(__file__).resolve().parent / "resources" / "dashboard.yml"
NAMESPACE = "OtpService"
CHANNELS = ("sms", "email")
DELIVERY_FLOW = ("CodeGenerated", "CodeDelivered", "CodeVerified")
REFUSAL_PREFIX = "RateLimitedBy"
# The send limits in the order the code checks them; a limit added later is shown after these.
SEND_LIMIT_REFUSALS = (
    "RateLimitedByCooldown",
    "RateLimitedByWindow",
    "RateLimitedByIp",
    "RateLimitedByFailuresNetwork",
    "RateLimitedByFailuresDestination",
)
OTHER_REFUSALS = (
    "DestinationNotAllowed",
    "InvalidCode",
    "TooManyAttempts",
    "Expired",
    "NotFound",
    "InvalidRequest",
    "EndUserIpMissing",
    "TestDestinationUsed",
    "OriginNotAllowed",
    "UnsupportedMediaType",
)
FAILURES = ("DeliveryFailed", "ServiceUnavailable", "InternalError")
# The pumping guard: what it counted and decided, and what it could not do.
PUMPING_FLOW = (
    "PumpingCodeCounted",
    "PumpingCodeConverted",
    "PumpingPrefixBlocked",
    "PumpingPrefixUnblocked",
    "PumpingSendRefused",
)
PUMPING_TROUBLE = ("PumpingBlockListUnavailable", "PumpingFeedbackSent", "PumpingFeedbackFailed")
NOT_ON_THE_DASHBOARD = {
    "RateLimited": "the sum of the RateLimitedBy* metrics, which the refusals widget shows one by one",
    "IdempotentReplay": "a retry answered from its first response: normal client behaviour, not a signal",
    "IdempotencyConflict": "a client bug (one Idempotency-Key, two bodies), visible in the API 4xx widget",
    "RequestInProgress": "a client retrying before its first request ended, visible in the API 4xx widget",
    "NotPending": "cancel or verify of an ended verification: normal client behaviour",
    "PayloadTooLarge": "oversized bodies, counted with the other 4xx in the API widget",
    "VerificationRead": "status reads: load, shown by the API requests widget",
    "VerificationCanceled": "cancels: a product figure, queried on demand rather than watched",
    "SmsSegments": "a billing figure (segments per SMS), for the cost report rather than operations",
    "SmsLanguagesOverOneSegment": "a configuration finding, once per cold start, that its start-up warning explains",
}
FUNCTIONS = ("Generate", "Verify", "Verifications", "PumpingGuard")
CONVERSION_TITLE = "Verify conversion (verified / generated)"
LOG_GROUPS = tuple(f"${{{name}LogGroup}}" for name in FUNCTIONS)
GUARD_LOG_GROUP = "${PumpingGuardLogGroup}"
COLD_STARTS_QUERY = (
    # The request path's functions: their cold starts are what a user waits for.
    " | ".join(f"SOURCE '{group}'" for group in LOG_GROUPS[:3])
    + ' | filter @type = "REPORT" and ispresent(@initDuration)'
    " | stats count() as cold_starts, pct(@initDuration, 50) as init_p50, pct(@initDuration, 99) as init_p99"
    " by bin(1h)"
)
# Conversion by country comes from the logs (the country, never the number): per-country custom
# metrics would cost more than the service.
COUNTRY_QUERY = (
    " | ".join(f"SOURCE '{group}'" for group in LOG_GROUPS[:2])
    + ' | filter message in ["code delivered", "code verified"] and ispresent(country)'
    ' | fields strcontains(message, "delivered") as delivered_one, strcontains(message, "verified") as verified_one'
    " | stats sum(delivered_one) as delivered, sum(verified_one) as verified,"
    " 100 * sum(verified_one) / sum(delivered_one) as conversion_pct by country"
    " | sort delivered desc | limit 50"
)
# The guard's own view: sms and voice codes as it counts them, one "prefix counted" line per prefix
# per stream batch (a replayed batch logs again, so these sums may run a little high).
_GUARD_SUMS = (
    f"SOURCE '{GUARD_LOG_GROUP}'"
    ' | filter message = "prefix counted"'
    " | stats sum(delivered) as delivered, sum(verified) as verified,"
    " 100 * sum(verified) / sum(delivered) as conversion_pct"
)
GUARD_COUNTRY_QUERY = _GUARD_SUMS + " by country | sort delivered desc | limit 50"
GUARD_PREFIX_QUERY = _GUARD_SUMS + " by prefix, country | sort delivered desc | limit 100"


def _widget(kind: str, position: tuple[int, int, int], title: str, **properties: Any) -> dict[str, Any]:
    x, y, width = position
    view = "table" if kind == "log" else "timeSeries"
    common: dict[str, Any] = {"title": title, "region": "${AWS::Region}", "view": view}
    if kind == "metric":
        common.update({"stat": properties.pop("stat", "Sum"), "period": 300})
    return {"type": kind, "x": x, "y": y, "width": width, "height": 6, "properties": {**common, **properties}}


def _totals(names: Iterable[str]) -> list[list[dict[str, str]]]:
    """One line per metric, summed over whatever dimensions it was emitted with (the guard's have none)."""
    return [
        [
            {
                "expression": f"SUM(SEARCH('Namespace=\"{NAMESPACE}\" MetricName=\"{name}\"', 'Sum', 300))",
                "label": name,
                "id": f"p{name.lower()}"[:21],
            }
        ]
        for name in names
    ]


def _searched(names: Iterable[str]) -> list[list[dict[str, str]]]:
    """One line per metric, summed over every channel it was emitted with."""
    return [
        [
            {
                "expression": f"SUM(SEARCH('{{{NAMESPACE},channel}} MetricName=\"{name}\"', 'Sum', 300))",
                "label": name,
                "id": f"e{name.lower()}"[:21],
            }
        ]
        for name in names
    ]


def _conversion() -> list[list[Any]]:
    # gs, ge, vs, ve: generated and verified, by sms and email.
    hidden: list[list[Any]] = [
        [NAMESPACE, name, "channel", channel, {"id": f"{initial}{channel[0]}", "visible": False}]
        for name, initial in (("CodeGenerated", "g"), ("CodeVerified", "v"))
        for channel in CHANNELS
    ]
    return [
        *hidden,
        [
            {
                "expression": "100 * (FILL(vs, 0) + FILL(ve, 0)) / (FILL(gs, 0) + FILL(ge, 0))",
                "label": "verified / generated (%)",
                "id": "conversion",
            }
        ],
        [{"expression": "100 * FILL(vs, 0) / gs", "label": "sms (%)", "id": "conversion_sms"}],
        [{"expression": "100 * FILL(ve, 0) / ge", "label": "email (%)", "id": "conversion_email"}],
    ]


def _function(name: str) -> tuple[str, str]:
    return "FunctionName", f"${{{name}LambdaFunction}}"


def _lambda_durations() -> list[list[Any]]:
    return [
        ["AWS/Lambda", "Duration", *_function(name), {"stat": stat, "label": f"{name} {stat}"}]
        for name in FUNCTIONS
        for stat in ("p50", "p99")
    ]


def _lambda_errors() -> list[list[Any]]:
    lines: list[list[Any]] = []
    for name in FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            lines.append(["AWS/Lambda", metric, *_function(name), {"label": f"{name} {metric.lower()}"}])
    return lines


def refusals(metrics: frozenset[str]) -> list[str]:
    later_limits = sorted(m for m in metrics if m.startswith(REFUSAL_PREFIX) and m not in SEND_LIMIT_REFUSALS)
    return [*SEND_LIMIT_REFUSALS, *later_limits, *OTHER_REFUSALS]


def check_catalog(metrics: frozenset[str]) -> None:
    """Every shown metric is emitted, and every emitted metric is shown or left off for a reason."""
    shown = {*DELIVERY_FLOW, *refusals(metrics), *FAILURES, *PUMPING_FLOW, *PUMPING_TROUBLE}
    not_emitted = (shown | set(NOT_ON_THE_DASHBOARD)) - metrics
    if not_emitted:
        raise ValueError(f"not in otp.observability.METRICS, so never emitted: {sorted(not_emitted)}")
    unplaced = metrics - shown - set(NOT_ON_THE_DASHBOARD)
    if unplaced:
        raise ValueError(f"metrics neither on a widget nor in NOT_ON_THE_DASHBOARD with a reason: {sorted(unplaced)}")


def body(metrics: frozenset[str] = METRICS) -> dict[str, Any]:
    check_catalog(metrics)
    flow = [
        [NAMESPACE, name, "channel", channel, {"label": f"{name} {channel}"}]
        for channel in CHANNELS
        for name in DELIVERY_FLOW
    ]
    api = [["AWS/ApiGateway", name, "ApiId", "${HttpApi}", {"label": name}] for name in ("Count", "4xx", "5xx")]
    latency = [
        ["AWS/ApiGateway", "Latency", "ApiId", "${HttpApi}", {"stat": stat, "label": f"latency {stat}"}]
        for stat in ("p50", "p99")
    ]
    failures_title = "Failures: 502 delivery, 503 dependency, 500 unexpected"
    percent_axis = {"left": {"min": 0, "max": 100}}
    return {
        "widgets": [
            _widget("metric", (0, 0, 12), "Codes generated, delivered and verified, by channel", metrics=flow),
            _widget("metric", (12, 0, 12), CONVERSION_TITLE, metrics=_conversion(), yAxis=percent_axis),
            _widget("metric", (0, 6, 12), "Refusals by reason", metrics=_searched(refusals(metrics))),
            _widget("metric", (12, 6, 12), failures_title, metrics=_searched(FAILURES)),
            _widget(
                "metric",
                (0, 12, 8),
                "Lambda duration p50 / p99 (ms)",
                stat="p50",
                metrics=_lambda_durations(),
            ),
            _widget("metric", (8, 12, 8), "Lambda errors and throttles", metrics=_lambda_errors()),
            _widget("log", (16, 12, 8), "Cold starts (init duration, ms)", query=COLD_STARTS_QUERY),
            _widget("metric", (0, 18, 12), "API requests, 4xx and 5xx", metrics=api),
            _widget("metric", (12, 18, 12), "API latency (ms)", stat="p50", metrics=latency),
            _widget(
                "log",
                (0, 24, 24),
                "Conversion by destination country (from logs; never the number)",
                query=COUNTRY_QUERY,
            ),
            _widget(
                "metric", (0, 30, 12), "Pumping guard: codes counted, converted, blocks", metrics=_totals(PUMPING_FLOW)
            ),
            _widget(
                "metric",
                (12, 30, 12),
                "Pumping guard: block list unreadable (generate failed open), delivery feedback",
                metrics=_totals(PUMPING_TROUBLE),
            ),
            _widget(
                "log",
                (0, 36, 12),
                "Pumping guard: sms and voice conversion by country (from logs)",
                query=GUARD_COUNTRY_QUERY,
            ),
            _widget(
                "log",
                (12, 36, 12),
                "Pumping guard: conversion by prefix (from logs; a prefix, never a number)",
                query=GUARD_PREFIX_QUERY,
            ),
        ]
    }


def render(metrics: frozenset[str] = METRICS) -> str:
    """The resource as YAML, the body a literal block so that its diff stays readable."""
    text = json.dumps(body(metrics), indent=1) + "\n"
    indented = "".join(f"        {line}\n" for line in text.splitlines())
    return (
        "# Generated by `python -m deploy.dashboard` from otp.observability.METRICS: do not edit by hand.\n"
        "# What an operator looks at: codes and conversion by channel, refusals by reason, failures, the\n"
        "# functions, the API, cold starts, conversion by country (from logs, never a metric) and the\n"
        "# pumping guard (its totals, and conversion by country and by prefix from its logs).\n"
        "Resources:\n"
        "  OtpDashboard:\n"
        "    Type: AWS::CloudWatch::Dashboard\n"
        "    Properties:\n"
        "      DashboardName: otp-${sls:stage}\n"
        "      DashboardBody: !Sub |\n" + indented
    )


def main(argv: list[str]) -> int:
    rendered = render()
    if "--check" in argv:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != rendered:
            print(f"{OUTPUT} is out of date: run python -m deploy.dashboard", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(rendered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
