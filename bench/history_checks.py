"""The judgement of a recorded history (bench/history.py): what no order of its operations explains.

Times are the client's; the server runs on the same clock and counts in whole seconds, so every
check allows for an operation having taken effect anywhere between its invocation and completion.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from bench.history import ANSWERS, REASONS, STATUSES, Limits, Operation

Check = Callable[[list[Operation], Limits], Iterable[str]]


def check(history: list[Operation], limits: Limits) -> list[str]:
    """Every violation found, each a sentence naming the operation; empty when the history holds."""
    ops = sorted(history, key=lambda op: op.invoked)
    checks: tuple[Check, ...] = (
        answers_are_the_contract_s,
        a_code_verifies_at_most_once,
        nothing_verifies_once_canceled_or_replaced,
        wrong_codes_stay_within_the_attempt_bound,
        wrong_codes_stay_within_the_failure_bound,
        sends_respect_the_cooldown_and_window,
        right_codes_are_refused_only_for_a_cause,
    )
    return [violation for each in checks for violation in each(ops, limits)]


def _name(op: Operation) -> str:
    return f"{op.route} {op.destination[:4]}… {op.purpose} at {op.invoked:.3f} -> {op.status} {op.error}"


def answers_are_the_contract_s(ops: list[Operation], limits: Limits) -> Iterable[str]:
    for op in ops:
        allowed = ANSWERS[op.route]
        if op.status not in allowed or op.error != allowed[op.status]:
            yield f"not a contract answer: {_name(op)}"
            continue
        yield from (f"{problem}: {_name(op)}" for problem in _body_problems(op, limits))


def _body_problems(op: Operation, limits: Limits) -> Iterable[str]:
    error = op.body.get("error", {})
    longest_wait = max(limits.cooldown, limits.send_window, limits.failure_window)
    valid_wait = error.get("reason") in REASONS and 1 <= error.get("retry_after", 0) <= longest_wait
    if op.route == "generate" and op.status == 429 and not valid_wait:
        yield f"a 429 without a valid reason and retry_after {error}"
    if op.route == "verify":
        yield from _verify_problems(op, limits)
    if op.route in ("read", "cancel") and op.status == 200:
        if op.body.get("status") not in STATUSES or op.body.get("verification_id") != op.vid:
            yield "a view of another verification or status"
        if op.route == "cancel" and op.body.get("status") != "canceled":
            yield "a successful cancel that is not canceled"
    if op.status == 409 and error.get("status") not in STATUSES - {"pending", "canceled"}:
        yield "not_pending names a status that can be canceled"


def _verify_problems(op: Operation, limits: Limits) -> Iterable[str]:
    if op.body.get("verified") is not (op.status == 200):
        yield "verified does not match the status"
    if (op.status == 400) != (op.guess == "malformed"):
        yield "a malformed code and a 400 must go together"
    remaining = op.body.get("error", {}).get("attempts_remaining", -1)
    if op.status == 403 and not 0 <= remaining < limits.max_attempts:
        yield f"attempts_remaining {remaining} out of range"


def _approvals(ops: list[Operation]) -> list[Operation]:
    return [op for op in ops if op.route == "verify" and op.status == 200]


def a_code_verifies_at_most_once(ops: list[Operation], limits: Limits) -> Iterable[str]:
    issued = {op.vid for op in ops if op.route == "generate" and op.status == 201}
    counts = Counter(op.vid for op in _approvals(ops))
    for vid, count in counts.items():
        if count > 1:
            yield f"{count} approvals of one verification ({vid})"
        if vid not in issued:
            yield f"an approval of a verification never issued ({vid})"


def nothing_verifies_once_canceled_or_replaced(ops: list[Operation], limits: Limits) -> Iterable[str]:
    canceled_at: dict[str, float] = {}
    for op in ops:
        if op.route == "cancel" and op.status == 200 and op.vid is not None:
            canceled_at[op.vid] = min(op.completed, canceled_at.get(op.vid, op.completed))
    issued = {op.vid: op for op in ops if op.route == "generate" and op.status == 201}
    sends = defaultdict(list)
    for op in ops:
        if op.route == "generate" and op.status in (201, 502):
            sends[(op.destination, op.purpose)].append(op)
    for op in _approvals(ops):
        if op.vid in canceled_at and op.invoked > canceled_at[op.vid]:
            yield f"an approval after its cancel completed: {_name(op)}"
        own = issued.get(op.vid)
        newer = [
            send
            for send in sends[(op.destination, op.purpose)]
            if own is not None and send is not own and send.invoked > own.completed and send.completed < op.invoked
        ]
        if newer:
            yield f"an approval after a newer code replaced it: {_name(op)}"


def _wrong(ops: list[Operation]) -> list[Operation]:
    return [op for op in ops if op.route == "verify" and op.status == 403]


def wrong_codes_stay_within_the_attempt_bound(ops: list[Operation], limits: Limits) -> Iterable[str]:
    """Per code named by verification_id: at most OTP_MAX_ATTEMPTS compared, each count left seen once."""
    remaining = defaultdict(list)
    for op in _wrong(ops):
        if op.body.get("named"):
            remaining[op.vid].append(op.body["error"]["attempts_remaining"])
    for vid, values in remaining.items():
        if len(values) > limits.max_attempts or len(set(values)) != len(values):
            yield f"attempts of {vid} compared beyond the limit: attempts_remaining {values}"


def wrong_codes_stay_within_the_failure_bound(ops: list[Operation], limits: Limits) -> Iterable[str]:
    """Per destination per failure window: OTP_MAX_FAILURES_PER_DESTINATION + OTP_MAX_ATTEMPTS at most."""
    window, bound = limits.failure_window, limits.max_failures + limits.max_attempts
    counted = Counter(
        (op.destination, int(op.invoked) // window)
        for op in _wrong(ops)
        if int(op.invoked) // window == int(op.completed) // window
    )
    for (destination, bucket), count in counted.items():
        if count > bound:
            yield f"{count} wrong codes compared for {destination[:4]}… in failure window {bucket}, bound {bound}"


def sends_respect_the_cooldown_and_window(ops: list[Operation], limits: Limits) -> Iterable[str]:
    taken = defaultdict(list)
    for op in ops:
        if op.route == "generate" and op.status in (201, 502):
            taken[op.destination].append(op)
    for destination, sends in taken.items():
        for first, second in itertools.pairwise(sends):
            # The server counts whole seconds: two sends a cooldown apart are more than cooldown - 1 apart.
            widest = max(second.completed - first.invoked, first.completed - second.invoked)
            if widest <= limits.cooldown - 1:
                yield f"two sends to {destination[:4]}… within the cooldown: {_name(first)}; {_name(second)}"
        per_window = Counter(
            int(op.invoked) // limits.send_window
            for op in sends
            if int(op.invoked) // limits.send_window == int(op.completed) // limits.send_window
        )
        for bucket, count in per_window.items():
            if count > limits.max_sends:
                yield f"{count} sends to {destination[:4]}… in send window {bucket}, limit {limits.max_sends}"


def right_codes_are_refused_only_for_a_cause(ops: list[Operation], limits: Limits) -> Iterable[str]:
    """A right code is refused only if something that could end its verification came before the answer."""
    issued = {op.vid: op for op in ops if op.route == "generate" and op.status == 201}
    by_slot = defaultdict(list)
    by_destination = defaultdict(list)
    for op in ops:
        by_slot[(op.destination, op.purpose)].append(op)
        by_destination[op.destination].append(op)
    for op in ops:
        if op.route != "verify" or op.guess != "right" or op.status == 200 or op.vid not in issued:
            continue
        own = issued[op.vid]
        earlier = [x for x in by_slot[(op.destination, op.purpose)] if x is not op and x.invoked < op.completed]
        if any(_ends(x, own) for x in earlier):
            continue
        bucket = int(op.completed) // limits.failure_window
        failures = [
            x
            for x in by_destination[op.destination]
            if x.route == "verify" and x.status == 403 and x.invoked < op.completed
            if bucket in (int(x.invoked) // limits.failure_window, int(x.completed) // limits.failure_window)
        ]
        attempts = [x for x in earlier if x.route == "verify" and x.status == 403 and x.completed > own.invoked]
        spent = len(attempts) >= limits.max_attempts or len(failures) >= limits.max_failures + limits.max_attempts
        if not (op.status == 429 and spent):
            yield f"a right code refused with nothing to end it: {_name(op)}"


def _ends(x: Operation, own: Operation) -> bool:
    """Could x have ended the verification `own` issued: replaced, canceled or used it?"""
    if x.route == "generate" and x.status in (201, 502) and x is not own and x.completed > own.invoked:
        return True
    if x.route == "cancel" and x.status == 200 and x.vid == own.vid:
        return True
    return x.route == "verify" and x.status == 200 and x.vid == own.vid
