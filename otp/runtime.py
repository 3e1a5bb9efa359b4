"""Wiring: the AWS adapters behind each function's service, built once per container."""

from __future__ import annotations

import functools

from otp.aws.clients import client
from otp.aws.delivery import AwsMessageSender
from otp.aws.dynamodb import DynamoDbStore
from otp.aws.kms import KmsCipher
from otp.config import Settings
from otp.service import OtpService


def _core(settings: Settings) -> tuple[KmsCipher, DynamoDbStore]:
    assert settings.kms_key_id is not None  # load_settings requires it
    cipher = KmsCipher(settings.kms_key_id, functools.partial(client, "kms"))
    store = DynamoDbStore(settings.table_name, functools.partial(client, "dynamodb"))
    return cipher, store


def generate_service(settings: Settings) -> OtpService:
    sender = AwsMessageSender(
        functools.partial(client, "sns"),
        functools.partial(client, "sesv2"),
        email_sender=settings.email_sender,
        sms_sender_id=settings.sms_sender_id,
    )
    return OtpService(settings, *_core(settings), sender=sender)


def verify_service(settings: Settings) -> OtpService:
    """No sender: the verify function never creates an SNS or SES client."""
    return OtpService(settings, *_core(settings))
