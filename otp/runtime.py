"""Wiring: the one place that builds each function's dependencies, once per container."""

from __future__ import annotations

import functools
import os

from otp.aws.clients import client, renew_after_restore
from otp.aws.dynamodb import DynamoDbStore
from otp.aws.kms import KmsCipher, KmsSecretDeriver
from otp.config import Settings
from otp.keys import Digests
from otp.use_cases import Dependencies


def _before_snapshot(deps: Dependencies, services: list[str]) -> Dependencies:
    """With SnapStart, load the clients' models into the snapshot, and renew the clients after each restore.

    Lambda sets AWS_LAMBDA_INITIALIZATION_TYPE=snap-start while it initializes a version for a
    snapshot; its Python runtime provides snapshot_restore_py for the restore hooks. The digest
    secret is not derived before the snapshot, and is forgotten after a restore in any case.
    """
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return deps
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]

    for service in services:
        client(service)

    def after_restore() -> None:
        renew_after_restore()
        deps.digests.forget()

    register_after_restore(after_restore)
    return deps


_kms = functools.partial(client, "kms")


def _base(settings: Settings) -> Dependencies:
    assert settings.kms_key_id is not None and settings.digest_key_id is not None  # load_settings requires them
    return Dependencies(
        settings=settings,
        store=DynamoDbStore(settings.table_name, functools.partial(client, "dynamodb")),
        digests=Digests(KmsSecretDeriver(settings.digest_key_id, _kms)),
    )


def _cipher(settings: Settings) -> KmsCipher:
    assert settings.kms_key_id is not None  # load_settings requires it
    return KmsCipher(settings.kms_key_id, _kms)


def generate_dependencies(settings: Settings) -> Dependencies:
    # Imported here, so that the verify and verifications functions never load a delivery adapter.
    from otp.aws.delivery import AwsMessageSender

    deps = _base(settings)
    deps.cipher = _cipher(settings)
    deps.sender = AwsMessageSender(
        functools.partial(client, "sns"),
        functools.partial(client, "sesv2"),
        email_sender=settings.email_sender,
        sms_sender_id=settings.sms_sender_id,
        sms_max_price=settings.sms_max_price,
        sms_entity_id=settings.sms_entity_id,
        sms_template_id=settings.sms_template_id,
        ses_configuration_set=settings.ses_configuration_set,
    )
    return _before_snapshot(deps, ["dynamodb", "kms", "sns", *(["sesv2"] if settings.email_enabled else [])])


def verify_dependencies(settings: Settings) -> Dependencies:
    """No sender: the verify function never creates an SNS or SES client."""
    deps = _base(settings)
    deps.cipher = _cipher(settings)
    return _before_snapshot(deps, ["dynamodb", "kms"])


def verification_dependencies(settings: Settings) -> Dependencies:
    """Status and cancel: no cipher and no sender, so that function's role needs neither."""
    return _before_snapshot(_base(settings), ["dynamodb"])
