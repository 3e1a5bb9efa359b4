"""The service as the benchmarks drive it: its handlers, loaded with given settings, and its AWS clients.

This is the one module of bench/ that reaches into otp/ beyond the names that stay put (the
handlers' ``lambda_handler``, ``otp.config``, ``otp.observability``): the shared AWS clients, a
function's dependencies (its digest secret, its clock). When otp/ moves, the imports here move.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from bench.replay import AwsCall
from local.events import LambdaContext, http_api_event

SERVICES = ("dynamodb", "kms", "sns", "sesv2")
SERVICE_LOGGER = "otp"  # the Powertools logger's name, which is the service's name


def created_clients() -> list[str]:
    """The AWS services this process made clients for, in order."""
    from otp.aws.clients import created_clients as created

    return created()


def shared_client(service: str) -> Any:
    """The client every handler of this process uses for ``service``."""
    from otp.aws.clients import client

    return client(service)


@dataclass(frozen=True)
class Invocation:
    """One request, event and context built: calling it runs the handler and nothing else."""

    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    event: dict[str, Any]
    context: LambdaContext

    def __call__(self) -> dict[str, Any]:
        return self.handler(self.event, self.context)


@dataclass
class Handlers:
    """The three functions' modules, as Lambda would load them in three containers of this process."""

    generate: ModuleType
    verify: ModuleType
    verifications: ModuleType

    def generating(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Invocation:
        event = http_api_event("POST", "/generate", json.dumps(body), headers=headers)
        return Invocation(self.generate.lambda_handler, event, LambdaContext())

    def verifying(self, body: dict[str, Any]) -> Invocation:
        return Invocation(
            self.verify.lambda_handler, http_api_event("POST", "/verify", json.dumps(body)), LambdaContext()
        )

    def reading(self, verification_id: str) -> Invocation:
        return self._verification("GET", verification_id, "")

    def canceling(self, verification_id: str) -> Invocation:
        return self._verification("POST", verification_id, "/cancel")

    def _verification(self, method: str, verification_id: str, suffix: str) -> Invocation:
        event = http_api_event(
            method,
            f"/verifications/{verification_id}{suffix}",
            None,
            path_parameters={"verification_id": verification_id},
            route_key=f"{method} /verifications/{{verification_id}}{suffix}",
        )
        return Invocation(self.verifications.lambda_handler, event, LambdaContext())

    def generate_code(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
        return Reply.of(self.generating(body, headers)())

    def verify_code(self, body: dict[str, Any]) -> Reply:
        return Reply.of(self.verifying(body)())

    def read(self, verification_id: str) -> Reply:
        return Reply.of(self.reading(verification_id)())

    def cancel(self, verification_id: str) -> Reply:
        return Reply.of(self.canceling(verification_id)())

    def forget_digest_secrets(self) -> None:
        """As after a cold start: the next request of each function derives its digest secret again."""
        for module in (self.generate, self.verify, self.verifications):
            module.deps.digests.forget()

    @contextlib.contextmanager
    def verify_clock_ahead(self, seconds: float) -> Iterator[None]:
        """The verify function sees a clock ``seconds`` ahead: every code it reads has expired."""
        # The dependencies are frozen for the service; only this benchmark moves their clock.
        object.__setattr__(self.verify.deps, "clock", lambda: time.time() + seconds)
        try:
            yield
        finally:
            object.__setattr__(self.verify.deps, "clock", time.time)


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]

    @classmethod
    def of(cls, response: dict[str, Any]) -> Reply:
        return cls(int(response["statusCode"]), json.loads(response.get("body") or "{}"))

    def expect(self, status: int, what: str) -> Reply:
        if self.status != status:
            raise RuntimeError(f"{what}: expected {status}, got {self.status}: {self.body}")
        return self


def load_handlers(settings: Mapping[str, str]) -> Handlers:
    """The handlers, (re)loaded with exactly these OTP_* settings: each module reads them at import."""
    for name in [name for name in os.environ if name.startswith("OTP_")]:
        del os.environ[name]
    os.environ.update(settings)
    modules = []
    for name in ("handlers.generate", "handlers.verify", "handlers.verifications"):
        module = sys.modules.get(name)
        modules.append(importlib.reload(module) if module is not None else importlib.import_module(name))
    return Handlers(*modules)


@contextlib.contextmanager
def recording_calls(services: tuple[str, ...] = SERVICES) -> Iterator[list[AwsCall]]:
    """Every AWS call the handlers make meanwhile, with its parameters and its outcome, in order.

    The hooks keep references rather than copies, so that recording adds next to nothing to a
    timed request; they are removed again on the way out.
    """
    calls: list[AwsCall] = []

    def before(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append(AwsCall(model.service_model.service_name, model.name, params))

    def after(parsed: dict[str, Any], **_: Any) -> None:
        calls[-1].error = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None

    hooks = []
    for service in services:
        events = shared_client(service).meta.events
        service_id = shared_client(service).meta.service_model.service_id.hyphenize()
        for event, hook in ((f"before-parameter-build.{service_id}", before), (f"after-call.{service_id}", after)):
            events.register(event, hook)
            hooks.append((events, event, hook))
    try:
        yield calls
    finally:
        for events, event, hook in hooks:
            events.unregister(event, hook)


@contextlib.contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """The service's log lines and EMF metrics, into a buffer instead of this terminal.

    In Lambda both go to stdout, which CloudWatch ingests: the buffer's size is what it bills.
    """
    captured = io.StringIO()
    streams = [h for h in logging.getLogger(SERVICE_LOGGER).handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.setStream(captured) for h in streams]
    try:
        with contextlib.redirect_stdout(captured):  # the EMF metrics line
            yield captured
    finally:
        for handler, stream in zip(streams, previous, strict=True):
            handler.setStream(stream)
