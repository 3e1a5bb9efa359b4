"""Keyed digests: how a destination or an IP becomes a table key that a table reader cannot reverse.

A masked number leaves about 10^6 candidates, so a plain hash of it falls to a laptop in a second.
Every digest here is an HMAC-SHA-256 under a secret that is derived, once per container, from a
KMS HMAC key that never leaves KMS. The secret is in no template, variable, source file or item.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from hashlib import sha256

from otp.domain.destinations import Destination
from otp.domain.ports import SecretDeriver

# Changing the label (or the KMS key) changes every digest: pending codes and counters start over.
DIGEST_LABEL = b"otp-service/record-digests/v1"
RECORD_PREFIX = "dest#"
_DIGEST_BYTES = 16
_ID_NONCE_BYTES = 11
_ID = re.compile(r"^vrf_(?P<locator>[A-Za-z0-9_-]{36})_(?P<purpose>[a-z0-9][a-z0-9_.-]{0,31})$")


class Digests:
    def __init__(self, deriver: SecretDeriver) -> None:
        self._deriver = deriver
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    def _key(self) -> bytes:
        # Derived on first use, then kept: one KMS call per container, none per request.
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    self._secret = self._deriver.derive(DIGEST_LABEL)
        return self._secret

    def secret(self) -> bytes:
        """The digest secret itself, for keys derived from it elsewhere (the pumping guard's prefix keys)."""
        return self._key()

    def _digest(self, kind: str, text: str) -> bytes:
        return hmac.new(self._key(), f"{kind}\x00{text}".encode(), sha256).digest()[:_DIGEST_BYTES]

    def record_key(self, destination: Destination) -> str:
        return RECORD_PREFIX + self._digest("destination", destination.identity).hex()

    def network_key(self, network: str) -> str:
        return "ip#" + self._digest("network", network).hex()

    def failure_network_key(self, network: str) -> str:
        """Names an end-user network inside a destination record, for its wrong-code count."""
        return self._digest("failure-network", network).hex()

    def fingerprint(self, request: str) -> str:
        """What an Idempotency-Key record keeps of its request: keyed, so a table reader cannot test numbers."""
        return hmac.new(self._key(), f"request\x00{request}".encode(), sha256).hexdigest()

    def new_verification_id(self, record_key: str, purpose: str) -> str:
        """An unguessable id that also says where its record is, so a lookup by id is one read.

        The record's digest travels masked by a pad drawn from a fresh nonce under the secret:
        without the secret, two ids of one destination look as unrelated as two of different ones.
        """
        nonce = secrets.token_bytes(_ID_NONCE_BYTES)
        digest = bytes.fromhex(record_key.removeprefix(RECORD_PREFIX))
        locator = nonce + _xor(digest, self._id_pad(nonce))
        return f"vrf_{base64.urlsafe_b64encode(locator).decode()}_{purpose}"

    def locate(self, verification_id: str) -> VerificationRef | None:
        """Where an id's record would be, or None for a malformed id. A tampered id names a record
        that does not exist, or one whose stored id differs: the caller compares the full id."""
        match = _ID.match(verification_id)
        if match is None:
            return None
        try:
            locator = base64.urlsafe_b64decode(match["locator"])
        except (binascii.Error, ValueError):
            return None
        nonce, masked = locator[:_ID_NONCE_BYTES], locator[_ID_NONCE_BYTES:]
        return VerificationRef(RECORD_PREFIX + _xor(masked, self._id_pad(nonce)).hex(), match["purpose"])

    def _id_pad(self, nonce: bytes) -> bytes:
        return hmac.new(self._key(), b"verification-id\x00" + nonce, sha256).digest()[:_DIGEST_BYTES]

    def forget(self) -> None:
        """For SnapStart restores and tests: derive the secret again on next use."""
        with self._lock:
            self._secret = None


@dataclass(frozen=True)
class VerificationRef:
    record_key: str
    purpose: str


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def encryption_context(record_key: str, verification_id: str, purpose: str) -> dict[str, str]:
    """Binds a ciphertext to the one code it was made for; KMS refuses it anywhere else."""
    return {"otp:record": record_key, "otp:verification_id": verification_id, "otp:purpose": purpose}
