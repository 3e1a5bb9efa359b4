"""Cost model: list prices times the calls counted and the warm time measured, per million verifications."""

from __future__ import annotations

from collections import Counter

from bench.figures import table
from bench.report import Section, prose

# AWS list prices, us-east-1, checked on PRICES_DATE. The SMS or email itself is excluded.
PRICES = {
    "lambda_arm64_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1_000_000,
    "http_api_request": 1.00 / 1_000_000,
    "kms_request": 0.03 / 10_000,
    "dynamodb_write_unit": 0.625 / 1_000_000,
    "logs_ingested_gb": 0.50,
}
PRICES_DATE = "2026-11-28"
TWILIO_VERIFY_PER_VERIFICATION = 0.05
LAMBDA_MEMORY_GB = 512 / 1024  # serverless.yml memorySize
# The recommended deployment: IAM, with the backend passing the end user's client_ip.
GENERATE, VERIFY = "generate (SMS, with client_ip)", "verify (right code)"


def measure(aws_calls: Section, warm: Section) -> Section:
    """One verification = one generate and one verify, as ``aws_calls`` counted them and ``warm`` timed them."""
    generate_calls, verify_calls = (
        Counter(aws_calls.facts["calls"][GENERATE]),
        Counter(aws_calls.facts["calls"][VERIFY]),
    )
    kms = generate_calls["kms:Encrypt"] + verify_calls["kms:Decrypt"]
    # On-demand write units: 1 per item write under 1 KB; each of a transaction's 2 items costs 2.
    write_units = (
        generate_calls["dynamodb:TransactWriteItems"] * 2 * 2
        + generate_calls["dynamodb:UpdateItem"]
        + verify_calls["dynamodb:UpdateItem"]
    )
    billed_ms = sum(max(1.0, warm.facts["service_ms"][route]) for route in ("generate (SMS)", VERIFY))
    log_bytes = sum(aws_calls.facts["log_bytes"][route] for route in ("generate (SMS)", VERIFY))
    per_million = {
        "Lambda requests": 2 * PRICES["lambda_request"],
        "Lambda duration (arm64, 512 MB)": billed_ms / 1000 * LAMBDA_MEMORY_GB * PRICES["lambda_arm64_gb_second"],
        "HTTP API requests": 2 * PRICES["http_api_request"],
        f"KMS ({kms} requests)": kms * PRICES["kms_request"],
        f"DynamoDB on-demand ({write_units} write units)": write_units * PRICES["dynamodb_write_unit"],
        f"CloudWatch Logs ingestion ({log_bytes} bytes of logs and metrics)": log_bytes
        / 1024**3
        * PRICES["logs_ingested_gb"],
    }
    rows = [[item, f"${cost * 1_000_000:,.2f}"] for item, cost in per_million.items()]
    total, twilio = sum(per_million.values()) * 1_000_000, TWILIO_VERIFY_PER_VERIFICATION * 1_000_000
    rows.append(["**total per 1,000,000 verifications**", f"**${total:,.2f}**"])
    rows.append([f"Twilio Verify at ${TWILIO_VERIFY_PER_VERIFICATION} per verification", f"${twilio:,.0f}"])
    largest = max(per_million, key=lambda item: per_million[item])
    text = prose(
        "cost",
        prices_date=PRICES_DATE,
        billed_ms=billed_ms,
        table=table(["item", "per 1,000,000 verifications"], rows),
        times_cheaper=twilio / total,
        largest=largest,
    )
    return Section("cost", "Cost model", text, {"total": total, "twilio": twilio, "largest": largest})
