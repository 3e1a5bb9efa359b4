"""The pumping simulation: its traffic is the specified model, and the guard meets its goal on it."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.pumping import ATTACK_RPS, ATTACK_START, DURATION, SPIKE, SPIKE_COUNTRY, markdown, simulate, traffic

ROOT = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(
    r"^pumping: attack messages delivered before the block: (\d+) \(concentrated\), (\d+) \(spread\); "
    r"legitimate sends refused: (\d+) of (\d+)$"
)


def test_the_traffic_is_the_specified_model_and_is_the_same_for_the_same_seed():
    requests = traffic(7)
    assert requests == traffic(7) and requests != traffic(8)
    legit = [r for r in requests if r.kind == "legit"]
    assert len({r.prefix for r in legit}) == 200 and len({r.country for r in legit}) == 5
    delays = [r.verify_after for r in legit if r.verify_after is not None]
    assert 22 <= statistics.median(delays) <= 28 and min(delays) >= 3
    assert 0.55 <= len(delays) / len(legit) <= 0.85  # 60-90 % convert, less those that expire
    in_spike = Counter(r.country == SPIKE_COUNTRY for r in legit if SPIKE[0] <= r.at < SPIKE[1])
    before = Counter(r.country == SPIKE_COUNTRY for r in legit if SPIKE[0] - 600 <= r.at < SPIKE[0])
    assert 14 <= in_spike[True] / before[True] <= 26  # 20x
    assert 0.7 <= in_spike[False] / before[False] <= 1.3
    seconds = DURATION - ATTACK_START
    for kind, prefixes in (("concentrated", 3), ("spread", 50)):
        attack = [r for r in requests if r.kind == kind]
        assert len({r.prefix for r in attack}) == prefixes
        assert abs(len(attack) / seconds - ATTACK_RPS) < 0.3
        assert sum(r.verify_after is not None for r in attack) / len(attack) < 0.02
        assert not {r.prefix for r in attack} & {r.prefix for r in legit}


def test_with_the_defaults_the_guard_stops_both_attacks_and_refuses_no_legitimate_send():
    result = simulate()
    text = markdown(result)
    found = LAST_LINE.match(text.splitlines()[-1])
    assert found, text.splitlines()[-1]
    concentrated, spread, refused, total = map(int, found.groups())
    assert concentrated <= 300
    assert refused == 0 and total == result.requests["legit"] > 5000
    assert {kind for kind, *_ in result.blocks} == {"concentrated", "spread"}
    assert len(result.blocks) == 53
    # The attacks went on for an hour: nearly all of their requests were refused.
    assert result.refused["concentrated"] > 30 * result.delivered["concentrated"]
    assert spread < result.refused["spread"] / 10


def test_the_guard_modules_import_no_aws_sdk():
    probe = (
        "import sys, otp.domain.pumping, otp.use_cases.pumping; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
