"""`make bench` runs end to end (timings are reported, never asserted, in the test suite)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SECTIONS = (
    "Cold start",
    "Cold start of generate per provider",
    "Cold start of the deployed artifact",
    "Import time by package",
    "The digest key per container",
    "AWS calls per request",
    "Warm requests (handlers in one process)",
    "Latency and throughput (local runner)",
    "Runner start-up",
    "Package size",
    "Cost model",
)
WARM_ROUTES = (
    "generate (SMS)",
    "read a verification",
    "verify (wrong code)",
    "verify (right code)",
    "cancel a verification",
)

# Sections other producers write into the same file: a run must keep them as they are.
SOAK = "## Soak\n\nWritten by `make soak`: 10,000 requests, no errors.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
PUMPING = "## Pumping\n\nWritten by the pumping simulation.\n"


# About 70 s of one core: its own target (make bench-check), so that make test stays within CI's time.
@pytest.mark.bench_check
def test_the_benchmark_runs_quickly_writes_every_section_and_keeps_the_others(tmp_path):
    output, facts_file = tmp_path / "BENCHMARKS.md", tmp_path / "facts.json"
    output.write_text(f"# Benchmarks\n\nan old header\n\n## Cold start\n\nold numbers\n\n{SOAK}\n{PUMPING}")
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--output", str(output), "--facts", str(facts_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    for section in SECTIONS:
        assert report.count(f"\n## {section}\n") == 1, section
    assert "old numbers" not in report and "an old header" not in report
    assert SOAK in report  # a section the bench does not write is kept as it was
    assert PUMPING not in report  # the pumping section is the bench's own now: rewritten
    pumping_lines = [line for line in report.splitlines() if line.startswith("pumping: attack messages delivered")]
    assert len(pumping_lines) == 1
    assert report.index("## Soak") > report.index("## Cold start")  # still after the section it followed
    assert "| verify (right code) | 3 | 3 |" in report
    assert "sns" not in report.split("| verify |")[1].split("\n")[0]  # verify creates no SNS or SES client

    facts = json.loads(facts_file.read_text())
    warm = facts["warm_requests"]
    for route in WARM_ROUTES:
        assert warm["service_ms"][route] > 0 and warm["floor_ms"][route] > 0, route
        assert warm["ratio"][route] == warm["service_ms"][route] / warm["floor_ms"][route]
        assert sum(warm["profile_ms"][route].values()) > 0, route
    assert set(facts["cold_start"]["ratio"]) == {"generate", "verify"}
    # Each configuration creates its provider's client and no other provider's.
    assert facts["provider_cold_start"]["clients"] == {
        "sns": "kms, dynamodb, sns",
        "eum": "kms, dynamodb, pinpoint-sms-voice-v2",
        "notify": "kms, dynamodb, pinpoint-sms-voice-v2",
        "whatsapp": "kms, dynamodb, socialmessaging",
    }
    assert facts["digest_key"] == {"generate": [1, 0, 0], "verify": [1, 0, 0], "block_list": [1, 0, 0]}
