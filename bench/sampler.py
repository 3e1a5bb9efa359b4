"""A sampling profiler for one thread: where a request's wall-clock time goes, by package.

A deterministic profiler (cProfile) charges a cost to every Python call, which inflates code made
of many small calls (botocore, the Powertools resolver) against code that runs in Rust or C
(pydantic-core, json). Sampling the stack from another thread costs the measured code nothing
per call: each sample charges the time since the previous one to the package of the innermost
frame that belongs to a known package, so the standard library counts for whoever called it.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent

WAITING = "waiting for the emulator's answer"
AWS_CLIENT = "botocore (building, signing, sending and parsing AWS calls)"
OTHER = "the standard library, called from elsewhere"

# Matched against each frame's file, innermost frame first; the first match names the package.
PACKAGES = (
    ("/pydantic/", "pydantic (validation and serialization)"),
    ("/pydantic_core/", "pydantic (validation and serialization)"),
    ("/aws_lambda_powertools/metrics/", "Powertools metrics (EMF)"),
    ("/aws_lambda_powertools/logging/", "Powertools logger (JSON log lines)"),
    ("/aws_lambda_powertools/event_handler/", "Powertools event handler (routing, OpenAPI validation)"),
    ("/aws_lambda_powertools/", "Powertools, the rest"),
    ("/botocore/", AWS_CLIENT),
    ("/urllib3/", AWS_CLIENT),
    ("/phonenumbers/", "phonenumbers"),
    ("/email_validator/", "email_validator"),
    (f"{ROOT}/otp/", "this service (otp/, handlers/)"),
    (f"{ROOT}/handlers/", "this service (otp/, handlers/)"),
    (f"{ROOT}/local/", "the benchmark's own harness"),
    (f"{ROOT}/bench/", "the benchmark's own harness"),
)


def package_of(frame: FrameType | None) -> str:
    """The package a sample's time belongs to: a thread blocked on its socket waits for the emulator."""
    if frame is not None and frame.f_code.co_filename.endswith(("/socket.py", "/selectors.py", "/ssl.py")):
        return WAITING
    while frame is not None:
        filename = frame.f_code.co_filename
        for marker, package in PACKAGES:
            if marker in filename:
                return package
        frame = frame.f_back
    return OTHER


class Sampler:
    """Samples the thread that created it every ``interval`` seconds, while inside ``measuring(label)``.

    ``seconds[label][package]`` is the wall-clock time charged to each package under each label.
    """

    def __init__(self, interval: float = 0.0005) -> None:
        self.interval = interval
        self.seconds: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._target = threading.get_ident()
        self._label: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[Sampler]:
        # A short switch interval lets the sampler in promptly while the measured thread holds the GIL.
        previous = sys.getswitchinterval()
        sys.setswitchinterval(self.interval / 5)
        self._thread.start()
        try:
            yield self
        finally:
            self._done.set()
            self._thread.join(timeout=5)
            sys.setswitchinterval(previous)

    @contextlib.contextmanager
    def measuring(self, label: str) -> Iterator[None]:
        self._label = label
        try:
            yield
        finally:
            self._label = None

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._done.is_set():
            time.sleep(self.interval)
            now = time.perf_counter()
            label = self._label  # read once: the measured thread may change it meanwhile
            if label is not None:
                frame = sys._current_frames().get(self._target)
                self.seconds[label][package_of(frame)] += now - last
            last = now
