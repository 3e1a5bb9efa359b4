"""Email by SES v2, the refusal mapping every delivery adapter shares, and the sender the current
wiring still builds.

Which errors mean what: every provider error (``ClientError``: throttling and 5xx once botocore's
standard-mode retries are spent, and validation, access, opt-out, quota, conflict and not-found
errors at once) and every transport failure (``BotoCoreError``: connect and read timeouts, a
refused connection, after the same retries) is a ``DeliveryRefused``: the contract's 502, and the
use case withdraws the code. The refusal names the call, the error code and, for End User
Messaging, its ``Reason`` enum; never the provider's message, which can echo the number or body.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from otp.aws.clients import describe_error
from otp.domain.outbound import DeliveryRefused, EmailMessage, Receipt

_REASON = re.compile(
    r"^[A-Z][A-Z0-9_]{0,63}$"
)  # End User Messaging's reasons are enums (e.g. DESTINATION_PHONE_NUMBER_OPTED_OUT)


def refused(call: str, exc: Exception) -> DeliveryRefused:
    reason = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        value = response.get("Reason") or response.get("reason")
        if isinstance(value, str) and _REASON.match(value):
            reason = f" ({value})"
    return DeliveryRefused(f"{call} {describe_error(exc)}{reason}")


DELIVERY_ERRORS = (ClientError, BotoCoreError)


class SesEmailSender:
    def __init__(self, ses_client: Callable[[], Any], sender: str, configuration_set: str | None = None) -> None:
        self._ses = ses_client
        self._sender = sender
        self._extra = {"ConfigurationSetName": configuration_set} if configuration_set else {}

    def send_email(self, message: EmailMessage) -> Receipt:
        try:
            answer = self._ses().send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [message.address]},
                Content={
                    "Simple": {
                        "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": message.text, "Charset": "UTF-8"},
                            "Html": {"Data": message.html, "Charset": "UTF-8"},
                        },
                    }
                },
                **self._extra,
            )
        except DELIVERY_ERRORS as exc:
            raise refused("ses:SendEmail", exc) from None
        return Receipt(answer.get("MessageId"), "ses")


class AwsMessageSender:
    """The two-method sender that today's use case calls (``otp.ports.MessageSender``), over the new
    per-channel adapters. It goes once the wiring hands each channel its own sender."""

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
        from otp.aws.sms import SnsSmsSender

        self._sms = SnsSmsSender(sns_client, sms_sender_id, sms_max_price, sms_entity_id, sms_template_id)
        self._email = SesEmailSender(ses_client, email_sender, ses_configuration_set) if email_sender else None

    def send_sms(self, phone_number: str, text: str) -> None:
        from otp.domain.outbound import SmsMessage

        with _as_port_refusal():
            self._sms.send_sms(SmsMessage(phone_number, text, code="", ttl_seconds=0))

    def send_email(self, address: str, subject: str, text: str, html: str) -> None:
        with _as_port_refusal():
            if self._email is None:
                raise DeliveryRefused("ses:SendEmail no sender configured")
            self._email.send_email(EmailMessage(address, subject, text, html))


@contextlib.contextmanager
def _as_port_refusal() -> Iterator[None]:
    """Today's use case catches ``otp.ports.DeliveryRefused``; the lead re-exports the domain's at merge."""
    from otp import ports

    try:
        yield
    except DeliveryRefused as exc:
        if ports.DeliveryRefused is DeliveryRefused:
            raise
        raise ports.DeliveryRefused(str(exc)) from None
