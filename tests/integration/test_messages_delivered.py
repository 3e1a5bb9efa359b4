"""Messages through the real generate handler: languages, autofill lines, SNS and SES settings, segments."""

import json

import pytest

from otp.aws.clients import client
from tests.helpers import GOOD_IN, GOOD_US


def published(make_api, **settings):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", **settings)
    seen = []
    client("sns").meta.events.register("provide-client-params.sns.Publish", lambda params, **_: seen.append(params))
    return api, seen


def test_the_locale_used_is_in_the_answer_and_the_message(make_api, aws):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0")
    assert api.generate({"channel": "sms", "destination": GOOD_US}).body["locale"] == "en"
    reply = api.generate({"channel": "sms", "destination": GOOD_US, "locale": "pt-BR"})
    assert reply.status == 201
    assert reply.body["locale"] == "pt"
    assert "Expira em 5 min" in aws.sms()[-1][1]
    assert api.generate({"channel": "sms", "destination": GOOD_IN, "locale": "hi-IN"}).body["locale"] == "hi"
    assert "कोड" in aws.sms()[-1][1]
    unknown = api.generate({"channel": "sms", "destination": GOOD_US, "locale": "tlh"})
    assert unknown.status == 201
    assert unknown.body["locale"] == "en"


def test_the_default_locale_is_configurable(make_api, aws):
    api = make_api(OTP_DEFAULT_LOCALE="de")
    assert api.generate({"channel": "email", "destination": "ada@example.com", "locale": "xx"}).body["locale"] == "de"
    [email] = aws.emails()
    assert "Bestätigungscode" in email.subject


@pytest.mark.parametrize("tag", ["und", "x-klingon", "i-klingon"])
def test_a_well_formed_tag_of_no_language_here_falls_back_and_sends(api, aws, tag):
    reply = api.generate({"channel": "sms", "destination": GOOD_US, "locale": tag})
    assert reply.status == 201, reply.body
    assert reply.body["locale"] == "en"
    assert "your OTP Service code" in aws.sms()[-1][1]


@pytest.mark.parametrize("tag", ["123", "en-", "e", "en_US", "x" * 20])
def test_a_malformed_locale_is_400_and_sends_nothing(api, aws, tag):
    reply = api.generate({"channel": "sms", "destination": GOOD_US, "locale": tag})
    assert reply.status == 400
    assert [d["field"] for d in reply.body["error"]["details"]] == ["locale"]
    assert aws.sms() == []


def test_autofill_lines_end_the_sms(make_api, aws):
    api = make_api(OTP_WEBOTP_DOMAIN="login.example.com", OTP_ANDROID_APP_HASH="FA+9qCX9VSu")
    _, code = api.issue(GOOD_US)
    lines = aws.sms()[-1][1].split("\n")
    assert lines[-2:] == ["FA+9qCX9VSu", f"@login.example.com #{code}"]


def test_price_cap_and_india_dlt_attributes_reach_sns(make_api, aws):
    api, seen = published(
        make_api, OTP_SMS_MAX_PRICE="0.05", OTP_SMS_ENTITY_ID="1101456789012345678", OTP_SMS_TEMPLATE_ID="1107161234"
    )
    api.issue(GOOD_IN)
    attributes = seen[-1]["MessageAttributes"]
    assert attributes["AWS.SNS.SMS.MaxPrice"] == {"DataType": "Number", "StringValue": "0.05"}
    assert attributes["AWS.MM.SMS.EntityId"] == {"DataType": "String", "StringValue": "1101456789012345678"}
    assert attributes["AWS.MM.SMS.TemplateId"] == {"DataType": "String", "StringValue": "1107161234"}


def test_without_those_settings_no_such_attribute_is_sent(make_api, aws):
    api, seen = published(make_api)
    api.issue(GOOD_US)
    assert set(seen[-1]["MessageAttributes"]) == {"AWS.SNS.SMS.SMSType"}


def test_ses_gets_the_configuration_set(make_api, aws):
    api = make_api(OTP_SES_CONFIGURATION_SET="otp-events")
    seen = []
    client("sesv2").meta.events.register(
        "provide-client-params.sesv2.SendEmail", lambda params, **_: seen.append(params)
    )
    api.issue("ada@example.com", channel="email")
    assert seen[-1]["ConfigurationSetName"] == "otp-events"


def test_a_custom_template_of_two_segments_still_sends_and_says_so(make_api, aws, capsys, log_output):
    template = "{code} " + "is the code you asked for at {brand}, valid for {minutes} minutes. " * 4
    api = make_api(OTP_SMS_TEMPLATE=template)
    capsys.readouterr()
    reply = api.generate({"channel": "sms", "destination": GOOD_US})
    assert reply.status == 201
    assert aws.sms()[-1][1].startswith(api.last_code(GOOD_US) + " is the code you asked for at OTP Service")
    [metrics] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert metrics["SmsSegments"] == [2.0]
    [delivered] = [json.loads(line) for line in log_output.getvalue().splitlines() if "code delivered" in line]
    assert delivered["sms_segments"] == 2
    assert delivered["locale"] == "en"
    assert delivered["country"] == "US"
