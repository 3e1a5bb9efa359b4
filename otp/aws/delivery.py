"""Delivery by SNS (SMS) and SES v2 (email)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from otp.aws.clients import describe_error
from otp.domain.ports import DeliveryRefused


class AwsMessageSender:
    def __init__(
        self,
        sns_client: Callable[[], Any],
        ses_client: Callable[[], Any],
        email_sender: str | None,
        sms_sender_id: str | None = None,
        sms_max_price: str | None = None,
        sms_entity_id: str | None = None,
        sms_template_id: str | None = None,
        ses_configuration_set: str | None = None,
    ) -> None:
        self._sns = sns_client
        self._ses = ses_client
        self._email_sender = email_sender
        attributes = {
            # Transactional gets the highest delivery reliability and bypasses marketing opt-out rules.
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        optional = {
            "AWS.SNS.SMS.SenderID": sms_sender_id,
            # SNS drops a message that would cost more than this (USD), instead of sending it.
            "AWS.SNS.SMS.MaxPrice": sms_max_price,
            # India DLT: the registered principal entity and template; unregistered traffic is not delivered.
            "AWS.MM.SMS.EntityId": sms_entity_id,
            "AWS.MM.SMS.TemplateId": sms_template_id,
        }
        for name, value in optional.items():
            if value:
                attributes[name] = {
                    "DataType": "Number" if name.endswith("MaxPrice") else "String",
                    "StringValue": value,
                }
        self._sms_attributes = attributes
        self._ses_extra = {"ConfigurationSetName": ses_configuration_set} if ses_configuration_set else {}

    def send_sms(self, phone_number: str, text: str) -> None:
        try:
            self._sns().publish(PhoneNumber=phone_number, Message=text, MessageAttributes=self._sms_attributes)
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryRefused(f"sns:Publish {describe_error(exc)}") from None

    def send_email(self, address: str, subject: str, text: str, html: str) -> None:
        if not self._email_sender:
            raise DeliveryRefused("ses:SendEmail no sender configured")
        try:
            self._ses().send_email(
                FromEmailAddress=self._email_sender,
                Destination={"ToAddresses": [address]},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": text, "Charset": "UTF-8"},
                            "Html": {"Data": html, "Charset": "UTF-8"},
                        },
                    }
                },
                **self._ses_extra,
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryRefused(f"ses:SendEmail {describe_error(exc)}") from None
