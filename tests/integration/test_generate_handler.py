"""POST /generate through the real lambda_handler, against the emulator."""

import base64
import json

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from tests.helpers import GOOD_IN, GOOD_US, SENDER


def test_sms_code_is_generated_encrypted_stored_and_delivered(api, aws):
    reply = api.generate({"channel": "sms", "destination": "+91 98765 43210", "purpose": "login"})
    assert reply.status == 201
    assert reply.body["channel"] == "sms"
    assert reply.body["destination"] == "+91******3210"
    assert reply.body["purpose"] == "login"
    assert reply.body["expires_in"] == 300
    assert reply.body["resend_after"] == 30
    assert reply.body["expires_at"] == "2027-01-15T08:05:00Z"  # the fake clock plus 300 s
    assert reply.body["verification_id"].startswith("vrf_")
    assert "code" not in reply.body
    [(phone, text)] = aws.sms()
    assert phone == GOOD_IN
    assert "OTP Service" in text
    assert "5 min" in text
    code = api.last_code(GOOD_IN)
    assert code not in json.dumps(reply.body)


def test_sms_is_published_as_transactional_with_the_sender_id(make_api, aws, faults):
    api = make_api(OTP_SMS_SENDER_ID="Acme")
    seen = []
    from otp.aws.clients import client

    client("sns").meta.events.register(
        "provide-client-params.sns.Publish", lambda params, **_: seen.append(params["MessageAttributes"])
    )
    api.issue(GOOD_US)
    assert seen[0]["AWS.SNS.SMS.SMSType"]["StringValue"] == "Transactional"
    assert seen[0]["AWS.SNS.SMS.SenderID"]["StringValue"] == "Acme"


def test_email_code_is_delivered_with_subject_and_brand(make_api, aws):
    api = make_api(OTP_BRAND_NAME="Acme Bank", OTP_TTL_SECONDS="600")
    reply = api.generate({"channel": "email", "destination": "Ada@Example.COM"})
    assert reply.status == 201
    assert reply.body["destination"] == "A***@example.com"
    [email] = aws.emails()
    assert email.source == SENDER
    assert email.destinations["ToAddresses"] == ["Ada@example.com"]
    assert email.subject == "Your Acme Bank verification code"
    assert "Acme Bank" in email.body
    assert "10 minutes" in email.body


def test_no_plaintext_code_is_stored(api, aws):
    _, code = api.issue(GOOD_US)
    [record] = aws.destination_items().values()
    assert code not in json.dumps(record, default=str)
    assert GOOD_US not in json.dumps(aws.table_items(), default=str)
    assert isinstance(record["ciphers"]["M"]["default"]["B"], bytes)
    assert int(record["expiry"]["N"]) >= int(record["codes"]["M"]["default"]["M"]["expires_at"]["N"]) + 3600


def test_body_without_content_type_and_form_content_type_are_read_as_json(api):
    body = json.dumps({"channel": "sms", "destination": GOOD_US})
    assert api.generate(body, headers={}).status == 201
    reply = api.generate(
        json.dumps({"channel": "sms", "destination": GOOD_IN}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 201


def test_base64_bodies_are_decoded(api):
    body = json.dumps({"channel": "sms", "destination": GOOD_US})
    assert api.generate(body, base64_body=True).status == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"destination": GOOD_US}, "channel"),
        ({"channel": "fax", "destination": GOOD_US}, "channel"),
        ({"channel": "sms"}, "destination"),
        ({"channel": "sms", "destination": 14155552671}, "destination"),
        ({"channel": "sms", "destination": "+15555550100"}, "destination"),
        ({"channel": "sms", "destination": "4155552671"}, "destination"),
        ({"channel": "email", "destination": "not-an-address"}, "destination"),
        ({"channel": "sms", "destination": GOOD_US, "purpose": "Login!"}, "purpose"),
        ({"channel": "sms", "destination": GOOD_US, "purpose": "x" * 33}, "purpose"),
        ({"channel": "sms", "destination": GOOD_US, "code": "123456"}, "code"),
        ({"channel": "sms", "destination": "+1" + "5" * 400}, "destination"),
        ("{not json", "body"),
        ("[" * 2000 + "]" * 2000, "body"),
        ('{"channel": "sms", "destination": "\\ud800"}', "destination"),
        ('{"channel": "sms", "destination": 1e999}', "destination"),
        ("[1, 2]", "body"),
        ('"a string"', "body"),
        ("", "body"),
        (None, "body"),
    ],
)
def test_bad_requests_get_400_with_the_field(api, aws, body, field):
    reply = api.generate(body)
    assert reply.status == 400, reply.body
    assert reply.error == "invalid_request"
    assert field in [d["field"] for d in reply.body["error"]["details"]]
    assert "verified" not in reply.body
    assert aws.sms() == []


def test_bad_base64_and_non_utf8_bodies_are_400(api):
    from local.events import LambdaContext, http_api_event

    handler = api.handlers["generate"]

    event = http_api_event("POST", "/generate", "not base64!!", base64_body=False)
    event["isBase64Encoded"] = True
    result = handler(event, LambdaContext())
    assert result["statusCode"] == 400
    event = http_api_event("POST", "/generate", None)
    event["body"], event["isBase64Encoded"] = base64.b64encode(b"\xff\xfe{}").decode(), True
    result = handler(event, LambdaContext())
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "invalid_request"


def test_bodies_over_4_kib_are_413(api, aws):
    body = json.dumps({"channel": "sms", "destination": GOOD_US, "purpose": "x" * 5000})
    reply = api.generate(body)
    assert reply.status == 413
    assert reply.error == "payload_too_large"
    assert api.generate(body, base64_body=True).status == 413
    assert aws.sms() == []


def test_email_without_a_configured_sender_is_a_bad_request(make_api, monkeypatch, aws):
    monkeypatch.delenv("OTP_EMAIL_SENDER", raising=False)
    api = make_api(OTP_EMAIL_SENDER="")
    reply = api.generate({"channel": "email", "destination": "a@example.com"})
    assert reply.status == 400
    assert reply.body["error"]["details"][0]["field"] == "channel"


@pytest.mark.parametrize(
    ("region", "kind"),
    [("US", PhoneNumberType.TOLL_FREE), ("GB", PhoneNumberType.PREMIUM_RATE), ("GB", PhoneNumberType.VOIP)],
)
def test_numbers_that_cannot_receive_sms_are_403(api, aws, region, kind):
    number = phonenumbers.format_number(
        phonenumbers.example_number_for_type(region, kind), phonenumbers.PhoneNumberFormat.E164
    )
    reply = api.generate({"channel": "sms", "destination": number})
    assert reply.status == 403
    assert reply.error == "destination_not_allowed"
    assert aws.sms() == []


def test_countries_outside_the_allow_list_are_403(make_api, aws):
    api = make_api(OTP_SMS_ALLOWED_COUNTRIES="IN")
    assert api.generate({"channel": "sms", "destination": GOOD_US}).status == 403
    assert api.generate({"channel": "sms", "destination": GOOD_IN}).status == 201
    assert [phone for phone, _ in aws.sms()] == [GOOD_IN]


def test_sns_refusal_is_502_and_leaves_nothing_verifiable(api, aws, faults, backoff_sleeps):
    faults.fail("sns", "Publish", 400, "InvalidParameter")
    reply = api.generate({"channel": "sms", "destination": GOOD_US})
    assert reply.status == 502
    assert reply.error == "delivery_failed"
    assert [item for item in aws.table_items() if item["kind"]["S"] == "code"] == []
    assert aws.sms() == []
    assert faults.attempts["sns.Publish"] == 1  # a client error is not retried


def test_a_failed_delivery_withdraws_only_its_own_code(api, aws, faults, backoff_sleeps):
    # The failed send superseded the earlier code; guessing that old code must not work either.
    _, old_code = api.issue(GOOD_US)
    api.clock.advance(31)
    faults.fail("sns", "Publish", 500, "InternalError")
    assert api.generate({"channel": "sms", "destination": GOOD_US}).status == 502
    assert faults.attempts["sns.Publish"] == 3  # a 5xx is retried by the standard mode
    reply = api.verify({"destination": GOOD_US, "code": old_code})
    assert reply.status == 404


def test_ses_refusal_is_502_and_the_code_never_verifies(make_api, aws):
    api = make_api(OTP_EMAIL_SENDER="unverified@example.com")
    reply = api.generate({"channel": "email", "destination": "bob@example.com"})
    assert reply.status == 502
    assert reply.error == "delivery_failed"
    assert aws.emails() == []
    for guess in ("000000", "123456"):
        assert api.verify({"destination": "bob@example.com", "code": guess}).status == 404


def test_kms_disabled_is_503_with_retry_after_and_nothing_sent(api, aws, faults):
    # moto ignores a key's disabled state, so KMS's answer for a disabled key is injected on the wire.
    faults.fail("kms", "Encrypt", 400, "DisabledException")
    reply = api.generate({"channel": "sms", "destination": GOOD_US})
    assert reply.status == 503
    assert reply.error == "service_unavailable"
    assert int(reply.headers["retry-after"]) >= 1
    assert faults.attempts["kms.Encrypt"] == 1
    assert aws.sms() == []
    assert [item for item in aws.table_items() if item["kind"]["S"] == "code"] == []


def test_dynamodb_outage_is_503(api, aws, faults, backoff_sleeps):
    faults.time_out("dynamodb", "UpdateItem")
    reply = api.generate({"channel": "sms", "destination": GOOD_US})
    assert reply.status == 503
    assert faults.attempts["dynamodb.UpdateItem"] == 3
    assert len(backoff_sleeps) == 2
    assert aws.sms() == []


def test_an_unexpected_fault_is_500_with_a_request_id_and_no_trace(api, monkeypatch, log_output):
    def explode(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.generate_deps.digests, "record_key", explode)
    reply = api.generate({"channel": "sms", "destination": GOOD_US})
    assert reply.status == 500
    assert reply.error == "internal_error"
    request_id = reply.body["error"]["request_id"]
    assert request_id
    assert "RuntimeError" not in json.dumps(reply.body)
    assert "boom" not in json.dumps(reply.body)
    logged = [json.loads(line) for line in log_output.getvalue().splitlines()]
    failure = next(line for line in logged if line["message"] == "unexpected failure")
    assert failure["function_request_id"] == request_id
    assert "RuntimeError" in failure["exception"]
