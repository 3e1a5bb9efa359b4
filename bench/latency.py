"""Latency and throughput over HTTP against `make run`'s runner, beside a trivial handler it also serves."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.context import LIMITS_OFF, ROOT
from bench.figures import median, percentile, table
from bench.report import Section, prose
from local import launch

CLIENTS = 8
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


@contextlib.contextmanager
def runner_with_floor_route() -> Iterator[launch.LaunchedRunner]:
    """The runner, from a copy of serverless.yml that adds POST /floor (bench/floor.py) beside the routes."""
    text = (ROOT / "serverless.yml").read_text()
    addition = (
        "  floor:\n    handler: bench/floor.lambda_handler\n    events:\n      - httpApi:\n"
        "          method: POST\n          path: /floor\n"
    )
    # Outside the work tree, so that an interrupted run leaves nothing there to commit.
    with tempfile.TemporaryDirectory(prefix="otp-bench-") as scratch:
        config = Path(scratch) / "serverless.yml"
        config.write_text(text.replace("\nfunctions:\n", "\nfunctions:\n" + addition, 1))
        runner = launch.start(Path(scratch), {**LIMITS_OFF, "LOCAL_SERVERLESS_YML": str(config)}, launch.LaunchedRunner)
        try:
            yield runner
        finally:
            launch.stop(runner)


class Client:
    """The requests of one run; one destination per request, as in production, where each user has a record."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.codes: dict[str, str] = {}

    def generate(self, name: str, http: Any = None) -> requests.Response:
        body = {"channel": "email", "destination": f"{name}@bench.example"}
        return (http or self.session).post(self.url + "/generate", json=body, timeout=30)

    def verify(self, name: str, http: Any = None) -> requests.Response:
        body = {"destination": f"{name}@bench.example", "code": self.codes[name]}
        return (http or self.session).post(self.url + "/verify", json=body, timeout=30)

    def floor(self, _: object = None, http: Any = None) -> requests.Response:
        return (http or self.session).post(self.url + "/floor", json={}, timeout=30)

    def learn_codes(self, runner: launch.LaunchedRunner, names: Sequence[str]) -> None:
        by_destination = {m["destination"]: m["body"] for m in runner.outbox()}
        for name in names:
            found = _CODE.search(by_destination[f"{name}@bench.example"])
            if found is None:
                raise RuntimeError(f"no code delivered to {name}@bench.example")
            self.codes[name] = found.group(0)


def timed(call: Callable[[], requests.Response]) -> float:
    started = time.perf_counter()
    reply = call()
    if reply.status_code >= 300:
        raise RuntimeError(f"{reply.status_code}: {reply.text}")
    return (time.perf_counter() - started) * 1000


def concurrently(call: Callable[[Any], requests.Response], items: Sequence[Any]) -> tuple[list[float], float]:
    """Each item's latency with CLIENTS clients at once, and the requests per second of the whole run."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        samples = list(pool.map(lambda item: timed(lambda: call(item)), items))
    return samples, len(items) / (time.perf_counter() - started)


def measure(quick: bool) -> Section:
    count = 8 if quick else 150
    with runner_with_floor_route() as runner:
        client = Client(runner.url)
        # Every worker process serves a few requests first, so that no cold start is in the samples.
        concurrently(lambda i: client.generate(f"warm-{i}", requests), range(16))
        concurrently(lambda i: client.floor(i, requests), range(16))
        # The codes for both verify runs are made one at a time, so that the outbox holds them all.
        sequential, parallel = [f"seq-{i}" for i in range(count)], [f"conc-{i}" for i in range(count)]
        generate_sequential = [timed(functools.partial(client.generate, n)) for n in sequential]
        for name in parallel:
            client.generate(name)
        client.learn_codes(runner, sequential + parallel)
        verify_sequential = [timed(functools.partial(client.verify, n)) for n in sequential]
        floor_sequential = [timed(client.floor) for _ in range(count)]
        generate_parallel = concurrently(lambda n: client.generate(n, requests), [f"load-{i}" for i in range(count)])
        verify_parallel = concurrently(lambda n: client.verify(n, requests), parallel)
        floor_parallel = concurrently(lambda i: client.floor(i, requests), range(count))
    rows = [
        _row("generate", generate_sequential, *generate_parallel),
        _row("verify", verify_sequential, *verify_parallel),
        _row("floor: trivial handler", floor_sequential, *floor_parallel),
    ]
    headers = ["endpoint", "sequential p50 ms", "sequential p99 ms"]
    headers += [f"{CLIENTS} clients p50 ms", f"{CLIENTS} clients p99 ms", f"{CLIENTS} clients req/s"]
    text = prose(
        "latency",
        count=count,
        clients=CLIENTS,
        workers=os.environ.get("LOCAL_WORKERS", "4"),
        table=table(headers, rows),
    )
    return Section("latency", "Latency and throughput (local runner)", text, {"rows": rows})


def _row(name: str, sequential: list[float], parallel: list[float], per_second: float) -> list[str]:
    return [
        name,
        f"{median(sequential):.1f}",
        f"{percentile(sequential, 0.99):.1f}",
        f"{median(parallel):.1f}",
        f"{percentile(parallel, 0.99):.1f}",
        f"{per_second:.0f}",
    ]
