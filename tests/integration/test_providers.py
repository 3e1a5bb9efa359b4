"""The delivery adapters against their APIs: what each request carries, and how each refusal maps.

Requests are captured as botocore builds them (``before-parameter-build``) and then sent to the
local End User Messaging stand-in over HTTP; faults are answered beneath botocore's retry loop
(``before-send``), so its standard-mode retries see them exactly as they would see AWS fail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError

from otp.aws import clients
from otp.aws.sms import EumSmsSender, MessageFeedback, NotifySmsSender, SnsSmsSender, eum_price, time_to_live
from otp.aws.voice import EumVoiceSender, NotifyVoiceSender
from otp.aws.whatsapp import WhatsAppSender
from otp.domain.outbound import DeliveryRefused, SmsMessage, VoiceMessage, WhatsAppMessage
from otp.messages import render_voice
from tests.integration import test_local_messaging
from tests.integration.test_local_messaging import PHONE, PHONE_NUMBER_ID

messaging = test_local_messaging.messaging  # the emulator on 127.0.0.1, as a fixture of this module too

INDIA = "+919876543210"
RETRIES = 3  # total attempts in standard mode, as otp/aws/clients.py configures it


@pytest.fixture
def emulator(messaging):
    return messaging


def sms_voice():
    return clients.client("pinpoint-sms-voice-v2")


def social():
    return clients.client("socialmessaging")


def capture(client_factory, operation: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    client = client_factory()
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(
        f"before-parameter-build.{service}.{operation}", lambda params, **_: sent.append(dict(params))
    )
    return sent


def sms(number=PHONE, ttl=120, country="US"):
    return SmsMessage(number, "482910 is your Acme code.", "482910", ttl, country)


def voice(ttl=120):
    spoken = render_voice("fr", "482910", "Acme", ttl, "en")
    return VoiceMessage(PHONE, spoken.ssml, spoken.text, "482910", spoken.language, spoken.voice_id, ttl)


def test_time_to_live_is_the_remaining_validity_within_the_apis_range():
    assert [time_to_live(s) for s in (1, 4, 5, 300, 3600, 10**7)] == [5, 5, 5, 300, 3600, 259200]


def test_max_price_takes_end_user_messagings_form():
    assert (eum_price(None), eum_price("1"), eum_price("0.05"), eum_price("12.12345")) == (
        None,
        "1.0",
        "0.05",
        "12.12345",
    )
    for too_much in ("100", "0.123456", "1000.5"):
        with pytest.raises(ValueError, match="MaxPrice below 100"):
            eum_price(too_much)


def test_an_eum_sms_carries_every_configured_control(emulator):
    sent = capture(sms_voice, "SendTextMessage")
    sender = EumSmsSender(
        sms_voice,
        origination_identity="pool-0123",
        protect_configuration_id="protect-0123",
        configuration_set="otp-events",
        max_price="1",
        entity_id="1101000000000012345",
        template_id="1107000000000067890",
        feedback=True,
    )
    sender.send_sms(sms(INDIA, ttl=2, country="IN"))
    sender.send_sms(sms(PHONE, ttl=300, country="US"))
    india, us = sent
    assert india == {
        "DestinationPhoneNumber": INDIA,
        "MessageBody": "482910 is your Acme code.",
        "TimeToLive": 5,  # 2 s of validity left, raised to the API's minimum
        "MessageType": "TRANSACTIONAL",
        "OriginationIdentity": "pool-0123",
        "ProtectConfigurationId": "protect-0123",
        "ConfigurationSetName": "otp-events",
        "MaxPrice": "1.0",
        "MessageFeedbackEnabled": True,
        "DestinationCountryParameters": {
            "IN_ENTITY_ID": "1101000000000012345",
            "IN_TEMPLATE_ID": "1107000000000067890",
        },
    }
    assert us["TimeToLive"] == 300 and "DestinationCountryParameters" not in us  # DLT concerns India only
    assert [m.destination for m in emulator.messages()] == [INDIA, PHONE]


def test_an_eum_sms_without_options_sends_none_of_them(emulator):
    sent = capture(sms_voice, "SendTextMessage")
    EumSmsSender(sms_voice, feedback=False).send_sms(sms())
    assert set(sent[0]) == {"DestinationPhoneNumber", "MessageBody", "TimeToLive", "MessageType"}


def test_a_notify_sms_sends_the_code_as_the_template_variable(emulator):
    sent = capture(sms_voice, "SendNotifyTextMessage")
    NotifySmsSender(
        sms_voice, "notify-config-1", template_id="otp-template-2", configuration_set="otp-events"
    ).send_sms(sms(ttl=240))
    NotifySmsSender(sms_voice, "notify-config-1", feedback=False).send_sms(sms(ttl=240))
    with_template, default = sent
    assert with_template == {
        "DestinationPhoneNumber": PHONE,
        "NotifyConfigurationId": "notify-config-1",
        "TemplateId": "otp-template-2",
        "TemplateVariables": {"code": "482910"},
        "TimeToLive": 240,
        "ConfigurationSetName": "otp-events",
        "MessageFeedbackEnabled": True,
    }
    assert "TemplateId" not in default and "MessageFeedbackEnabled" not in default
    assert "MessageBody" not in with_template  # the brand, template and autofill lines do not apply


def test_an_eum_call_speaks_our_ssml_in_the_languages_voice(emulator):
    sent = capture(sms_voice, "SendVoiceMessage")
    EumVoiceSender(sms_voice, "+12025550123", configuration_set="otp-events").send_voice(voice(ttl=3))
    [call] = sent
    assert call["MessageBodyTextType"] == "SSML" and call["MessageBody"].startswith("<speak>")
    assert call["VoiceId"] == "LEA" and call["OriginationIdentity"] == "+12025550123"
    assert call["TimeToLive"] == 5 and call["ConfigurationSetName"] == "otp-events"
    assert call["MessageFeedbackEnabled"] is True


def test_a_notify_call_passes_the_code_and_the_voice(emulator):
    sent = capture(sms_voice, "SendNotifyVoiceMessage")
    NotifyVoiceSender(sms_voice, "notify-config-1").send_voice(voice())
    [call] = sent
    assert call["TemplateVariables"] == {"code": "482910"} and call["VoiceId"] == "LEA"
    assert call["NotifyConfigurationId"] == "notify-config-1" and call["TimeToLive"] == 120


def test_a_whatsapp_message_is_an_authentication_template_with_the_code_twice(emulator):
    sent = capture(social, "SendWhatsAppMessage")
    WhatsAppSender(social, PHONE_NUMBER_ID, meta_api_version="v21.0").send_whatsapp(
        WhatsAppMessage(PHONE, "482910", "acme_otp", "pt_BR")
    )
    [request] = sent
    assert request["originationPhoneNumberId"] == PHONE_NUMBER_ID and request["metaApiVersion"] == "v21.0"
    assert isinstance(request["message"], bytes)
    body = json.loads(request["message"])
    assert body["to"] == PHONE and body["type"] == "template"
    template = body["template"]
    assert template["name"] == "acme_otp" and template["language"]["code"] == "pt_BR"
    body_part, button = template["components"]
    assert body_part == {"type": "body", "parameters": [{"type": "text", "text": "482910"}]}
    assert button == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "482910"}],
    }


def test_sns_keeps_its_attributes_behind_the_new_port(aws):
    sent = capture(lambda: clients.client("sns"), "Publish")
    receipt = SnsSmsSender(
        lambda: clients.client("sns"), sender_id="ACME", max_price="0.05", entity_id="110100", template_id="110700"
    ).send_sms(sms())
    attributes = sent[0]["MessageAttributes"]
    assert attributes["AWS.SNS.SMS.MaxPrice"] == {"DataType": "Number", "StringValue": "0.05"}
    assert attributes["AWS.MM.SMS.EntityId"]["StringValue"] == "110100"
    assert attributes["AWS.MM.SMS.TemplateId"]["StringValue"] == "110700"
    assert attributes["AWS.SNS.SMS.SenderID"]["StringValue"] == "ACME"
    assert receipt.provider == "sns" and receipt.message_id


def test_adapters_create_no_client_until_they_send(emulator):
    clients.reset_clients()
    (
        EumSmsSender(sms_voice),
        NotifySmsSender(sms_voice, "c"),
        EumVoiceSender(sms_voice, "+1"),
        WhatsAppSender(social, "p"),
    )
    assert clients.created_clients() == []
    WhatsAppSender(social, PHONE_NUMBER_ID).send_whatsapp(WhatsAppMessage(PHONE, "1234", "otp_code", "en_US"))
    assert clients.created_clients() == ["socialmessaging"]


# --- Faults, beneath botocore's retries -------------------------------------------------------


def answer_with(status: int, code: str, **fields: Any) -> AWSResponse:
    headers = {"x-amzn-RequestId": "fault-injected", "x-amzn-ErrorType": code, "Content-Type": "application/json"}
    body = json.dumps({"__type": code, "message": f"injected for {PHONE}", **fields}).encode()

    class Raw:
        def stream(self, **_: Any):
            yield body

    return AWSResponse("https://fault.invalid/", status, headers, Raw())


def fail(client_factory, operation: str, fault) -> list[int]:
    """Answer every attempt of ``operation`` with ``fault()``; the list counts the attempts."""
    attempts: list[int] = []
    client = client_factory()
    service = client.meta.service_model.service_id.hyphenize()

    def on_send(**_: Any) -> AWSResponse:
        attempts.append(1)
        return fault()

    client.meta.events.register_first(f"before-send.{service}.{operation}", on_send)
    return attempts


def timed_out() -> AWSResponse:
    raise ConnectTimeoutError(endpoint_url="https://sms-voice.invalid/")


def send_eum_sms():
    EumSmsSender(sms_voice).send_sms(sms())


def send_notify_sms():
    NotifySmsSender(sms_voice, "notify-config-1").send_sms(sms())


def send_eum_voice():
    EumVoiceSender(sms_voice, "+12025550123").send_voice(voice())


def send_notify_voice():
    NotifyVoiceSender(sms_voice, "notify-config-1").send_voice(voice())


def send_whatsapp():
    WhatsAppSender(social, PHONE_NUMBER_ID).send_whatsapp(WhatsAppMessage(PHONE, "482910", "otp_code", "en_US"))


def report_feedback():
    MessageFeedback(sms_voice).received("message-0123")


# (operation, client, the call, the throttling error, the server error)
CALLS = [
    ("SendTextMessage", sms_voice, send_eum_sms, "ThrottlingException", "InternalServerException"),
    ("SendNotifyTextMessage", sms_voice, send_notify_sms, "ThrottlingException", "InternalServerException"),
    ("SendVoiceMessage", sms_voice, send_eum_voice, "ThrottlingException", "InternalServerException"),
    ("SendNotifyVoiceMessage", sms_voice, send_notify_voice, "ThrottlingException", "InternalServerException"),
    ("SendWhatsAppMessage", social, send_whatsapp, "ThrottledRequestException", "InternalServiceException"),
    ("PutMessageFeedback", sms_voice, report_feedback, "ThrottlingException", "InternalServerException"),
]


@pytest.mark.parametrize(("operation", "client", "call", "throttle", "server_error"), CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize("fault", ["throttled", "server_error", "timeout", "validation"])
def test_every_refusal_is_delivery_refused_after_the_retries_it_deserves(
    emulator, backoff_sleeps, operation, client, call, throttle, server_error, fault
):
    faults = {
        "throttled": lambda: answer_with(429 if client is social else 400, throttle),
        "server_error": lambda: answer_with(500, server_error),
        "timeout": timed_out,
        "validation": lambda: answer_with(400, "ValidationException", Reason="INVALID_PARAMETER"),
    }
    attempts = fail(client, operation, faults[fault])
    with pytest.raises(DeliveryRefused) as refused:
        call()
    assert len(attempts) == (1 if fault == "validation" else RETRIES)
    assert len(backoff_sleeps) == len(attempts) - 1
    assert emulator.messages() == [] and emulator.feedback() == []
    text = str(refused.value)
    assert operation in text and PHONE not in text and "482910" not in text and "injected" not in text
    if fault == "validation":  # End User Messaging models the reason (an enum) and the refusal names it
        assert text.endswith("ValidationException" if client is social else "ValidationException (INVALID_PARAMETER)")
