"""What each function's use cases may use, by type: generate has a cipher and a sender, verify a
cipher and no sender, the verification resource neither. All three have the digests: a
verification id's record is masked under the digest secret."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from otp.config import Settings
from otp.domain.keys import Digests
from otp.domain.ports import CodeCipher, CodeStore, Idempotency, Senders

if TYPE_CHECKING:  # only generate loads the guard
    from otp.use_cases.send_guard import SendGuard


@dataclass(frozen=True, kw_only=True)
class Common:
    settings: Settings
    store: CodeStore
    digests: Digests
    clock: Callable[[], float] = field(default=time.time)

    def now(self) -> int:
        return int(self.clock())


@dataclass(frozen=True, kw_only=True)
class GenerateDependencies(Common):
    cipher: CodeCipher
    senders: Senders
    idempotency: Idempotency
    guard: SendGuard | None = None  # None: OTP_FRAUD_GUARD=false


@dataclass(frozen=True, kw_only=True)
class VerifyDependencies(Common):
    cipher: CodeCipher


@dataclass(frozen=True, kw_only=True)
class VerificationDependencies(Common):
    """Status and cancel: no cipher and no sender, so that function's role needs neither; the
    digests unmask an id's record (its role may GenerateMac on the digest key, nothing else of KMS)."""
