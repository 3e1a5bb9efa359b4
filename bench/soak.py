"""`make soak`: mixed traffic against the local runner at a steady rate, for minutes, checked.

    SOAK_SECONDS=600 SOAK_RATE=20 python -m bench.soak

Starts the runner as `make run` does, drives bench/history.py's traffic from eight threads at
SOAK_RATE requests per second for SOAK_SECONDS (default 10 minutes), judges the history with
bench/history_checks.py, and writes the `## Soak` section of BENCHMARKS.md (only that section).
Its last line is `soak: N requests in S s, X 5xx, V violations, rss +M MiB, fds +F`; it exits
non-zero on any 5xx or violation.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import requests

from bench.history import Limits, Operation, Traffic
from bench.history_checks import check

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
THREADS = 8
LIMITS = Limits()
DESTINATIONS = [
    "+14155552671",
    "+12025550123",
    "+919876543210",
    "+61491570156",
    "+33612345678",
    "ada@example.com",
    "grace@example.com",
    "alan@example.com",
]
ROUTES = ("generate", "verify", "read", "cancel")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_runner(logs: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`make run` with the history's limits, in its own process group; answers once it is ready."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTP_", "AWS_"))}
    env.update(LIMITS.environment(), PORT=str(port), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "local.runner"],
        cwd=ROOT,
        env=env,
        stdout=(logs / "runner.out").open("wb"),
        stderr=(logs / "runner.err").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url + "/_local/outbox", timeout=5)
            return process, url
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_runner(process)
                raise SystemExit("soak: the runner did not start:\n" + (logs / "runner.err").read_text()) from None
            time.sleep(0.2)


def stop_runner(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers that outlived it
    process.wait(timeout=15)


class Usage(NamedTuple):
    rss: int  # bytes, the runner and its workers
    fds: int
    runner_rss: int  # the runner process alone: it also hosts the moto emulator


def usage(group: int) -> Usage:
    """Resident memory (bytes) and open file descriptors of the runner and its workers, from /proc."""
    rss = fds = runner = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != group:  # the field after state and ppid: pgrp
                continue
            status = (entry / "status").read_text()
            resident = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) * 1024  # type: ignore[union-attr]
            rss += resident
            runner += resident if int(entry.name) == group else 0
            fds += len(list((entry / "fd").iterdir()))
    return Usage(rss, fds, runner)


def sampled(group: int, every: float, stop: threading.Event, samples: list[Usage]) -> threading.Thread:
    """Usage once a minute while the traffic runs, so growth after the warm-up shows apart from it."""

    def sample() -> None:
        while not stop.wait(every):
            samples.append(usage(group))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    return thread


def memory_lines(before: Usage, after: Usage, minutes: list[Usage]) -> list[str]:
    mib = 2**20

    def split(at: Usage) -> str:
        return f"runner {at.runner_rss / mib:.1f} MiB, workers {(at.rss - at.runner_rss) / mib:.1f} MiB"

    lines = [
        f"- runner and workers, start → end: RSS {before.rss / mib:.1f} → {after.rss / mib:.1f} MiB, "
        f"open file descriptors {before.fds} → {after.fds}",
        f"  - start: {split(before)}; after the first minute: {split(minutes[0]) if minutes else '-'}; "
        f"end: {split(after)}",
        "  - the Lambda workers are what runs in AWS; the runner process also hosts the moto emulator,",
        "    which keeps every model object it creates (moto's `BaseModel.instances_tracked`), so it grows",
        "    with every write for as long as it runs",
    ]
    return lines


def drive(traffic: Traffic, seconds: float, rate: float) -> float:
    """Operation k starts at k / rate seconds, whichever thread is free: a steady rate, not a burst."""
    tickets = itertools.count()
    started = time.monotonic()

    def client() -> None:
        for ticket in tickets:
            at = started + ticket / rate
            if at - started >= seconds:
                return
            time.sleep(max(0.0, at - time.monotonic()))
            traffic.one()

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def latency_rows(history: list[Operation]) -> list[str]:
    start = min(op.invoked for op in history)
    by_minute: dict[tuple[int, str], list[float]] = defaultdict(list)
    for op in history:
        by_minute[(int((op.invoked - start) // 60), op.route)].append((op.completed - op.invoked) * 1000)
    rows = ["| minute | " + " | ".join(f"{route} n / p50 / p99 ms" for route in ROUTES) + " |"]
    rows.append("|---|" + "---|" * len(ROUTES))
    for minute in sorted({minute for minute, _ in by_minute}):
        cells = []
        for route in ROUTES:
            samples = by_minute.get((minute, route), [])
            cells.append(
                f"{len(samples)} / {percentile(samples, 0.5):.0f} / {percentile(samples, 0.99):.0f}" if samples else "-"
            )
        rows.append(f"| {minute + 1} | " + " | ".join(cells) + " |")
    return rows


def section(history: list[Operation], seconds: float, rate: float, before: Usage, after: Usage,
            violations: list[str], minutes: list[Usage]) -> str:  # fmt: skip
    statuses = Counter(op.status for op in history)
    errors = ", ".join(
        f"{status}: {count}" for status, count in sorted(statuses.items()) if status >= 400 or not status
    )
    lines = [
        "## Soak",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make soak` (SOAK_SECONDS={seconds:.0f}, "
        f"{rate:g} requests/s from {THREADS} threads over {len(DESTINATIONS)} destinations, limits {LIMITS}).",
        "",
        f"- requests: {len(history)}; answers by status: "
        + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())),
        f"- errors by status: {errors or 'none'}; 5xx (or no answer): {_server_errors(history)}",
        *memory_lines(before, after, minutes),
        f"- invariant violations: {len(violations)}",
        *(f"  - {violation}" for violation in violations[:20]),
        "",
        "Latency per route, minute by minute (client-side, from invocation to completion):",
        "",
        *latency_rows(history),
        "",
        summary_line(history, seconds, before, after, violations),
    ]
    return "\n".join(lines) + "\n"


def summary_line(history: list[Operation], seconds: float, before: Usage, after: Usage, violations: list[str]) -> str:
    """The machine-readable last line, of the section and of the run's output alike."""
    return (
        f"soak: {len(history)} requests in {seconds:.0f} s, {_server_errors(history)} 5xx, "
        f"{len(violations)} violations, rss {(after.rss - before.rss) / 2**20:+.1f} MiB, "
        f"fds {after.fds - before.fds:+d}"
    )


def _server_errors(history: list[Operation]) -> int:
    return sum(1 for op in history if op.status >= 500 or op.status == 0)


def write_section(text: str, path: Path = BENCHMARKS) -> None:
    """Replace the `## Soak` section if present, else append it; every other byte stays as it was."""
    current = path.read_text() if path.exists() else ""
    found = re.search(r"^## Soak\n.*?(?=^## |\Z)", current, re.M | re.S)
    if found:
        updated = (
            current[: found.start()] + text + ("\n" if found.end() < len(current) else "") + current[found.end() :]
        )
    else:
        updated = current + ("\n" if current and not current.endswith("\n\n") else "") + text
    path.write_text(updated)


def main() -> int:
    seconds = float(os.environ.get("SOAK_SECONDS", "600"))
    rate = float(os.environ.get("SOAK_RATE", "20"))
    with tempfile.TemporaryDirectory(prefix="soak-") as logs:
        process, url = start_runner(Path(logs))
        try:
            before, stop = usage(process.pid), threading.Event()
            minutes: list[Usage] = []
            sampler = sampled(process.pid, 60, stop, minutes)
            traffic = Traffic(url, LIMITS, DESTINATIONS, seed=int(os.environ.get("SOAK_SEED", "20261201")))
            elapsed = drive(traffic, seconds, rate)
            after = usage(process.pid)
            stop.set()
            sampler.join(timeout=10)
        finally:
            stop_runner(process)
    history = traffic.history
    violations = check(history, LIMITS)
    report = section(history, elapsed, rate, before, after, violations, minutes)
    write_section(report)
    print(report, end="")  # ends with the summary line
    return 1 if violations or _server_errors(history) else 0


if __name__ == "__main__":
    sys.exit(main())
