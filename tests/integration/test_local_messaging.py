"""The local stand-in for End User Messaging and Social, driven by the real adapters and botocore
clients over HTTP on 127.0.0.1, exactly as the runner and a deployment reach AWS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from local.messaging import LocalMessaging, heard
from otp.aws import clients
from otp.aws.sms import EumSmsSender, MessageFeedback, NotifySmsSender
from otp.aws.voice import EumVoiceSender, NotifyVoiceSender
from otp.aws.whatsapp import WhatsAppSender, send_method
from otp.domain.outbound import DeliveryRefused, SmsMessage, VoiceMessage, WhatsAppMessage
from otp.messages import render_voice

REGION = "ap-south-1"
PHONE = "+14155552671"
PHONE_NUMBER_ID = "phone-number-id-0123456789abcdef0123456789abcdef"


@pytest.fixture
def messaging(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalMessaging]:
    """The emulator on a werkzeug server at 127.0.0.1:<free port>, reached through AWS_ENDPOINT_URL."""
    emulator = LocalMessaging()
    server = make_server("127.0.0.1", 0, emulator.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="local-messaging", daemon=True)
    thread.start()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clients.reset_clients()
    try:
        yield emulator
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        clients.reset_clients()


def sms_voice():
    return clients.client("pinpoint-sms-voice-v2")


def social():
    return clients.client("socialmessaging")


def voice_message(code="482910", brand="Acme & <Co>"):
    voice = render_voice("en", code, brand, 300, "en")
    return VoiceMessage(PHONE, voice.ssml, voice.text, code, voice.language, voice.voice_id, 300)


def test_an_end_user_messaging_sms_is_recorded_as_sent(messaging):
    receipt = EumSmsSender(sms_voice, origination_identity="pool-0123", feedback=True).send_sms(
        SmsMessage(PHONE, "482910 is your Acme code.", "482910", 120, "US")
    )
    [sent] = messaging.messages()
    assert (sent.channel, sent.destination, sent.subject, sent.body) == (
        "sms",
        PHONE,
        None,
        "482910 is your Acme code.",
    )
    assert sent.operation == "SendTextMessage" and sent.parameters["TimeToLive"] == 120
    assert receipt.provider == "eum" and receipt.message_id
    assert sent.as_json()["sent_at"].endswith("Z")


def test_a_notify_sms_reads_as_the_template_with_the_code(messaging):
    NotifySmsSender(sms_voice, "notify-config-1").send_sms(SmsMessage(PHONE, "unused", "482910", 300))
    [sent] = messaging.messages()
    assert sent.channel == "sms" and "482910" in sent.body
    assert sent.parameters["TemplateVariables"] == {"code": "482910"}


def test_a_call_is_recorded_as_the_words_it_speaks(messaging):
    EumVoiceSender(sms_voice, "+12025550123").send_voice(voice_message())
    [sent] = messaging.messages()
    assert sent.channel == "voice" and sent.destination == PHONE
    assert sent.body.count("4 8 2 9 1 0") == 2 and "Acme & <Co>" in sent.body
    assert "<" + "speak" not in sent.body and "break" not in sent.body
    assert sent.parameters["MessageBodyTextType"] == "SSML" and sent.parameters["VoiceId"] == "JOANNA"


def test_a_notify_call_speaks_the_digits_one_by_one(messaging):
    NotifyVoiceSender(sms_voice, "notify-config-1").send_voice(voice_message())
    [sent] = messaging.messages()
    assert sent.channel == "voice" and sent.body.count("4 8 2 9 1 0") == 2


def test_a_whatsapp_message_reads_as_the_authentication_template(messaging):
    receipt = WhatsAppSender(social, PHONE_NUMBER_ID).send_whatsapp(
        WhatsAppMessage(PHONE, "482910", "otp_code", "pt_BR")
    )
    [sent] = messaging.messages()
    assert (sent.channel, sent.destination) == ("whatsapp", PHONE)
    assert "482910 is your verification code" in sent.body and "[otp_code pt_BR]" in sent.body
    assert sent.parameters["metaApiVersion"] == "v20.0"
    assert receipt.provider == "socialmessaging" and receipt.message_id


def test_feedback_is_recorded_apart_from_messages(messaging):
    MessageFeedback(sms_voice).received("message-0123")
    assert messaging.feedback() == [{"MessageId": "message-0123", "MessageFeedbackStatus": "RECEIVED"}]
    assert messaging.messages() == []


def unvalidated(service):
    """A client that skips botocore's own checks, so the emulator's are what answers."""
    session = clients.new_session()
    return session.create_client(service, config=Config(parameter_validation=False, retries={"max_attempts": 1}))


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"MessageBody": "hi"}, "DestinationPhoneNumber is required"),
        ({"DestinationPhoneNumber": PHONE, "MessageType": "URGENT"}, "MessageType must be one of"),
        ({"DestinationPhoneNumber": PHONE, "TimeToLive": 2}, "TimeToLive must be between 5"),
        ({"DestinationPhoneNumber": "+0x"}, "does not match"),
        ({"DestinationPhoneNumber": PHONE, "MaxPrice": "100"}, "MaxPrice"),
        ({"DestinationPhoneNumber": PHONE, "DestinationCountryParameters": {"IN_PE_ID": "1"}}, "must be one of"),
    ],
)
def test_requests_that_break_the_service_model_are_refused_and_not_sent(messaging, params, problem):
    with pytest.raises(ClientError) as refused:
        unvalidated("pinpoint-sms-voice-v2").send_text_message(**params)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert problem in refused.value.response["Error"]["Message"]
    assert messaging.messages() == []


def test_members_the_model_does_not_have_are_refused(messaging):
    import requests

    reply = requests.post(
        clients.client("pinpoint-sms-voice-v2").meta.endpoint_url,
        data=json.dumps({"DestinationPhoneNumber": PHONE, "Colour": "red"}),
        headers={"X-Amz-Target": "PinpointSMSVoiceV2.SendTextMessage", "Content-Type": "application/x-amz-json-1.0"},
        timeout=10,
    )
    assert reply.status_code == 400 and reply.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "Colour is not a member" in reply.json()["message"]
    assert messaging.messages() == []


def test_ssml_that_is_not_well_formed_is_refused(messaging):
    broken = VoiceMessage(PHONE, "<speak>Acme & Co</speak>", "Acme & Co", "1", "en", "JOANNA", 60)
    with pytest.raises(DeliveryRefused, match="ValidationException"):
        EumVoiceSender(sms_voice, "+12025550123").send_voice(broken)
    assert messaging.messages() == []


def test_a_whatsapp_body_that_is_not_an_authentication_template_is_refused(messaging):
    with pytest.raises(ClientError) as refused:
        send_method(social())(
            originationPhoneNumberId=PHONE_NUMBER_ID, message=b'{"type": "text"}', metaApiVersion="v20.0"
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert messaging.messages() == []


def test_fail_next_fails_on_the_wire_beneath_the_retries(messaging, backoff_sleeps):
    sender = EumSmsSender(sms_voice)
    messaging.fail_next("SendTextMessage", "ThrottlingException")
    sender.send_sms(SmsMessage(PHONE, "482910", "482910", 60))  # botocore retried once and got through
    assert len(messaging.messages()) == 1 and len(backoff_sleeps) == 1

    messaging.fail_next("SendTextMessage", "InternalServerException", times=3)
    with pytest.raises(DeliveryRefused, match="InternalServerException"):
        sender.send_sms(SmsMessage(PHONE, "482910", "482910", 60))
    assert len(messaging.messages()) == 1


def test_fail_next_takes_only_errors_the_operation_can_return(messaging):
    with pytest.raises(ValueError, match="does not return"):
        messaging.fail_next("SendWhatsAppMessage", "ThrottlingException")
    messaging.fail_next("SendWhatsAppMessage", "ThrottledRequestException")


def test_it_claims_only_its_own_requests():
    emulator = LocalMessaging()
    social_auth = "AWS4-HMAC-SHA256 Credential=local/20261201/ap-south-1/social-messaging/aws4_request, Signed"
    dynamodb_auth = "AWS4-HMAC-SHA256 Credential=local/20261201/ap-south-1/dynamodb/aws4_request, Signed"
    assert emulator.handles({"HTTP_X_AMZ_TARGET": "PinpointSMSVoiceV2.SendTextMessage"})
    assert emulator.handles({"HTTP_AUTHORIZATION": social_auth})
    assert not emulator.handles({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem", "HTTP_AUTHORIZATION": dynamodb_auth})
    assert not emulator.handles({})


def test_heard_text_keeps_the_words_and_drops_the_markup():
    voice = render_voice("de", "0077", "Acme", 120, "en")
    expected = "Hier ist Acme. Ihr Bestätigungscode lautet 0 0 7 7 Noch einmal, Ihr Code lautet 0 0 7 7 "
    assert heard(voice.ssml) == expected + "Er ist 2 Minuten gültig."
