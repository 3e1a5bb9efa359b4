"""Warm requests: each route through the real handlers in this process, beside a bare-botocore floor.

Every iteration is one user's journey, through ``lambda_handler`` with API Gateway payload 2.0
events: generate an SMS code, read the verification, verify a wrong code, verify the right one,
then cancel a second verification. After each request its AWS calls are replayed with bare
botocore (bench/replay.py): same operations, same parameters, same emulator. A second, shorter
pass runs the same journeys under a sampling profiler (bench/sampler.py) to show where the time
above the floor goes.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bench.context import TABLE, Bench, wrong_code
from bench.figures import median, percentile, table
from bench.replay import AwsCall, BareClients
from bench.report import Section, prose
from bench.sampler import AWS_CLIENT, WAITING, Sampler
from bench.service import Handlers, Invocation, Reply, captured_output, load_handlers, recording_calls
from local import stack

TWIN_TABLE = f"{TABLE}_floor"
ROUTES = (
    "generate (SMS)",
    "read a verification",
    "verify (wrong code)",
    "verify (right code)",
    "cancel a verification",
)
SETUP = None  # a request that prepares the next one and is not itself measured

# One request: its route (or SETUP), the handler's invocation, and the status it must answer.
Measure = Callable[[str | None, Invocation, int], Reply]


def numbers() -> Iterator[str]:
    """A fresh destination per journey, as in production, where every user has a record of their own."""
    return (f"+1415555{n:04d}" for n in itertools.count(3000))


def journey(bench: Bench, handlers: Handlers, destinations: Iterator[str], measure: Measure) -> None:
    destination = next(destinations)
    sms = {"channel": "sms", "destination": destination}
    verification_id = measure("generate (SMS)", handlers.generating(sms), 201).body["verification_id"]
    measure("read a verification", handlers.reading(verification_id), 200)
    code = bench.latest_code(destination)
    measure("verify (wrong code)", handlers.verifying({"destination": destination, "code": wrong_code(code)}), 403)
    measure("verify (right code)", handlers.verifying({"destination": destination, "code": code}), 200)
    other = {"channel": "sms", "destination": next(destinations)}
    to_cancel = measure(SETUP, handlers.generating(other), 201).body["verification_id"]
    measure("cancel a verification", handlers.canceling(to_cancel), 200)


@dataclass
class Timings:
    service: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    floor: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def timed(handlers_calls: list[AwsCall], bare: BareClients, timings: Timings | None) -> Measure:
    """Each request timed, then its calls replayed and timed on the floor (``timings`` None: warm-up)."""

    def measure(route: str | None, invocation: Invocation, status: int) -> Reply:
        handlers_calls.clear()
        started = time.perf_counter()
        response = invocation()
        elapsed = (time.perf_counter() - started) * 1000
        reply = Reply.of(response).expect(status, route or "a setup request")
        floor = bare.replay(bare.prepare(handlers_calls))
        if route is not None and timings is not None:
            timings.service[route].append(elapsed)
            timings.floor[route].append(floor)
        return reply

    return measure


def sampled(handlers_calls: list[AwsCall], bare: BareClients, sampler: Sampler) -> Measure:
    """Each request and its replay under the sampler, labelled by route."""

    def measure(route: str | None, invocation: Invocation, status: int) -> Reply:
        handlers_calls.clear()
        with sampler.measuring(route or "setup"):
            response = invocation()
        reply = Reply.of(response).expect(status, route or "a setup request")
        prepared = bare.prepare(handlers_calls)
        with sampler.measuring(f"{route or 'setup'} (floor)"):
            bare.replay(prepared)
        return reply

    return measure


def measure(bench: Bench) -> Section:
    handlers = load_handlers(bench.settings())  # the contract's defaults: every limit on
    bare = BareClients(TABLE, TWIN_TABLE)
    shape = stack.table_shape(stack.load())
    bare.create_twin_table(shape.key_schema, shape.attribute_definitions)
    iterations, profiled = bench.samples(full=100, quick=3), bench.samples(full=30, quick=2)
    timings = Timings()
    destinations = numbers()
    with recording_calls() as calls, captured_output():
        for _ in range(bench.samples(full=5, quick=1)):
            journey(bench, handlers, destinations, timed(calls, bare, None))
        for _ in range(iterations):
            journey(bench, handlers, destinations, timed(calls, bare, timings))
        sampler = Sampler()
        with sampler.running():
            for _ in range(profiled):
                journey(bench, handlers, destinations, sampled(calls, bare, sampler))
    return _section(timings, sampler, iterations, profiled)


def _section(timings: Timings, sampler: Sampler, iterations: int, profiled: int) -> Section:
    rows, ratios = [], {}
    for route in ROUTES:
        service, floor = timings.service[route], timings.floor[route]
        ratios[route] = median(service) / median(floor)
        rows.append(
            [
                route,
                f"{median(service):.1f}",
                f"{percentile(service, 0.9):.1f}",
                f"{median(floor):.1f}",
                f"{percentile(floor, 0.9):.1f}",
                f"{ratios[route]:.2f}",
                f"{median(service) - median(floor):.1f}",
            ]
        )
    headers = ["request", "service p50 ms", "p90 ms", "bare botocore p50 ms", "p90 ms", "ratio", "service's own ms"]
    profile = _per_request(sampler, ROUTES, profiled)
    floors = _per_request(sampler, [f"{route} (floor)" for route in ROUTES], profiled)
    text = prose(
        "warm_requests",
        iterations=iterations,
        profiled=profiled,
        interval_ms=sampler.interval * 1000,
        timings=table(headers, rows),
        profile=_profile_table(profile, floors),
        where="\n".join(_where(route, profile[route], sum(floors[f"{route} (floor)"].values())) for route in ROUTES),
    )
    facts = {
        "ratio": ratios,
        "service_ms": {route: median(timings.service[route]) for route in ROUTES},
        "floor_ms": {route: median(timings.floor[route]) for route in ROUTES},
        "profile_ms": profile,
    }
    return Section("warm_requests", "Warm requests (handlers in one process)", text, facts)


def _per_request(sampler: Sampler, labels: Sequence[str], requests: int) -> dict[str, dict[str, float]]:
    """Milliseconds per request charged to each package, under each label."""
    return {label: {pkg: sec * 1000 / requests for pkg, sec in sampler.seconds[label].items()} for label in labels}


def _profile_table(profile: dict[str, dict[str, float]], floors: dict[str, dict[str, float]]) -> str:
    totals: defaultdict[str, float] = defaultdict(float)
    for shares in profile.values():
        for package, ms in shares.items():
            totals[package] += ms
    packages = sorted(totals, key=lambda package: -totals[package])
    rows = [[package, *(f"{profile[route].get(package, 0.0):.2f}" for route in ROUTES)] for package in packages]
    rows.append(["**all, under the sampler**", *(f"**{sum(profile[route].values()):.1f}**" for route in ROUTES)])
    for package in (WAITING, AWS_CLIENT):
        row = [
            f"{package}: the bare-botocore floor",
            *(f"{floors[f'{r} (floor)'].get(package, 0.0):.2f}" for r in ROUTES),
        ]
        rows.append(row)
    return table(["ms per request", *ROUTES], rows)


def _where(route: str, shares: dict[str, float], floor: float) -> str:
    """One line: the AWS calls against their floor, then the service's own work, largest first."""
    aws = shares.get(WAITING, 0.0) + shares.get(AWS_CLIENT, 0.0)
    own = sorted(
        ((ms, package) for package, ms in shares.items() if package not in (WAITING, AWS_CLIENT)), reverse=True
    )
    parts = ", ".join(f"{package} {ms:.1f}" for ms, package in own if ms >= 0.05)
    return (
        f"- {route}: {sum(shares.values()):.1f} ms, of which the AWS calls (botocore and waiting) {aws:.1f} "
        f"(the floor's: {floor:.1f}); the rest, in ms: {parts}."
    )
