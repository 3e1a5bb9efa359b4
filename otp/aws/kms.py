"""KMS cipher: the code is encrypted under an encryption context that names its record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from otp.aws.clients import describe_error
from otp.domain.ports import CiphertextMismatch, DependencyFailure


class KmsCipher:
    def __init__(self, key_id: str, kms_client: Callable[[], Any]) -> None:
        self._key_id = key_id
        self._client = kms_client

    def encrypt(self, code: str, context: dict[str, str]) -> bytes:
        try:
            response = self._client().encrypt(
                KeyId=self._key_id, Plaintext=code.encode("ascii"), EncryptionContext=context
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyFailure(f"kms:Encrypt {describe_error(exc)}") from None
        return response["CiphertextBlob"]

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> str:
        try:
            # KeyId pins the key: a ciphertext made under any other key is refused outright.
            response = self._client().decrypt(KeyId=self._key_id, CiphertextBlob=ciphertext, EncryptionContext=context)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise CiphertextMismatch() from None
            raise DependencyFailure(f"kms:Decrypt {describe_error(exc)}") from None
        except BotoCoreError as exc:
            raise DependencyFailure(f"kms:Decrypt {describe_error(exc)}") from None
        return response["Plaintext"].decode("ascii")


class KmsSecretDeriver:
    """Derives a stable secret as the HMAC of a fixed label under a KMS HMAC key.

    The key never leaves KMS, so the secret exists only in the memory of a running function:
    no template, variable, source file or table item holds it.
    """

    def __init__(self, key_id: str, kms_client: Callable[[], Any]) -> None:
        self._key_id = key_id
        self._client = kms_client

    def derive(self, label: bytes) -> bytes:
        try:
            response = self._client().generate_mac(KeyId=self._key_id, Message=label, MacAlgorithm="HMAC_SHA_256")
        except (ClientError, BotoCoreError) as exc:
            raise DependencyFailure(f"kms:GenerateMac {describe_error(exc)}") from None
        return bytes(response["Mac"])
