"""One module per use case, each a short function over the typed dependencies of its function.

``otp.bootstrap`` builds those dependencies once per container, from AWS adapters in Lambda and
from in-memory fakes in unit tests, the same way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from otp.domain.errors import ServiceUnavailable
from otp.domain.ports import DependencyFailure

log = logging.getLogger(__name__)


@contextlib.contextmanager
def answering_503(use_case: str) -> Iterator[None]:
    """A storage or key service that failed after retries: 503, logged with the AWS error code only."""
    try:
        yield
    except DependencyFailure as exc:
        log.error(f"dependency failed during {use_case}", extra={"dependency_error": str(exc)})
        raise ServiceUnavailable() from None
