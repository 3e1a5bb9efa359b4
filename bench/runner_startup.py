"""Runner start-up: from launching `make run`'s runner to its first answer, every worker ready."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.figures import median, table
from bench.report import Section, prose
from local import launch

BUDGET_SECONDS = 3.0  # README: after the first install, `make run` starts in under 3 seconds


def measure(quick: bool) -> Section:
    runs = 1 if quick else 5
    seconds = []
    with tempfile.TemporaryDirectory(prefix="otp-bench-") as scratch:
        for _ in range(runs):
            launched = time.perf_counter()
            runner = launch.start(Path(scratch), {}, launch.LaunchedRunner)
            seconds.append(time.perf_counter() - launched)
            launch.stop(runner)
    rows = [[f"{median(seconds):.1f}", f"{min(seconds):.1f}", f"{max(seconds):.1f}", f"{BUDGET_SECONDS:.0f}"]]
    text = prose("runner_startup", runs=runs, table=table(["median s", "fastest s", "slowest s", "budget s"], rows))
    return Section("runner_startup", "Runner start-up", text, {"seconds": seconds})
