"""`make bench` runs end to end (timings are reported, never asserted, in the test suite)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_quickly_and_writes_every_section(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    for section in (
        "Cold start",
        "Cold start of the deployed artifact",
        "AWS calls per request",
        "Latency and throughput",
        "Package size",
        "Cost model",
    ):
        assert f"## {section}" in report
    assert "| verify (right code) | 3 | 3 |" in report
    assert "sns" not in report.split("| verify |")[1].split("\n")[0]  # verify creates no SNS or SES client
