"""Voice calls by AWS End User Messaging (SendVoiceMessage, speaking our SSML) or its Notify
templates (SendNotifyVoiceMessage, speaking the template with the code as its variable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otp.aws.delivery import DELIVERY_ERRORS, refused
from otp.aws.sms import time_to_live
from otp.domain.outbound import Receipt, VoiceMessage


class EumVoiceSender:
    def __init__(
        self,
        client: Callable[[], Any],
        origination_identity: str,
        configuration_set: str | None = None,
        protect_configuration_id: str | None = None,
        feedback: bool = True,
    ) -> None:
        self._client = client
        fixed: dict[str, Any] = {"OriginationIdentity": origination_identity, "MessageBodyTextType": "SSML"}
        if configuration_set:
            fixed["ConfigurationSetName"] = configuration_set
        if protect_configuration_id:
            fixed["ProtectConfigurationId"] = protect_configuration_id
        if feedback:
            fixed["MessageFeedbackEnabled"] = True
        self._fixed = fixed

    def send_voice(self, message: VoiceMessage) -> Receipt:
        try:
            answer = self._client().send_voice_message(
                DestinationPhoneNumber=message.phone_number,
                MessageBody=message.ssml,
                VoiceId=message.voice_id,
                TimeToLive=time_to_live(message.ttl_seconds),
                **self._fixed,
            )
        except DELIVERY_ERRORS as exc:
            raise refused("eum:SendVoiceMessage", exc) from None
        return Receipt(answer.get("MessageId"), "eum")


class NotifyVoiceSender:
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

    def send_voice(self, message: VoiceMessage) -> Receipt:
        try:
            answer = self._client().send_notify_voice_message(
                DestinationPhoneNumber=message.phone_number,
                TemplateVariables={"code": message.code},
                VoiceId=message.voice_id,
                TimeToLive=time_to_live(message.ttl_seconds),
                **self._fixed,
            )
        except DELIVERY_ERRORS as exc:
            raise refused("notify:SendNotifyVoiceMessage", exc) from None
        return Receipt(answer.get("MessageId"), "notify")
