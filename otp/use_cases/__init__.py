"""One module per use case, each a short function over the ports in ``Dependencies``.

The handlers build ``Dependencies`` once per container (``otp.runtime``) and call one function.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from otp.config import Settings
from otp.errors import ServiceUnavailable
from otp.keys import Digests
from otp.ports import CodeCipher, CodeStore, DependencyFailure, MessageSender

log = logging.getLogger(__name__)


@dataclass
class Dependencies:
    settings: Settings
    store: CodeStore
    digests: Digests
    cipher: CodeCipher | None = None  # the status and cancel routes never touch a code
    sender: MessageSender | None = None  # only /generate delivers
    clock: Callable[[], float] = field(default=time.time)

    def now(self) -> int:
        return int(self.clock())


@contextlib.contextmanager
def answering_503(use_case: str) -> Iterator[None]:
    """A storage or key service that failed after retries: 503, logged with the AWS error code only."""
    try:
        yield
    except DependencyFailure as exc:
        log.error(f"dependency failed during {use_case}", extra={"dependency_error": str(exc)})
        raise ServiceUnavailable() from None
