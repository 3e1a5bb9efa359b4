"""One `serverless package` or `deploy` at a time in a service folder.

The framework and serverless-python-requirements stage the requirements and the zips under the
service's own `.serverless/`, whatever `--package` says, so two runs in one folder (two pytest
workers, or a bench beside a test run) read each other's half-written zips. Each run holds an
exclusive lock on a file named after the folder for as long as it runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def one_packaging_at_a_time(service: Path) -> Iterator[None]:
    name = hashlib.sha256(str(service.resolve()).encode()).hexdigest()[:16]
    lock = Path(tempfile.gettempdir()) / f"otp-serverless-{name}.lock"
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
