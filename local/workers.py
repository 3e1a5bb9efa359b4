"""Lambda-like workers: separate processes, each serving one invocation at a time.

Like Lambda's execution environments, workers share nothing but AWS, so concurrent requests to
the runner race only where they would race in AWS.

A worker's stdout (its JSON log lines) does not go to the terminal directly: each whole line
travels to the runner over the worker's pipe, and the runner writes every line of every process in
one write under one lock, so no two lines ever join. The emulator's credentials travel the same
pipe, never the environment, which other local processes can read from /proc.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from local.events import LambdaContext

INVOKE_TIMEOUT_SECONDS = 30
START_TIMEOUT_SECONDS = 120  # a hang, not slowness: imports on a loaded machine take seconds

_stdout_lock = threading.Lock()


class Function(Protocol):
    """What a worker needs of a function: an HTTP route or a stream consumer (local.stack)."""

    @property
    def function(self) -> str: ...
    @property
    def module(self) -> str: ...
    @property
    def attribute(self) -> str: ...


def write_log_line(line: str) -> None:
    """One whole line on the runner's stdout, in a single write no other line can split."""
    data = (line.rstrip("\n") + "\n").encode("utf-8", errors="replace")
    with _stdout_lock:
        while data:
            data = data[os.write(1, data) :]


class _LinesToRunner(io.TextIOBase):
    """A worker's stdout: sends each complete line to the runner, which writes it whole."""

    encoding = "utf-8"

    def __init__(self, send: Callable[[tuple[str, Any]], None]) -> None:
        self._send = send
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._send(("log", line))
        return len(text)

    def finish(self) -> None:
        """Sends a last line that lacks its newline, before the invocation's result."""
        with self._lock:
            partial, self._partial = self._partial, ""
        if partial:
            self._send(("log", partial))


def _serve(connection: Connection, routes: Sequence[Function], environment: dict[str, str]) -> None:
    # Ctrl-C reaches the whole process group; the runner stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(environment)
    sending = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with sending:
            connection.send(message)

    stdout = _LinesToRunner(send)
    sys.stdout = stdout  # before the handlers' import: their logger keeps the stream it finds
    # Powertools warns on stderr after an invocation that emitted no metric, as most stream
    # batches and every quiet scheduled run do; a deployment files it in CloudWatch, but here it
    # would fill the terminal that shows the delivered messages.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        if connection.recv() is None:  # the word to import the handlers (WorkerPool.boot), or to stop
            return
    except (EOFError, KeyboardInterrupt):
        return
    try:
        handlers = {r.function: getattr(importlib.import_module(r.module), r.attribute) for r in routes}
    except Exception as exc:  # the runner reports it and exits
        send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    stdout.finish()
    send(("ready", None))
    while True:
        try:
            request = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if request is None:
            return
        function, event, request_id = request
        context = LambdaContext(function_name=f"otp-local-{function}", aws_request_id=request_id)
        try:
            result = handlers[function](event, context)
        except Exception:
            # What Lambda does with an unhandled exception: the log gets the trace, API Gateway a 500.
            traceback.print_exc()
            stdout.finish()
            send(("crashed", None))
            continue
        stdout.finish()
        send(("ok", result))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: Connection


def _answer(connection: Connection, timeout: float) -> tuple[str, Any]:
    """The worker's next status message; its log lines on the way are written out as they come."""
    deadline = time.monotonic() + timeout
    while True:
        if not connection.poll(max(0.0, deadline - time.monotonic())):
            raise TimeoutError
        status, detail = connection.recv()
        if status != "log":
            return status, detail
        write_log_line(detail)


class WorkerPool:
    def __init__(self, routes: Sequence[Function], size: int, environment: dict[str, str] | None = None) -> None:
        """``environment``: variables only the workers get (the emulator's credentials)."""
        self._routes = list(routes)
        self._environment = environment or {}
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        self._size = size
        # A pool may start in a thread while the runner stops: no worker is spawned after stop().
        self._spawning = threading.Lock()
        self._stopped = False
        self._booted: list[_Worker] = []

    def boot(self) -> None:
        """Start the worker processes, which then wait for start() to import the handlers.

        A process that Ctrl-C reaches before it has set itself to ignore SIGINT dies with a
        traceback: booted while the runner starts, a worker is past that point before anyone can
        press Ctrl-C, and its imports still wait until start() (after the API answers).
        """
        self._booted += [self._spawn() for _ in range(self._size - len(self._booted))]

    def start(self) -> None:
        """Start every worker and wait until each has imported the handlers."""
        self.boot()
        starting, self._booted = self._booted, []
        for worker in starting:
            with contextlib.suppress(OSError):  # a worker that died already: _answer reports it
                worker.connection.send("import")
        for worker in starting:
            try:
                status, detail = _answer(worker.connection, START_TIMEOUT_SECONDS)
            except (TimeoutError, EOFError, OSError) as exc:
                status, detail = "failed", f"a worker did not start ({type(exc).__name__})"
            if status != "ready":
                self.stop()
                raise RuntimeError(detail)
            self._idle.put(worker)

    def _spawn(self) -> _Worker:
        with self._spawning:
            if self._stopped:
                raise RuntimeError("the runner is stopping")
            parent, child = self._context.Pipe()
            process = self._context.Process(target=_serve, args=(child, self._routes, self._environment), daemon=True)
            process.start()
            child.close()
            worker = _Worker(process, parent)
            self._workers.append(worker)
            return worker

    def invoke(self, function: str, event: dict[str, Any], request_id: str) -> dict[str, Any] | None:
        """The handler's result, or None when the invocation crashed or timed out."""
        worker = self._idle.get()
        try:
            worker.connection.send((function, event, request_id))
            status, result = _answer(worker.connection, INVOKE_TIMEOUT_SECONDS)
        except (TimeoutError, EOFError, OSError):
            worker = self._replace(worker)
            return None
        finally:
            self._idle.put(worker)
        return result if status == "ok" else None

    def _replace(self, broken: _Worker) -> _Worker:
        broken.process.kill()
        self._workers.remove(broken)
        fresh = self._spawn()
        fresh.connection.send("import")
        _answer(fresh.connection, START_TIMEOUT_SECONDS)
        return fresh

    def stop(self) -> None:
        with self._spawning:
            self._stopped = True
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        for worker in self._workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
