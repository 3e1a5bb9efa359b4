"""Generate's side of the pumping guard: which codes the consumer counts, and the cached block list that refuses.

Apart from the consumer (otp.use_cases.pumping) so that generate loads only this on its request path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from otp.domain.destinations import Destination
from otp.domain.entities import GuardMark
from otp.domain.ports import DependencyFailure
from otp.domain.prefix_keys import PrefixKeys
from otp.domain.pumping_rules import PumpingRules, prefix_of

log = logging.getLogger(__name__)

BLOCK_LIST_UNAVAILABLE = "PumpingBlockListUnavailable"  # generate failed open on a read
SEND_REFUSED = "PumpingSendRefused"  # generate refused a send as fraud_suspected


class BlockList:
    """The blocks as generate sees them: read at most once per ``interval`` seconds per container.

    A read that fails keeps the blocks read before (they stay valid until their end) and fails
    open for prefixes it never saw, counted by ``on_failure``; it is retried after the interval,
    not on every request.
    """

    def __init__(
        self,
        read: Callable[[], Mapping[str, tuple[int, int]]],
        interval: int,
        on_failure: Callable[[], None],
    ) -> None:
        self._read = read
        self._interval = interval
        self._on_failure = on_failure
        self._blocks: dict[str, tuple[int, int]] = {}
        self._next_read_at: int | None = None
        self._lock = threading.Lock()

    def refuses(self, prefix_digest: str, now: int) -> bool:
        with self._lock:
            if self._next_read_at is None or now >= self._next_read_at:
                self._next_read_at = now + self._interval
                try:
                    self._blocks = dict(self._read())
                except DependencyFailure as exc:
                    log.error("pumping block list unreadable; failing open", extra={"dependency_error": str(exc)})
                    self._on_failure()
            span = self._blocks.get(prefix_digest)
        return span is not None and span[0] <= now < span[1]


@dataclass(frozen=True)
class SendGuard:
    """Generate's side: marks the codes the consumer counts, and refuses prefixes it blocked.

    Adds no AWS call to a request but the block list's one read per container per
    OTP_FRAUD_REACTION_SECONDS; the mark travels in the write that stores the code.
    """

    rules: PumpingRules
    keys: PrefixKeys
    blocks: BlockList

    def mark(self, destination: Destination) -> GuardMark | None:
        """None for what the guard neither counts nor refuses: whatsapp, email, the safe list, the guard off."""
        if (
            not self.rules.enabled
            or destination.channel not in ("sms", "voice")
            or self.rules.covers(destination.address)
        ):
            return None
        prefix = prefix_of(destination.address, self.rules.prefix_digits)
        return GuardMark(
            prefix_digest=self.keys.digest(prefix),
            sealed_prefix=self.keys.seal(prefix),
            country=destination.region or "ZZ",
        )

    def refuses(self, mark: GuardMark, now: int) -> bool:
        return self.blocks.refuses(mark.prefix_digest, now)
