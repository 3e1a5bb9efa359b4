"""Wiring: the one place that builds each function's dependencies, once per container."""

from __future__ import annotations

import functools

from otp.aws.clients import client
from otp.aws.delivery import AwsMessageSender
from otp.aws.dynamodb import DynamoDbStore
from otp.aws.kms import KmsCipher, KmsSecretDeriver
from otp.config import Settings
from otp.keys import Digests
from otp.use_cases import Dependencies


def _base(settings: Settings) -> Dependencies:
    assert settings.kms_key_id is not None and settings.digest_key_id is not None  # load_settings requires them
    kms = functools.partial(client, "kms")
    return Dependencies(
        settings=settings,
        store=DynamoDbStore(settings.table_name, functools.partial(client, "dynamodb")),
        digests=Digests(KmsSecretDeriver(settings.digest_key_id, kms)),
    )


def generate_dependencies(settings: Settings) -> Dependencies:
    deps = _base(settings)
    deps.cipher = KmsCipher(settings.kms_key_id or "", functools.partial(client, "kms"))
    deps.sender = AwsMessageSender(
        functools.partial(client, "sns"),
        functools.partial(client, "sesv2"),
        email_sender=settings.email_sender,
        sms_sender_id=settings.sms_sender_id,
    )
    return deps


def verify_dependencies(settings: Settings) -> Dependencies:
    """No sender: the verify function never creates an SNS or SES client."""
    deps = _base(settings)
    deps.cipher = KmsCipher(settings.kms_key_id or "", functools.partial(client, "kms"))
    return deps


def verification_dependencies(settings: Settings) -> Dependencies:
    """Status and cancel: no cipher and no sender, so that function's role needs neither."""
    return _base(settings)
