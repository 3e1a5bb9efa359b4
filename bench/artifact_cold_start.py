"""Cold starts of the zip that deploys, in the layout Lambda gives it, against a floor in the same layout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.children import request_body
from bench.context import LIMITS_OFF, Bench
from bench.figures import median, percentile, table
from bench.first_request import FLOOR_CLIENTS
from bench.report import Section, prose
from bench.service import Handlers, load_handlers
from local import stack
from local.artifact import LambdaArtifact
from local.events import http_api_event

# The floor in the artifact's layout: boto3 from the runtime's folder, the function's clients, no call.
_FLOOR = """
import sys, time; started = time.perf_counter(); sys.path[:0] = [{runtime!r}]
import boto3; from botocore.config import Config
session = boto3.session.Session(); config = Config(retries={{'mode': 'standard', 'total_max_attempts': 3}})
[session.client(s, config=config) for s in {clients!r}]
print((time.perf_counter() - started) * 1000)
"""


def measure(bench: Bench, archive: Path) -> Section:
    runs = bench.samples(full=12, quick=1)
    handlers = load_handlers(bench.settings(LIMITS_OFF))
    root = Path(tempfile.mkdtemp(prefix="otp-artifact-"))
    try:
        artifact = LambdaArtifact.unpack(archive, root)
        rows, ratios = [], {}
        for which in ("generate", "verify"):
            handler_ms, floor_ms = [], []
            for run in range(runs):
                handler_ms.append(_cold_start(bench, handlers, artifact, which, f"artifact-{which}-{run}"))
                floor_ms.append(_floor(bench, artifact, which))
            ratios[which] = median(handler_ms) / median(floor_ms)
            rows.append(
                [
                    which,
                    f"{median(handler_ms):.0f}",
                    f"{percentile(handler_ms, 0.9):.0f}",
                    f"{median(floor_ms):.0f}",
                    f"{ratios[which]:.2f}",
                ]
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = prose(
        "artifact_cold_start",
        runs=runs,
        table=table(["handler", "median ms", "p90 ms", "floor median ms", "ratio"], rows),
    )
    return Section("artifact_cold_start", "Cold start of the deployed artifact", text, {"ratio": ratios})


def _cold_start(bench: Bench, handlers: Handlers, artifact: LambdaArtifact, which: str, purpose: str) -> float:
    function_handlers = {name: function["handler"] for name, function in stack.load()["functions"].items()}
    body = request_body(bench, handlers, which, purpose)
    function = artifact.start(function_handlers[which], bench.child_env(bench.settings(LIMITS_OFF)))
    try:
        result = function.invoke(http_api_event("POST", f"/{which}", json.dumps(body)))
    finally:
        function.stop()
    if result["statusCode"] not in (200, 201) or function.cold_start_ms is None:
        raise RuntimeError(f"the packaged {which} answered {result['statusCode']}")
    return function.cold_start_ms


def _floor(bench: Bench, artifact: LambdaArtifact, which: str) -> float:
    script = _FLOOR.format(runtime=str(artifact.runtime), clients=FLOOR_CLIENTS[which])
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", script],
        env=bench.child_env(bench.settings(LIMITS_OFF)),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])
