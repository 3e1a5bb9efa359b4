"""WhatsApp by AWS End User Messaging Social (SendWhatsAppMessage): an authentication template,
Meta's one-time-password template with a copy-code button, in the WhatsApp Cloud API's JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from otp.aws.delivery import DELIVERY_ERRORS, refused
from otp.domain.outbound import Receipt, WhatsAppMessage

SOCIAL_SERVICE = "socialmessaging"


def authentication_template(message: WhatsAppMessage) -> dict[str, Any]:
    """The Cloud API body: the code fills the template's body and its copy-code (url) button."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.phone_number,
        "type": "template",
        "template": {
            "name": message.template,
            "language": {"policy": "deterministic", "code": message.language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": message.code}]},
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": message.code}],
                },
            ],
        },
    }


class WhatsAppSender:
    def __init__(self, client: Callable[[], Any], phone_number_id: str, meta_api_version: str = "v20.0") -> None:
        self._client = client
        self._phone_number_id = phone_number_id
        self._meta_api_version = meta_api_version

    def send_whatsapp(self, message: WhatsAppMessage) -> Receipt:
        body = json.dumps(authentication_template(message), separators=(",", ":")).encode()
        try:
            answer = send_method(self._client())(
                originationPhoneNumberId=self._phone_number_id,
                message=body,
                metaApiVersion=self._meta_api_version,
            )
        except DELIVERY_ERRORS as exc:
            raise refused("socialmessaging:SendWhatsAppMessage", exc) from None
        return Receipt(answer.get("messageId"), "socialmessaging")


def send_method(client: Any) -> Any:
    """botocore names the method send_whatsapp_message since it special-cased "WhatsApp", and
    send_whats_app_message before (1.34, which some runtimes still bundle): take whichever exists."""
    method = getattr(client, "send_whatsapp_message", None)
    return method if method is not None else client.send_whats_app_message
