"""The state machine: random interleavings of the four use cases, each answer held to the reference.

Every rule calls a real use case through the dependencies otp.bootstrap builds, predicts its
answer with the reference model first, and asserts they agree field by field. The invariants read
only what was observed (answers, deliveries, times), so they hold even if the model were wrong.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from otp.bootstrap import generate_dependencies, verification_dependencies, verify_dependencies
from otp.config import load_settings
from otp.domain.errors import OtpError
from otp.use_cases.cancel_verification import cancel_verification
from otp.use_cases.check_code import CheckRequest, check_code
from otp.use_cases.issue_code import IssueRequest, issue_code
from otp.use_cases.read_verification import read_verification
from tests.fakes import FakeAdapters
from tests.helpers import FakeClock, wrong_code
from tests.model import reference as ref
from tests.model.reference import Answer, Reference, Verification

MALFORMED_ID = "not-a-verification-id"
# Every counterexample the machine found became a regression test beside the machine that found
# it (tests/unit/test_model.py, tests/integration/test_model_dynamodb.py); the machine tolerates
# no departure from the reference.
STATS: Counter[str] = Counter()  # examples, steps (rule calls) and use-case answers, for the report


def summary() -> str:
    """What one run explored: examples, steps, and how often each use case answered what."""
    answers = {name: count for name, count in sorted(STATS.items()) if name not in ("examples", "steps")}
    return f"{STATS['examples']} examples, {STATS['steps']} steps; {answers}"


def answer_of(error: OtpError) -> Answer:
    return Answer(
        error.code,
        attempts_remaining=getattr(error, "attempts_remaining", None),
        retry_after=getattr(error, "retry_after", None) if error.code == "rate_limited" else None,
        reason=getattr(error, "reason", None),
        status=getattr(error, "verification_status", None),
    )


@dataclass
class Observations:
    """What happened, as the answers showed it: the invariants are checked on this alone."""

    approvals: Counter[str] = field(default_factory=Counter)
    wrong_by_code: Counter[str] = field(default_factory=Counter)
    wrong_by_window: Counter[tuple[str, int]] = field(default_factory=Counter)
    sends: list[tuple[str, int, str | None]] = field(default_factory=list)  # every send taken
    statuses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    finished_resend_at: dict[str, int] = field(default_factory=dict)


class UseCaseMachine(RuleBasedStateMachine):
    def make_adapters(self) -> FakeAdapters:
        return FakeAdapters()

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        fakes = self.make_adapters()
        self.sender = fakes.sender
        settings = load_settings(ref.SETTINGS)
        adapters = fakes.adapters()
        self.generate_deps = generate_dependencies(settings, adapters, self.clock)
        self.verify_deps = verify_dependencies(settings, adapters, self.clock)
        self.view_deps = verification_dependencies(settings, adapters, self.clock)
        self.model = Reference(int(self.clock.now))
        self.seen = Observations()
        STATS["examples"] += 1

    # ---- rules ---------------------------------------------------------------------------------

    @rule(
        destination=st.sampled_from(ref.DESTINATIONS),
        purpose=st.sampled_from(ref.PURPOSES),
        ip=st.sampled_from(ref.END_USER_IPS),
        refuse=st.sampled_from((False, False, False, True)),
        wait=st.sampled_from((0, 0, 1, ref.COOLDOWN)),
    )
    def generate(self, destination: ref.Destination, purpose: str, ip: str | None, refuse: bool, wait: int) -> None:
        STATS["steps"] += 1
        # The end user may wait a moment first: time moves with the sends even when no other rule runs.
        self._wait(wait)
        STATS["generate"] += 1
        expected = self.model.take_send(destination.identity, ip)
        self.sender.refuse = refuse
        delivered = self._delivered()
        request = IssueRequest(destination.channel, destination.raw, purpose=purpose, end_user_ip=ip)  # type: ignore[arg-type]
        try:
            issued = issue_code(self.generate_deps, request)
        except OtpError as error:
            got = answer_of(error)
            if expected is None:
                expected = Answer("delivery_failed") if refuse else Answer()
            assert got == expected, (got, expected)
            STATS[f"generate {got.reason or got.error}"] += 1
            if got.error == "delivery_failed":
                self.model.delivery_failed(destination.identity, purpose)
                self.seen.sends.append((destination.identity, self.model.now, ip))
            assert len(self._delivered()) == len(delivered), "a refused /generate delivered something"
            return
        assert expected is None, (issued, expected)
        assert not refuse, "a refused delivery answered 201"
        STATS["generate issued"] += 1
        messages = self._delivered()
        assert len(messages) == len(delivered) + 1
        address, text = self._newest_message(destination.channel)
        assert address.casefold() == destination.raw.casefold()
        found = re.search(rf"(?<!\d)\d{{{ref.CODE_LENGTH}}}(?!\d)", text)
        assert found, text
        self.seen.sends.append((destination.identity, self.model.now, ip))
        verification = Verification(
            issued.verification_id,
            destination.identity,
            purpose,
            found.group(0),
            destination.channel,
            issued.masked_destination,
            self.model.now,
        )
        assert issued.expires_at == verification.expires_at
        self.model.stored(verification)

    @rule(
        data=st.data(),
        guess=st.sampled_from(("right", "wrong", "wrong", "wrong", "old", "malformed", "spaced")),
        naming=st.sampled_from(("none", "none", "newest", "newest", "any", "malformed")),
    )
    def verify(self, data: Any, guess: str, naming: str) -> None:
        STATS["steps"] += 1
        self._verify(data, guess, naming)

    @rule(
        data=st.data(), guesses=st.lists(st.sampled_from(("right", "wrong", "wrong", "wrong")), min_size=1, max_size=4)
    )
    def guess_the_pending_code(self, data: Any, guesses: list[str]) -> None:
        """A run of guesses at a code that can still verify, so the attempt and failure limits are reached."""
        STATS["steps"] += 1
        live = self.model.pending()  # in issue order: ids are random, so sorting them would not replay
        if live:
            target = data.draw(st.sampled_from(live))
            for guess in guesses:
                self._verify(data, guess, data.draw(st.sampled_from(("newest", "none"))), target=target)

    def _verify(self, data: Any, guess: str, naming: str, target: Verification | None = None) -> None:
        STATS["verify"] += 1
        destination, purpose = self._target(data, target)
        pending = self.model.state(destination.identity).newest.get(purpose)
        code = self._guess(data, destination.identity, purpose, guess, pending)
        vid = self._naming(data, naming, pending)
        expected = self.model.verify(destination.identity, purpose, code, vid)
        try:
            verified = check_code(self.verify_deps, CheckRequest(destination.raw, code, purpose, vid))
            got = Answer(vid=verified.verification_id)
        except OtpError as error:
            got = answer_of(error)
        assert got == expected, (got, expected, guess, naming)
        STATS[f"verify {got.error or 'verified'}"] += 1
        if got.error == "invalid_code":
            assert pending is not None
            self.seen.wrong_by_code[pending.vid] += 1
            self.seen.wrong_by_window[(destination.identity, ref.failure_bucket(self.model.now))] += 1
        if got.error is None:
            assert got.vid is not None
            self._check_approval(self.model.verifications[got.vid])

    @rule(data=st.data())
    def read(self, data: Any) -> None:
        STATS["steps"] += 1
        STATS["read"] += 1
        vid = data.draw(st.sampled_from([*self.model.verifications, MALFORMED_ID]))
        expected = Answer("invalid_request") if vid == MALFORMED_ID else self.model.read(vid)
        try:
            view = read_verification(self.view_deps, vid)
        except OtpError as error:
            got = answer_of(error)
            assert got == expected, (got, expected)
            return
        self._check_view(view, expected)

    @rule(data=st.data())
    def cancel(self, data: Any) -> None:
        STATS["steps"] += 1
        STATS["cancel"] += 1
        vid = data.draw(st.sampled_from([*self.model.verifications, MALFORMED_ID]))
        before = self.model.verifications.get(vid)
        was = before.status() if before else None
        expected = Answer("invalid_request") if vid == MALFORMED_ID else self.model.cancel(vid)
        try:
            view = cancel_verification(self.view_deps, vid)
        except OtpError as error:
            got = answer_of(error)
            assert got == expected, (got, expected, was)
            if got.status is not None:
                self.seen.statuses[vid].append(got.status)
            return
        self._check_view(view, expected)

    @rule(step=st.sampled_from(("tick", "ticks", "cooldown", "send_window", "ttl", "failure_window", "ip_window")))
    def advance(self, step: str) -> None:
        STATS["steps"] += 1
        STATS["advance"] += 1
        now = self.model.now
        seconds = {
            "tick": 1,
            "ticks": 3,
            "cooldown": ref.COOLDOWN,
            "send_window": ref.SEND_WINDOW - now % ref.SEND_WINDOW,
            "ttl": ref.TTL,
            "failure_window": ref.FAILURE_WINDOW - now % ref.FAILURE_WINDOW,
            "ip_window": ref.IP_WINDOW - now % ref.IP_WINDOW,
        }[step]
        self._wait(seconds)

    def _wait(self, seconds: int) -> None:
        if seconds:
            self.clock.advance(seconds)
            self.model.advance(seconds)

    # ---- invariants, on the observations alone ---------------------------------------------

    @invariant()
    def a_code_verifies_at_most_once(self) -> None:
        assert all(count <= 1 for count in self.seen.approvals.values()), self.seen.approvals

    @invariant()
    def wrong_codes_stay_within_the_attempt_and_failure_bounds(self) -> None:
        assert all(count <= ref.MAX_ATTEMPTS for count in self.seen.wrong_by_code.values())
        bound = ref.MAX_FAILURES + ref.MAX_ATTEMPTS
        assert all(count <= bound for count in self.seen.wrong_by_window.values()), self.seen.wrong_by_window

    @invariant()
    def sends_respect_the_cooldown_and_the_windows(self) -> None:
        last: dict[str, int] = {}
        per_window: Counter[tuple[str, int]] = Counter()
        per_ip: Counter[tuple[str, int]] = Counter()
        for identity, at, ip in self.seen.sends:
            assert identity not in last or at - last[identity] >= ref.COOLDOWN
            last[identity] = at
            per_window[(identity, at // ref.SEND_WINDOW)] += 1
            if ip is not None:
                per_ip[(ref.network(ip), at // ref.IP_WINDOW)] += 1
        assert all(count <= ref.MAX_SENDS for count in per_window.values())
        assert all(count <= ref.MAX_SENDS_PER_IP for count in per_ip.values())

    @invariant()
    def statuses_move_only_along_the_contract(self) -> None:
        for vid, statuses in self.seen.statuses.items():
            ended = [status for status in statuses if status != "pending"]
            assert len(set(ended)) <= 1, (vid, statuses)
            if ended:
                assert "pending" not in statuses[statuses.index(ended[0]) :], (vid, statuses)

    # ---- helpers -------------------------------------------------------------------------------

    def _delivered(self) -> list[tuple[str, str]]:
        """Every message delivered, emails after texts: a new one shows as the last of its channel."""
        return [*self.sender.sms, *((address, text) for address, _, text, _ in self.sender.emails)]

    def _newest_message(self, channel: str) -> tuple[str, str]:
        if channel == "sms":
            return self.sender.sms[-1]
        address, _, text, _ = self.sender.emails[-1]
        return address, text

    def _target(self, data: Any, target: Verification | None) -> tuple[ref.Destination, str]:
        """Mostly a destination and purpose that has had a code, in either spelling; sometimes any."""
        issued = sorted({(v.identity, v.purpose) for v in self.model.verifications.values()})
        if target is not None or (issued and data.draw(st.integers(0, 4)) > 0):
            identity, purpose = (target.identity, target.purpose) if target else data.draw(st.sampled_from(issued))
            spellings = [d for d in ref.DESTINATIONS if d.identity == identity]
            return data.draw(st.sampled_from(spellings)), purpose
        return data.draw(st.sampled_from(ref.DESTINATIONS)), data.draw(st.sampled_from(ref.PURPOSES))

    def _guess(self, data: Any, identity: str, purpose: str, guess: str, pending: Verification | None) -> str:
        right = pending.code if pending else data.draw(st.from_regex(r"\A[0-9]{4}\Z"))
        if guess == "wrong":
            return wrong_code(right)
        if guess == "old":
            older = [
                v.code for v in self.model.verifications.values() if (v.identity, v.purpose) == (identity, purpose)
            ]
            return data.draw(st.sampled_from(older)) if older else right
        if guess == "malformed":
            return data.draw(st.sampled_from(("12a4", "123", "12345", "", "\uff11\uff12\uff13\uff14")))
        return f" {right}\t" if guess == "spaced" else right

    def _naming(self, data: Any, naming: str, pending: Verification | None) -> str | None:
        if naming == "newest" and pending is not None:
            return pending.vid
        if naming == "any" and self.model.verifications:
            return str(data.draw(st.sampled_from(list(self.model.verifications))))
        return MALFORMED_ID if naming == "malformed" else None

    def _check_approval(self, verification: Verification) -> None:
        """Only the newest code, delivered, within its validity and attempts, uncanceled, verifies."""
        self.seen.approvals[verification.vid] += 1
        identity, purpose = verification.identity, verification.purpose
        assert self.model.state(identity).newest.get(purpose) is verification
        assert self.model.now < verification.expires_at
        assert self.seen.wrong_by_code[verification.vid] < ref.MAX_ATTEMPTS
        assert "canceled" not in self.seen.statuses[verification.vid]

    def _check_view(self, view: Any, expected: Answer) -> None:
        verification = self.model.verifications[view.verification_id]
        status = view.status
        assert Answer(status=status, vid=view.verification_id) == expected, (view, expected)
        assert view.attempts_remaining == max(0, ref.MAX_ATTEMPTS - verification.attempts)
        assert (view.created_at, view.expires_at) == (verification.created_at, verification.expires_at)
        assert (view.channel, view.masked_destination) == (verification.channel, verification.masked)
        self.seen.statuses[view.verification_id].append(status)
        if status == "pending":
            assert view.resend_available_at == self.model.resend_available_at(verification), view
        else:
            first = self.seen.finished_resend_at.setdefault(view.verification_id, view.resend_available_at)
            assert view.resend_available_at == first, (view, first)
