"""Email by SES v2, and the refusal mapping every delivery adapter shares.

Which errors mean what: every provider error (``ClientError``: throttling and 5xx once botocore's
standard-mode retries are spent, and validation, access, opt-out, quota, conflict and not-found
errors at once) and every transport failure (``BotoCoreError``: connect and read timeouts, a
refused connection, after the same retries) is a ``DeliveryRefused``: the contract's 502, and the
use case withdraws the code. The refusal names the call, the error code and, for End User
Messaging, its ``Reason`` enum; never the provider's message, which can echo the number or body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
