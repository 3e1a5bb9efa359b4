"""At the generate function's cold start, a brand that pushes a built-in language into a second SMS
segment is one warning, naming the languages and the brand length that fits, and one data point."""

from __future__ import annotations

import json
import logging
import re

import pytest

from otp.bootstrap import generate_dependencies
from otp.config import load_settings
from otp.messages.templates import segment_report
from tests.fakes import FakeAdapters
from tests.helpers import FakeClock

BASE = {"OTP_KMS_KEY_ID": "alias/unit", "OTP_DIGEST_KEY_ID": "alias/unit-digests", "OTP_EMAIL_SENDER": "otp@x.io"}
AUTOFILL = {"OTP_WEBOTP_DOMAIN": "example.com", "OTP_ANDROID_APP_HASH": "FA+9qCX9VSu"}
# With both autofill lines, a 6-digit code and 5 minutes, Hindi fills its 70 UCS-2 units at a
# 22-character plain brand; every other language is GSM-7 and has room to spare.
FITS = "B" * 22


def cold_start(caplog, capsys, **settings: str) -> tuple[list[logging.LogRecord], list[dict]]:
    """The warnings the bootstrap logged and the EMF metric documents it printed."""
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="otp.bootstrap"):
        generate_dependencies(load_settings({**BASE, **settings}), FakeAdapters().adapters(), FakeClock())
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    warnings = [record for record in caplog.records if "SMS segment" in record.getMessage()]
    return warnings, [document for document in printed if "_aws" in document]


def segment_points(documents: list[dict]) -> list[tuple[str, float]]:
    return [(d["channel"], d["SmsLanguagesOverOneSegment"]) for d in documents if "SmsLanguagesOverOneSegment" in d]


def test_a_brand_that_fits_every_language_starts_silently(caplog, capsys):
    warnings, documents = cold_start(caplog, capsys, OTP_BRAND_NAME=FITS, **AUTOFILL)
    assert warnings == []
    assert segment_points(documents) == []


def test_one_character_more_puts_exactly_hindi_over_one_warning_and_one_data_point(caplog, capsys):
    warnings, documents = cold_start(caplog, capsys, OTP_BRAND_NAME=FITS + "B", **AUTOFILL)
    assert len(warnings) == 1
    record = warnings[0]
    assert record.languages == ["hi"] and record.brand_length == len(FITS)
    message = record.getMessage()
    assert "hi (2 segments)" in message and f"at most {len(FITS)} characters" in message
    assert re.findall(r"\b([a-z]{2}) \(\d+ segments\)", message) == ["hi"]  # and no other language
    assert segment_points(documents) == [("sms", [1.0])]


def test_without_autofill_lines_the_same_brand_fits(caplog, capsys):
    warnings, documents = cold_start(caplog, capsys, OTP_BRAND_NAME=FITS + "B")
    assert warnings == [] and segment_points(documents) == []


def test_a_brand_outside_gsm_7_puts_every_language_over_and_names_them_all(caplog, capsys):
    warnings, documents = cold_start(caplog, capsys, OTP_BRAND_NAME="Pagamentos Ágeis do Brasil Ltda", **AUTOFILL)
    assert len(warnings) == 1 and len(warnings[0].languages) == 8
    assert segment_points(documents) == [("sms", [8.0])]
    assert 0 < warnings[0].brand_length < len("Pagamentos Ágeis do Brasil Ltda")


@pytest.mark.parametrize(
    "extra",
    [
        {"OTP_SMS_TEMPLATE": "{code} is your code"},  # the built-in texts are not what is sent
        {"OTP_SMS_PROVIDER": "notify", "OTP_NOTIFY_CONFIGURATION_ID": "nc-0123456789abcdef"},  # AWS's own text
    ],
)
def test_no_warning_when_the_built_in_texts_are_not_sent(caplog, capsys, extra):
    warnings, documents = cold_start(caplog, capsys, OTP_BRAND_NAME=FITS + "BBBB", **AUTOFILL, **extra)
    assert warnings == [] and segment_points(documents) == []


def test_the_reported_length_is_the_longest_that_fits():
    report = segment_report(FITS + "BBBB", "example.com", "FA+9qCX9VSu", 6, 300)
    assert report.over == {"hi": 2} and report.brand_length == len(FITS)
    assert segment_report(FITS, "example.com", "FA+9qCX9VSu", 6, 300).over == {}


def test_the_documented_brand_length_is_the_computed_one():
    from pathlib import Path

    from otp.messages import ONE_SEGMENT_BRAND_LENGTH

    docs = Path(__file__).resolve().parents[2] / "docs"
    assert f"up to {ONE_SEGMENT_BRAND_LENGTH} plain (GSM-7) characters" in (docs / "configuration.md").read_text()
    assert f"is {ONE_SEGMENT_BRAND_LENGTH} characters" in (docs / "messages.md").read_text()
    assert f"up to {ONE_SEGMENT_BRAND_LENGTH} plain characters" in (docs / "production-checklist.md").read_text()
