"""Checked histories under real concurrency: client threads against `make run`, then judged.

Eight threads mix generate, verify (right, wrong and malformed codes, with and without the
verification id), read and cancel over four destinations for a few seconds; every operation's
invocation, completion and answer is recorded, and bench/history_checks.py looks for what no
order of them explains. `make soak` runs the same traffic for minutes. The checks are tested first
on hand-made histories, so a check that cannot fail would show here.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.history import Limits, Operation, Traffic
from bench.history_checks import check
from tests.e2e.conftest import start_runner, stop_runner  # the runner's helpers, imported here only

LIMITS = Limits()
SECONDS = float(os.environ.get("TEST_HISTORY_SECONDS", "8"))
THREADS = 8
SEED = int(os.environ.get("TEST_HISTORY_SEED", "20261201"))
DESTINATIONS = ["+14155552671", "+12025550123", "+919876543210", "+61491570156", "+33612345678", "grace@example.com"]
NUMBER, VID, OTHER = "+14155552671", "vrf_" + "A" * 36 + "_default", "vrf_" + "B" * 36 + "_default"


@pytest.fixture(scope="module")
def history_runner(runner_logs):
    started = start_runner(runner_logs, **LIMITS.environment())
    yield started
    stop_runner(started)


@pytest.mark.e2e
def test_concurrent_traffic_leaves_a_history_every_check_accepts(history_runner):
    traffic = Traffic(history_runner.url, LIMITS, DESTINATIONS, SEED)
    deadline = time.monotonic() + SECONDS

    def client(_: int) -> None:
        while time.monotonic() < deadline:
            traffic.one()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(client, range(THREADS)))
    answers = Counter(f"{op.route} {op.status}" for op in traffic.history)
    print(f"history over HTTP: {len(traffic.history)} operations, {dict(answers)}")
    assert check(traffic.history, LIMITS) == []
    # The traffic reached what the checks are about: approvals, wrong codes, refusals, cancels.
    for seen in ("generate 201", "generate 429", "verify 200", "verify 403"):
        assert answers[seen] > 0, (seen, answers)
    assert answers["cancel 200"] + answers["cancel 409"] > 0, answers


# ---- the checks themselves, on histories made by hand ---------------------------------------


def op(route: str, at: float, status: int, body: dict | None = None, **fields) -> Operation:
    made = Operation(route, fields.pop("destination", NUMBER), "default", at, at + 0.05, status, body or {}, **fields)
    return made


def issued(at: float, vid: str = VID) -> Operation:
    return op("generate", at, 201, {"verification_id": vid}, vid=vid)


def approved(at: float, vid: str = VID) -> Operation:
    return op("verify", at, 200, {"verified": True, "verification_id": vid}, vid=vid, guess="right")


def wrong(at: float, remaining: int, vid: str = VID, named: bool = True) -> Operation:
    error = {"code": "invalid_code", "attempts_remaining": remaining}
    return op("verify", at, 403, {"verified": False, "error": error, "named": named}, vid=vid, guess="wrong")


def refused(at: float, status: int = 404, code: str = "not_found") -> Operation:
    return op("verify", at, status, {"verified": False, "error": {"code": code}}, vid=VID, guess="right")


def canceled(at: float) -> Operation:
    return op("cancel", at, 200, {"status": "canceled", "verification_id": VID}, vid=VID)


def test_a_clean_history_passes():
    assert check([issued(100), wrong(101, 2), approved(102), refused(103)], LIMITS) == []


@pytest.mark.parametrize(
    ("history", "found"),
    [
        ([issued(100), approved(101), approved(102)], "2 approvals"),
        ([issued(100), canceled(101), approved(102)], "after its cancel"),
        ([issued(100), issued(103, OTHER), approved(104)], "newer code replaced"),
        ([issued(100), *(wrong(101 + n, 2 - n % 3) for n in range(4))], "beyond the limit"),
        ([issued(100), wrong(101, 2), wrong(102, 2)], "beyond the limit"),
        (
            [issued(120 + n * 3, f"vrf_{n}") for n in range(1)]
            + [wrong(121 + n / 10, 1, named=False) for n in range(9)],
            "in failure window",
        ),
        ([issued(100), issued(100.2, OTHER)], "within the cooldown"),
        ([issued(120 + 2.5 * n, f"v{n}") for n in range(6)], "in send window"),
        ([issued(100), refused(101)], "nothing to end it"),
        ([issued(100), refused(101, 429, "too_many_attempts")], "nothing to end it"),
        ([op("verify", 100, 500, {"error": {"code": "internal_error"}})], "not a contract answer"),
        (
            [op("verify", 100, 400, {"verified": False, "error": {"code": "invalid_request"}}, guess="wrong")],
            "malformed code and a 400",
        ),
        (
            [op("generate", 100, 429, {"error": {"code": "rate_limited", "reason": "cooldown", "retry_after": 0}})],
            "valid reason and retry_after",
        ),
    ],
)
def test_each_check_finds_its_violation(history, found):
    violations = check(history, LIMITS)
    assert any(found in violation for violation in violations), violations


def test_a_refusal_with_a_cause_passes():
    assert check([issued(100), canceled(101), refused(102)], LIMITS) == []
    spent = [wrong(101, 2), wrong(102, 1), wrong(103, 0)]
    assert check([issued(100), *spent, refused(104, 429, "too_many_attempts")], LIMITS) == []


def test_the_soak_report_replaces_only_its_own_section(tmp_path):
    from bench.soak import write_section

    page = tmp_path / "BENCHMARKS.md"
    page.write_text("# Benchmarks\n\n## Cold start\n\nrows\n")
    write_section("## Soak\n\nfirst\n", page)
    assert page.read_text() == "# Benchmarks\n\n## Cold start\n\nrows\n\n## Soak\n\nfirst\n"
    page.write_text(page.read_text() + "\n## Cost model\n\nkept\n")
    write_section("## Soak\n\nsecond\n", page)
    assert page.read_text() == "# Benchmarks\n\n## Cold start\n\nrows\n\n## Soak\n\nsecond\n\n## Cost model\n\nkept\n"
