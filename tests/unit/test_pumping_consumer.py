"""The stream consumer's counting and blocking, and generate's cached block list, over in-memory counts.

The same behaviours run against DynamoDB (moto) in tests/integration/test_pumping_stream.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections import Counter

import pytest

from bench.pumping import MemoryCounts
from otp.domain.ports import DependencyFailure
from otp.domain.prefix_keys import PrefixKeys
from otp.domain.pumping_events import CodeEvent, FeedbackDue, FeedbackFailed
from otp.domain.pumping_rules import PumpingRules
from otp.use_cases.pumping import (
    CODE_COUNTED,
    FEEDBACK_FAILED,
    PREFIX_BLOCKED,
    PREFIX_UNBLOCKED,
    StreamDependencies,
    consume,
    housekeeping,
)
from otp.use_cases.send_guard import BlockList

T0 = 1_800_000_000
PREFIX = "447911"
KEYS = PrefixKeys(lambda: b"unit-secret".ljust(32, b"."))
DIGEST = KEYS.digest(PREFIX)
_sequence = itertools.count(100)


class Recorder:
    def __init__(self) -> None:
        self.metrics: Counter[str] = Counter()

    def __call__(self, name: str, value: float) -> None:
        self.metrics[name] += int(value)


def wire(rules: PumpingRules | None = None, counts: MemoryCounts | None = None, feedback=None) -> StreamDependencies:
    return StreamDependencies(rules or PumpingRules(), KEYS, counts or MemoryCounts(), Recorder(), feedback)


def event(kind: str, n: int, at: int, prefix: str = PREFIX) -> CodeEvent:
    return CodeEvent(kind, f"vrf_{prefix}_{n}", at, KEYS.seal(prefix), "GB", str(next(_sequence)))  # type: ignore[arg-type]


def burst(count: int, start: int = T0, prefix: str = PREFIX) -> list[CodeEvent]:
    return [event("delivered", i, start + i // 3, prefix) for i in range(count)]


def metrics(deps: StreamDependencies) -> Counter[str]:
    assert isinstance(deps.emit, Recorder)
    return deps.emit.metrics


def test_a_burst_is_blocked_from_the_moment_its_evidence_holds():
    deps = wire()
    assert consume(deps, burst(12), [], T0 + 5) is None
    block = deps.counts.block_table().blocks[DIGEST]
    # Ten codes delivered by T0+3 (counted in the 10 s slot from T0), tested once ten seconds old:
    # the block starts then, written ahead of that moment.
    assert (block.starts_at, block.reason, block.until) == (T0 + 10, "burst", T0 + 10 + 43200)
    assert KEYS.open(block.sealed_prefix) == PREFIX and block.country == "GB"
    assert metrics(deps)[PREFIX_BLOCKED] == 1


def test_a_replayed_batch_counts_nothing_twice(caplog: pytest.LogCaptureFixture):
    deps = wire()
    batch = burst(12)
    consume(deps, batch, [], T0 + 5)
    counts = deps.counts
    assert isinstance(counts, MemoryCounts)
    before = (dict(counts.delivered[DIGEST]), set(counts.verified.get(DIGEST, set())), counts.block_table())
    caplog.clear()
    with caplog.at_level(logging.INFO):
        consume(deps, batch, [], T0 + 6)
    assert (dict(counts.delivered[DIGEST]), set(counts.verified.get(DIGEST, set())), counts.block_table()) == before
    assert len(counts.delivered[DIGEST]) == 12
    assert metrics(deps)[PREFIX_BLOCKED] == 1
    assert not [r for r in caplog.records if "blocked" in r.getMessage() or "scheduled" in r.getMessage()]


def test_verifications_withdraw_a_scheduled_conversion_block():
    deps = wire()
    slow = [event("delivered", i, T0 + 10 * i) for i in range(20)]  # 20 codes over 190 s: no burst
    consume(deps, slow, [], T0 + 195)
    block = deps.counts.block_table().blocks[DIGEST]
    # 17 matured failures at T0+220: a verification of any of the 3 young codes would make the rule hold.
    assert (block.starts_at, block.reason) == (T0 + 220, "conversion")
    verified = [event("verified", i, T0 + 10 * i) for i in range(15, 20)]
    consume(deps, verified, [], T0 + 200)
    assert DIGEST not in deps.counts.block_table().blocks
    assert metrics(deps)[PREFIX_BLOCKED] == 1


def test_a_block_that_started_is_not_lifted_by_late_verifications():
    deps = wire()
    consume(deps, burst(12), [], T0 + 20)
    consume(deps, [event("verified", i, T0 + i // 3) for i in range(12)], [], T0 + 30)
    assert DIGEST in deps.counts.block_table().blocks


def test_a_block_expires_with_a_log_line_naming_prefix_and_country(caplog: pytest.LogCaptureFixture):
    deps = wire(PumpingRules(block_seconds=600))
    consume(deps, burst(12), [], T0 + 5)  # blocked from T0+10
    with caplog.at_level(logging.WARNING):
        housekeeping(deps, T0 + 10 + 599)
        assert DIGEST in deps.counts.block_table().blocks
        housekeeping(deps, T0 + 10 + 600)
    assert DIGEST not in deps.counts.block_table().blocks
    (line,) = [r for r in caplog.records if r.getMessage() == "prefix unblocked"]
    assert (line.prefix, line.country, line.reason) == (PREFIX, "GB", "expired")  # type: ignore[attr-defined]
    assert metrics(deps)[PREFIX_UNBLOCKED] == 1


def test_withdrawn_codes_do_not_count():
    deps = wire()
    delivered = burst(12)
    withdrawn = [
        CodeEvent("withdrawn", e.verification_id, e.delivered_at, e.sealed_prefix, "GB", e.sequence)
        for e in delivered[:6]
    ]
    consume(deps, delivered[6:], [], T0 + 2)
    consume(deps, withdrawn + delivered[:6], [], T0 + 30)  # the same batch saved and withdrew them
    assert isinstance(deps.counts, MemoryCounts)
    assert len(deps.counts.delivered[DIGEST]) == 6
    assert DIGEST not in deps.counts.block_table().blocks


def test_a_lift_forgets_the_codes_before_it():
    deps = wire()
    consume(deps, burst(12), [], T0 + 20)
    deps.counts.table.blocks.pop(DIGEST)
    deps.counts.table.lifts[DIGEST] = T0 + 60  # what `python -m otp.aws.pumping lift` writes
    consume(deps, [event("delivered", 99, T0 + 61)], [], T0 + 62)
    assert DIGEST not in deps.counts.block_table().blocks
    housekeeping(deps, T0 + 60 + 3601)
    assert DIGEST not in deps.counts.block_table().lifts


def test_a_safe_listed_prefix_is_counted_but_never_blocked():
    deps = wire(PumpingRules(safe_list=("4479",)))
    consume(deps, burst(40), [], T0 + 100)
    assert deps.counts.block_table().blocks == {}
    assert metrics(deps)[CODE_COUNTED] == 40


def test_a_switched_off_guard_counts_nothing():
    deps = wire(PumpingRules(enabled=False))
    assert consume(deps, burst(40), [], T0 + 100) is None
    assert isinstance(deps.counts, MemoryCounts) and deps.counts.delivered == {}


def test_a_prefix_sealed_under_another_secret_is_skipped_not_retried():
    deps = wire()
    foreign = PrefixKeys(lambda: b"other".ljust(32, b"."))
    stranger = CodeEvent("delivered", "vrf_x", T0, foreign.seal(PREFIX), "GB", "5")
    assert consume(deps, [stranger, *burst(3)], [], T0 + 5) is None
    assert isinstance(deps.counts, MemoryCounts) and len(deps.counts.delivered[DIGEST]) == 3


class FailingFor(MemoryCounts):
    def __init__(self, digest: str) -> None:
        super().__init__()
        self.failing = digest

    def record(self, digest, changes):
        if digest == self.failing:
            raise DependencyFailure("dynamodb:UpdateItem InternalServerError")
        super().record(digest, changes)


def test_a_failed_prefix_names_its_first_record_and_the_others_are_counted():
    other = "919876"
    counts = FailingFor(KEYS.digest(other))
    deps = wire(counts=counts)
    good, bad = burst(5), burst(5, prefix=other)
    assert consume(deps, [*good, *bad], [], T0 + 5) == bad[0].sequence
    assert len(counts.delivered[DIGEST]) == 5


class Feedback:
    def __init__(self, fail: FeedbackFailed | None = None) -> None:
        self.sent: list[str] = []
        self.fail = fail

    def received(self, message_id: str) -> None:
        if self.fail:
            raise self.fail
        self.sent.append(message_id)


def test_feedback_is_reported_and_only_retryable_failures_are_retried():
    sent = Feedback()
    assert consume(wire(feedback=sent), [], [FeedbackDue("msg-1", "7")], T0) is None
    assert sent.sent == ["msg-1"]
    permanent = wire(feedback=Feedback(FeedbackFailed(retryable=False)))
    assert consume(permanent, [], [FeedbackDue("msg-2", "8")], T0) is None
    assert metrics(permanent)[FEEDBACK_FAILED] == 1
    assert consume(wire(feedback=Feedback(FeedbackFailed(retryable=True))), [], [FeedbackDue("m", "9")], T0) == "9"


def test_each_prefix_in_a_batch_logs_one_count_line_for_the_dashboard(caplog: pytest.LogCaptureFixture):
    other = "919876"
    batch = [
        *burst(4),
        *burst(3, prefix=other),
        event("verified", 0, T0),
        event("verified", 1, T0),
    ]
    with caplog.at_level(logging.INFO):
        consume(wire(), batch, [], T0 + 5)
    lines = [r for r in caplog.records if r.getMessage() == "prefix counted"]
    counted = {(r.prefix, r.country, r.delivered, r.verified) for r in lines}  # type: ignore[attr-defined]
    assert len(lines) == 2
    assert counted == {(PREFIX, "GB", 4, 2), (other, "GB", 3, 0)}
    # The Logs Insights widget sums these fields; nothing in them is more of a number than its prefix.
    for line in lines:
        fields = {k: v for k, v in line.__dict__.items() if k in ("prefix", "country", "delivered", "verified")}
        assert len(fields) == 4 and len(str(fields["prefix"])) == 6


def test_a_replayed_batch_logs_its_counts_again_but_writes_nothing_new(caplog: pytest.LogCaptureFixture):
    # The widget sums log lines, so a replay shows twice there; the stored counts, which decide, do not.
    deps = wire()
    batch = burst(5)
    consume(deps, batch, [], T0 + 5)
    caplog.clear()  # the first run's lines, when another test left the logger at INFO
    with caplog.at_level(logging.INFO):
        consume(deps, batch, [], T0 + 6)
    assert [r.delivered for r in caplog.records if r.getMessage() == "prefix counted"] == [5]  # type: ignore[attr-defined]


def test_no_log_line_holds_a_number(caplog: pytest.LogCaptureFixture):
    deps = wire(PumpingRules(block_seconds=100))
    numbers = [f"+{PREFIX}{n:06d}" for n in range(12)]
    with caplog.at_level(logging.DEBUG):
        consume(deps, burst(12), [], T0 + 5)
        housekeeping(deps, T0 + 200)
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert PREFIX in text and "GB" in text
    assert not any(number[1:] in text for number in numbers)


# ---- generate's cached block list -------------------------------------------------------------------


def test_the_block_list_is_read_at_most_once_per_interval_and_refuses_inside_the_span():
    reads = []

    def read():
        reads.append(1)
        return {DIGEST: (T0 + 5, T0 + 50)}

    blocks = BlockList(read, interval=10, on_failure=lambda: None)
    assert not blocks.refuses(DIGEST, T0)
    assert blocks.refuses(DIGEST, T0 + 5) and blocks.refuses(DIGEST, T0 + 9)
    assert len(reads) == 1
    assert blocks.refuses(DIGEST, T0 + 10) and len(reads) == 2
    assert not blocks.refuses(DIGEST, T0 + 50)
    assert not blocks.refuses("another digest", T0 + 20)


def test_an_unreadable_block_list_fails_open_keeps_what_it_knew_and_retries_after_the_interval():
    answers: list[object] = [{DIGEST: (T0, T0 + 100)}, DependencyFailure("dynamodb:GetItem"), {}]
    failures = []

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    blocks = BlockList(read, interval=10, on_failure=lambda: failures.append(1))
    assert blocks.refuses(DIGEST, T0)
    assert blocks.refuses(DIGEST, T0 + 10)  # the read failed: the known block still holds
    assert not blocks.refuses("unknown", T0 + 11)  # and anything else passes
    assert failures == [1] and len(answers) == 1  # not retried within the interval
    assert not blocks.refuses(DIGEST, T0 + 20)  # retried: the block was lifted


def recorded(kind: str, n: int, delivered_at: int, recorded_at: int) -> CodeEvent:
    return dataclasses.replace(event(kind, n, delivered_at), recorded_at=recorded_at)


def test_a_consumer_running_behind_never_blocks_a_prefix_whose_verifications_it_has_not_read_yet():
    deps = wire()
    # A push: 100 codes in 10 s, 70 of them verified 25 s after delivery. Behind a backlog, the
    # deliveries fill one batch and the verifications come in the next ones.
    delivered = [recorded("delivered", i, T0 + i // 10, T0 + i // 10) for i in range(100)]
    verified = [recorded("verified", i, T0 + i // 10, T0 + i // 10 + 25) for i in range(70)]
    assert consume(deps, delivered, [], T0 + 300) is None
    assert deps.counts.block_table().blocks == {}, "as of its stream position every code was young"
    assert consume(deps, verified, [], T0 + 301) is None
    assert deps.counts.block_table().blocks == {}
    assert metrics(deps)["PumpingPrefixBlocked"] == 0


def test_a_consumer_running_behind_still_blocks_an_attack_on_its_next_code():
    deps = wire()
    attack = [recorded("delivered", i, T0 + i // 10, T0 + i // 10) for i in range(200)]
    assert consume(deps, attack, [], T0 + 300) is None  # as of T0 + 19, a burst not yet tested
    late = [recorded("delivered", 500, T0 + 290, T0 + 290)]
    assert consume(deps, late, [], T0 + 301) is None
    (block,) = deps.counts.block_table().blocks.values()
    assert block.starts_at <= T0 + 301 < block.until
