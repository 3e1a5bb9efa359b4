"""The pumping guard's keys: what the table holds instead of a prefix (contract, semantics 12 and 14).

Apart from the rule (otp.domain.pumping) because generate needs only these, on its request path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

_SEAL_NONCE = 12
_SEAL_TAG = 10


class SealBroken(ValueError):
    """A sealed prefix that this secret did not seal, or that was altered."""


@dataclass
class PrefixKeys:
    """Keyed forms of a prefix and a code, under the secret of the record digests (semantics 12).

    ``digest`` groups a prefix's counts; ``seal`` encrypts the prefix with a fresh nonce, so two
    records of one prefix look unrelated to a table reader, and only the consumer (which holds
    the secret) learns the prefix to count it and to name it in its log lines.
    """

    secret: Callable[[], bytes]
    _keys: dict[str, bytes] = field(default_factory=dict)

    def _key(self, purpose: str) -> bytes:
        if purpose not in self._keys:
            self._keys[purpose] = hmac.new(self.secret(), f"pumping/{purpose}".encode(), hashlib.sha256).digest()
        return self._keys[purpose]

    def forget(self) -> None:
        """After a SnapStart restore, with Digests.forget: derive again on next use."""
        self._keys.clear()

    def digest(self, prefix: str) -> str:
        return hmac.new(self._key("prefix"), prefix.encode(), hashlib.sha256).hexdigest()[:32]

    def token(self, verification_id: str) -> str:
        """12 hex characters: collisions within one prefix's window are negligible (48 bits)."""
        return hmac.new(self._key("code"), verification_id.encode(), hashlib.sha256).hexdigest()[:12]

    def seal(self, prefix: str) -> bytes:
        nonce = secrets.token_bytes(_SEAL_NONCE)
        body = bytes(a ^ b for a, b in zip(prefix.encode(), self._stream(nonce), strict=False))
        return nonce + body + self._tag(nonce + body)

    def open(self, sealed: bytes) -> str:
        nonce, body, tag = sealed[:_SEAL_NONCE], sealed[_SEAL_NONCE:-_SEAL_TAG], sealed[-_SEAL_TAG:]
        if len(sealed) < _SEAL_NONCE + _SEAL_TAG + 1 or not hmac.compare_digest(tag, self._tag(nonce + body)):
            raise SealBroken("not a prefix sealed under this secret")
        return bytes(a ^ b for a, b in zip(body, self._stream(nonce), strict=False)).decode()

    def _stream(self, nonce: bytes) -> bytes:
        # HMAC-SHA-256 as a PRF in counter mode: 32 bytes of keystream, more than any prefix needs.
        return hmac.new(self._key("seal"), nonce, hashlib.sha256).digest()

    def _tag(self, data: bytes) -> bytes:
        return hmac.new(self._key("seal-tag"), data, hashlib.sha256).digest()[:_SEAL_TAG]
