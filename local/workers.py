"""Lambda-like workers: separate processes, each serving one invocation at a time.

Like Lambda's execution environments, workers share nothing but AWS, so concurrent requests to
the runner race only where they would race in AWS.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import queue
import signal
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from local.events import LambdaContext
from local.stack import Route

INVOKE_TIMEOUT_SECONDS = 30


def _serve(connection: Connection, routes: list[Route]) -> None:
    # Ctrl-C reaches the whole process group; the runner stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        handlers = {r.function: getattr(importlib.import_module(r.module), r.attribute) for r in routes}
    except Exception as exc:  # the runner reports it and exits
        connection.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    connection.send(("ready", None))
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
            connection.send(("ok", handlers[function](event, context)))
        except Exception:
            # What Lambda does with an unhandled exception: the log gets the trace, API Gateway a 500.
            traceback.print_exc()
            connection.send(("crashed", None))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: Connection


class WorkerPool:
    def __init__(self, routes: list[Route], size: int) -> None:
        self._routes = routes
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        self._size = size

    def start(self) -> None:
        """Start every worker and wait until each has imported the handlers."""
        starting = [self._spawn() for _ in range(self._size)]
        for worker in starting:
            status, detail = worker.connection.recv()
            if status != "ready":
                self.stop()
                raise RuntimeError(detail)
            self._idle.put(worker)

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self._routes), daemon=True)
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
            if not worker.connection.poll(INVOKE_TIMEOUT_SECONDS):
                raise TimeoutError
            status, result = worker.connection.recv()
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
        fresh.connection.recv()
        return fresh

    def stop(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        for worker in self._workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
