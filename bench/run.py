"""`make bench`: cold start, AWS calls, warm requests, latency, package size and cost, each beside a
floor measured in the same run on the same machine.

    python -m bench.run            # the full run; rewrites its sections of BENCHMARKS.md and prints them
    python -m bench.run --quick    # a smoke run with few samples (used by the test suite)

Each section is one module of bench/ with a ``measure`` function that returns a ``Section``; its
prose is in bench/templates/. A section's inputs are its arguments: none reads another's state.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    artifact_cold_start,
    aws_calls,
    cold_start,
    context,
    cost,
    digest_key,
    import_time,
    latency,
    package_size,
    provider_cold_start,
    pumping,
    runner_startup,
    warm_requests,
)
from bench.report import Section, prose, write


class Progress:
    """One line on stderr as each section is done, with the seconds it took."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def done(self, section: Section) -> Section:
        now = time.perf_counter()
        print(f"bench: {section.title} ({now - self.last:.0f} s)", file=sys.stderr, flush=True)
        self.last = now
        return section


def produce(quick: bool) -> list[Section]:
    """Every section `make bench` writes, in the order BENCHMARKS.md shows them."""
    progress = Progress()
    with context.started(quick) as bench:
        cold = progress.done(cold_start.measure(bench))
        providers = progress.done(provider_cold_start.measure(bench))
        imports = progress.done(import_time.measure(bench))
        digest = progress.done(digest_key.measure(bench))
        calls = progress.done(aws_calls.measure(bench))
        warm = progress.done(warm_requests.measure(bench))
        with tempfile.TemporaryDirectory(prefix="otp-package-") as out:
            package = progress.done(package_size.measure(Path(out)))
            artifact = progress.done(artifact_cold_start.measure(bench, Path(package.facts["zip"])))
    costs = progress.done(cost.measure(calls, warm))
    served = progress.done(latency.measure(quick))
    startup = progress.done(runner_startup.measure(quick))
    # The pumping simulation drives the guard's rule and counting (otp.domain/use_cases.pumping).
    text = pumping.markdown(pumping.simulate())
    text = text.split("\n", 1)[1] if text.startswith("## ") else text
    pumped = progress.done(Section("pumping", "Pumping", text, {}))
    return [cold, providers, artifact, imports, digest, calls, warm, served, startup, package, costs, pumped]


def header(quick: bool, seconds: float) -> str:
    return prose(
        "header",
        date=f"{datetime.now(UTC):%Y-%m-%d}",
        cores=os.cpu_count(),
        machine=platform.machine(),
        python=platform.python_version(),
        seconds=seconds,
        quick=" (--quick: too few samples to quote)" if quick else "",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--output", type=Path, default=context.ROOT / "BENCHMARKS.md")
    parser.add_argument("--facts", type=Path, help="also write every section's figures here, as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    sections = produce(args.quick)
    for section in sections:
        print(section.block(), flush=True)
    write(args.output, header(args.quick, time.perf_counter() - started), sections)
    if args.facts:
        args.facts.write_text(json.dumps({s.key: s.facts for s in sections}, indent=2, default=str))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
