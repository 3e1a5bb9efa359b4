"""Each port's AWS adapter, made from the settings; the bootstrap's only door into ``otp.aws``."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from otp.aws.clients import client, renew_after_restore
from otp.aws.dynamodb import DynamoDbStore
from otp.aws.kms import KmsCipher, KmsSecretDeriver
from otp.config import Settings

if TYPE_CHECKING:
    from otp.aws.delivery import AwsMessageSender
    from otp.aws.idempotency import PowertoolsIdempotency
    from otp.domain.keys import Digests

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


def sender(settings: Settings) -> AwsMessageSender:
    # Imported here, so that the verify and verifications functions never load a delivery adapter.
    from otp.aws.delivery import AwsMessageSender

    return AwsMessageSender(
        functools.partial(client, "sns"),
        functools.partial(client, "sesv2"),
        email_sender=settings.email_sender,
        sms_sender_id=settings.sms_sender_id,
        sms_max_price=settings.sms_max_price,
        sms_entity_id=settings.sms_entity_id,
        sms_template_id=settings.sms_template_id,
        ses_configuration_set=settings.ses_configuration_set,
    )


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
