"""SMS by Amazon SNS (Publish), AWS End User Messaging SMS (SendTextMessage) or its Notify
templates (SendNotifyTextMessage). Each adapter takes a client factory and calls it only when it
sends, so a function creates only the client of the provider it is configured for."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from otp.aws.delivery import DELIVERY_ERRORS, refused
from otp.domain.outbound import Receipt, SmsMessage

EUM_SERVICE = "pinpoint-sms-voice-v2"  # End User Messaging SMS and voice, Notify included
# SendTextMessage's and SendVoiceMessage's TimeToLive range, in seconds (botocore's model).
TTL_MIN, TTL_MAX = 5, 259200
_EUM_PRICE = re.compile(r"^[0-9]{0,2}\.[0-9]{1,5}$")


def time_to_live(remaining_seconds: int) -> int:
    """The code's remaining validity, raised to the API's minimum: a code delivered after it
    expired is worth nothing, and a carrier that cannot hand it off in time should drop it."""
    return min(TTL_MAX, max(TTL_MIN, remaining_seconds))


def eum_price(max_price: str | None) -> str | None:
    """OTP_SMS_MAX_PRICE (SNS's form, ``0.05`` or ``1``) in End User Messaging's form (``1.0``)."""
    if max_price is None:
        return None
    text = max_price if "." in max_price else f"{max_price}.0"
    if not _EUM_PRICE.match(text):
        raise ValueError("End User Messaging takes a MaxPrice below 100 with at most 5 decimals")
    return text


class SnsSmsSender:
    def __init__(
        self,
        sns_client: Callable[[], Any],
        sender_id: str | None = None,
        max_price: str | None = None,
        entity_id: str | None = None,
        template_id: str | None = None,
    ) -> None:
        self._sns = sns_client
        attributes = {
            # Transactional gets the highest delivery reliability and bypasses marketing opt-out rules.
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        optional = {
            "AWS.SNS.SMS.SenderID": sender_id,
            # SNS drops a message that would cost more than this (USD), instead of sending it.
            "AWS.SNS.SMS.MaxPrice": max_price,
            # India DLT: the registered principal entity and template; unregistered traffic is not delivered.
            "AWS.MM.SMS.EntityId": entity_id,
            "AWS.MM.SMS.TemplateId": template_id,
        }
        for name, value in optional.items():
            if value:
                data_type = "Number" if name.endswith("MaxPrice") else "String"
                attributes[name] = {"DataType": data_type, "StringValue": value}
        self._attributes = attributes

    def send_sms(self, message: SmsMessage) -> Receipt:
        try:
            answer = self._sns().publish(
                PhoneNumber=message.phone_number, Message=message.text, MessageAttributes=self._attributes
            )
        except DELIVERY_ERRORS as exc:
            raise refused("sns:Publish", exc) from None
        return Receipt(answer.get("MessageId"), "sns")


class EumSmsSender:
    def __init__(
        self,
        client: Callable[[], Any],
        origination_identity: str | None = None,
        protect_configuration_id: str | None = None,
        configuration_set: str | None = None,
        max_price: str | None = None,
        entity_id: str | None = None,
        template_id: str | None = None,
        feedback: bool = True,
    ) -> None:
        self._client = client
        fixed: dict[str, Any] = {"MessageType": "TRANSACTIONAL"}
        optional = {
            "OriginationIdentity": origination_identity,
            "ProtectConfigurationId": protect_configuration_id,
            "ConfigurationSetName": configuration_set,
            "MaxPrice": eum_price(max_price),
        }
        fixed.update({name: value for name, value in optional.items() if value})
        if feedback:
            fixed["MessageFeedbackEnabled"] = True  # RECEIVED is reported once the code verifies
        self._fixed = fixed
        dlt = {"IN_ENTITY_ID": entity_id, "IN_TEMPLATE_ID": template_id}
        self._india = {name: value for name, value in dlt.items() if value}

    def send_sms(self, message: SmsMessage) -> Receipt:
        request = dict(self._fixed)
        if self._india and message.country in (None, "IN"):  # DLT registration concerns India only
            request["DestinationCountryParameters"] = self._india
        try:
            answer = self._client().send_text_message(
                DestinationPhoneNumber=message.phone_number,
                MessageBody=message.text,
                TimeToLive=time_to_live(message.ttl_seconds),
                **request,
            )
        except DELIVERY_ERRORS as exc:
            raise refused("eum:SendTextMessage", exc) from None
        return Receipt(answer.get("MessageId"), "eum")


class NotifySmsSender:
    """AWS's pre-approved one-time-code templates: the template writes the text, the code is its variable."""

    def __init__(
        self,
        client: Callable[[], Any],
        configuration_id: str,
        template_id: str | None = None,
        configuration_set: str | None = None,
        feedback: bool = True,
    ) -> None:
        self._client = client
        fixed: dict[str, Any] = {"NotifyConfigurationId": configuration_id}
        if template_id:
            fixed["TemplateId"] = template_id
        if configuration_set:
            fixed["ConfigurationSetName"] = configuration_set
        if feedback:
            fixed["MessageFeedbackEnabled"] = True
        self._fixed = fixed

    def send_sms(self, message: SmsMessage) -> Receipt:
        try:
            answer = self._client().send_notify_text_message(
                DestinationPhoneNumber=message.phone_number,
                TemplateVariables={"code": message.code},
                TimeToLive=time_to_live(message.ttl_seconds),
                **self._fixed,
            )
        except DELIVERY_ERRORS as exc:
            raise refused("notify:SendNotifyTextMessage", exc) from None
        return Receipt(answer.get("MessageId"), "notify")


class MessageFeedback:
    """Reports that a code sent with MessageFeedbackEnabled was received (it verified), which End User
    Messaging counts as the conversion of that message. Called off the /verify request path."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client

    def received(self, message_id: str) -> None:
        try:
            self._client().put_message_feedback(MessageId=message_id, MessageFeedbackStatus="RECEIVED")
        except DELIVERY_ERRORS as exc:
            raise refused("eum:PutMessageFeedback", exc) from None
