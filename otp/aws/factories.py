"""Each port's AWS adapter, made from the settings; the bootstrap's only door into ``otp.aws``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from otp.aws.clients import client, renew_after_restore
from otp.aws.dynamodb import DynamoDbStore
from otp.aws.kms import KmsCipher, KmsSecretDeriver
from otp.config import Settings
from otp.domain.ports import Senders

if TYPE_CHECKING:
    from otp.aws.idempotency import PowertoolsIdempotency
    from otp.domain.keys import Digests
    from otp.domain.outbound import SmsSender, VoiceSender

_kms = functools.partial(client, "kms")
_dynamodb = functools.partial(client, "dynamodb")


def _required(value: str | None, name: str) -> str:
    if value is None:  # load_settings refuses to start without it; this only narrows the type
        raise ValueError(f"{name} is required")
    return value


def store(settings: Settings) -> DynamoDbStore:
    return DynamoDbStore(settings.table_name, _dynamodb)


def deriver(settings: Settings) -> KmsSecretDeriver:
    return KmsSecretDeriver(_required(settings.digest_key_id, "OTP_DIGEST_KEY_ID"), _kms)


def cipher(settings: Settings) -> KmsCipher:
    return KmsCipher(_required(settings.kms_key_id, "OTP_KMS_KEY_ID"), _kms)


def senders(settings: Settings) -> Senders:
    """Only the configured providers' adapters: each creates its client on its first send."""
    # Imported here, so that the verify and verifications functions never load a delivery adapter.
    from otp.aws import sms, voice, whatsapp
    from otp.aws.delivery import SesEmailSender

    return Senders(
        sms=_sms_sender(settings, sms),
        email=SesEmailSender(_client("sesv2"), settings.email_sender, settings.ses_configuration_set)
        if settings.email_sender
        else None,
        voice=_voice_sender(settings, voice),
        whatsapp=whatsapp.WhatsAppSender(
            _client("socialmessaging"), settings.whatsapp_phone_number_id, settings.whatsapp_meta_api_version
        )
        if settings.whatsapp_phone_number_id
        else None,
    )


def _client(service: str) -> Callable[[], Any]:
    return functools.partial(client, service)


def _sms_sender(settings: Settings, sms: Any) -> SmsSender:
    if settings.sms_provider == "eum":
        return sms.EumSmsSender(
            _client("pinpoint-sms-voice-v2"),
            origination_identity=settings.sms_origination_identity,
            protect_configuration_id=settings.sms_protect_configuration_id,
            configuration_set=settings.sms_configuration_set,
            max_price=settings.sms_max_price,
            entity_id=settings.sms_entity_id,
            template_id=settings.sms_template_id,
            feedback=settings.sms_feedback,
        )
    if settings.sms_provider == "notify":
        return sms.NotifySmsSender(
            _client("pinpoint-sms-voice-v2"),
            _required(settings.notify_configuration_id, "OTP_NOTIFY_CONFIGURATION_ID"),
            template_id=settings.notify_template_id,
            configuration_set=settings.sms_configuration_set,
            feedback=settings.sms_feedback,
        )
    return sms.SnsSmsSender(
        _client("sns"),
        settings.sms_sender_id,
        settings.sms_max_price,
        settings.sms_entity_id,
        settings.sms_template_id,
    )


def _voice_sender(settings: Settings, voice: Any) -> VoiceSender | None:
    if settings.voice_provider == "eum":
        return voice.EumVoiceSender(
            _client("pinpoint-sms-voice-v2"),
            _required(settings.voice_origination_identity, "OTP_VOICE_ORIGINATION_IDENTITY"),
            configuration_set=settings.sms_configuration_set,
            protect_configuration_id=settings.sms_protect_configuration_id,
            feedback=settings.sms_feedback,
        )
    if settings.voice_provider == "notify":
        return voice.NotifyVoiceSender(
            _client("pinpoint-sms-voice-v2"),
            _required(settings.notify_configuration_id, "OTP_NOTIFY_CONFIGURATION_ID"),
            template_id=settings.notify_template_id,
            configuration_set=settings.sms_configuration_set,
            feedback=settings.sms_feedback,
        )
    return None


def pumping_blocks(settings: Settings) -> Callable[[], Mapping[str, tuple[int, int]]]:
    """Generate's one read of the pumping guard's block list (see otp.use_cases.send_guard.BlockList);
    the adapter is loaded on the first read, not at a cold start's import."""

    def read() -> Mapping[str, tuple[int, int]]:
        from otp.aws.pumping import DynamoDbPumpingCounts

        return DynamoDbPumpingCounts(settings.table_name, _dynamodb, settings.pumping.window_seconds).read_blocks()

    return read


def idempotency(settings: Settings, result_type: type) -> PowertoolsIdempotency:
    from otp.aws.idempotency import PowertoolsIdempotency

    return PowertoolsIdempotency(settings.table_name, _dynamodb, result_type)


def before_snapshot(digests: Digests, services: list[str]) -> None:
    """With SnapStart, load the clients' models into the snapshot, and renew the clients after each restore.

    Lambda's Python runtime provides snapshot_restore_py for the restore hooks. The digest secret
    is not derived before the snapshot, and is forgotten after a restore in any case.
    """
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]

    for service in services:
        client(service)

    def after_restore() -> None:
        renew_after_restore()
        digests.forget()

    register_after_restore(after_restore)
