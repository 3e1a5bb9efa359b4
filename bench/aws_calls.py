"""AWS calls per request: each warm request's calls, counted by a botocore hook on the service's clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.context import DESTINATION, Bench, wrong_code
from bench.figures import table
from bench.replay import AwsCall
from bench.report import Section, prose
from bench.service import Handlers, Reply, captured_output, load_handlers, recording_calls

ONE_WRITE = "+1: the destination's limits are taken in one conditional write, before anything is spent"
Count = Callable[[str, int, str, Callable[[], Reply], int], None]


def measure(bench: Bench) -> Section:
    # The contract's default limits, so that every generate takes its send allowance as in production.
    handlers = load_handlers(bench.settings())
    rows: list[list[Any]] = []
    facts: dict[str, dict[str, Any]] = {"calls": {}, "log_bytes": {}}
    with recording_calls() as calls:
        _warm_up(bench, handlers)

        def count(name: str, floor: int, why: str, request: Callable[[], Reply], status: int) -> None:
            calls.clear()
            with captured_output() as output:
                reply = request()
            reply.expect(status, name)
            operations = [f"{call.service}:{call.operation}" for call in calls]
            rows.append([name, len(calls), floor, ", ".join(operations), why])
            facts["calls"][name] = operations
            facts["log_bytes"][name] = len(output.getvalue().encode())

        _generates(handlers, count)
        _verifies(bench, handlers, count)
        _refused(handlers, count, calls)
        _verifications(handlers, count)
    headers = ["request", "AWS calls", "floor", "operations, in order", "above the floor because"]
    return Section("aws_calls", "AWS calls per request", prose("aws_calls", table=table(headers, rows)), facts)


def _warm_up(bench: Bench, handlers: Handlers) -> None:
    """One request to each function first: the counts are per warm request."""
    with captured_output():
        handlers.generate_code({"channel": "sms", "destination": "+33612345678", "purpose": "warm"}).expect(201, "warm")
        body = {"destination": "+33612345678", "purpose": "warm", "code": bench.latest_code("+33612345678")}
        handlers.verify_code(body).expect(200, "warm")


def _generates(handlers: Handlers, count: Count) -> None:
    generate = handlers.generate_code
    count("generate (SMS)", 3, ONE_WRITE, lambda: generate({"channel": "sms", "destination": DESTINATION}), 201)
    with_ip = {"channel": "sms", "destination": "+34612345678", "purpose": "ip", "client_ip": "203.0.113.7"}
    why = "+1: the destination's limits and the end user's IP counter in one transaction"
    count("generate (SMS, with client_ip)", 3, why, lambda: generate(with_ip), 201)
    count(
        "generate (email)", 3, ONE_WRITE, lambda: generate({"channel": "email", "destination": "ada@example.com"}), 201
    )
    idempotent = {"channel": "sms", "destination": "+919876543210", "purpose": "idem"}
    why = ONE_WRITE + "; +2: Powertools records the request in progress, then its answer"
    count("generate with Idempotency-Key", 3, why, lambda: generate(idempotent, {"idempotency-key": "bench-1"}), 201)


def _verifies(bench: Bench, handlers: Handlers, count: Count) -> None:
    verify = handlers.verify_code
    right = {"destination": "+919876543210", "purpose": "idem", "code": bench.latest_code("+919876543210")}
    count("verify (right code)", 3, "", lambda: verify(right), 200)
    with captured_output():
        handlers.generate_code({"channel": "sms", "destination": "+61491570156", "purpose": "wrong"}).expect(
            201, "setup"
        )
    wrong = {"destination": "+61491570156", "purpose": "wrong", "code": wrong_code(bench.latest_code("+61491570156"))}
    why = "(floor: reserve and decrypt; the reserve also counts it against the destination's failure budget)"
    count("verify (wrong code)", 2, why, lambda: verify(wrong), 403)
    with captured_output():
        handlers.generate_code({"channel": "email", "destination": "grace@example.com", "purpose": "late"})
    late = {"destination": "grace@example.com", "purpose": "late", "code": "000000"}
    with handlers.verify_clock_ahead(3600):
        why = "(floor: the refused reservation returns the record; no decrypt)"
        count("verify (expired)", 1, why, lambda: verify(late), 410)


def _refused(handlers: Handlers, count: Count, calls: list[AwsCall]) -> None:
    again = {"channel": "sms", "destination": DESTINATION, "purpose": "again"}
    why = "(floor: one refused conditional write; no KMS call, no send)"
    count("generate refused by a rate limit", 1, why, lambda: handlers.generate_code(again), 429)
    if calls[-1].error != "ConditionalCheckFailedException":
        raise RuntimeError(f"the refused generate ended its write with {calls[-1].error}")


def _verifications(handlers: Handlers, count: Count) -> None:
    with captured_output():
        body = {"channel": "sms", "destination": "+818012345678", "purpose": "status"}
        verification_id = handlers.generate_code(body).expect(201, "setup").body["verification_id"]
    count("read a verification", 1, "", lambda: handlers.read(verification_id), 200)
    count("cancel a verification", 1, "", lambda: handlers.cancel(verification_id), 200)
