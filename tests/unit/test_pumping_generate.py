"""Generate's side of the pumping guard (semantics 14), on fakes through the generate bootstrap:
which codes are marked for counting, which sends a block refuses, and how often the block list is read."""

from __future__ import annotations

import pytest

from otp.bootstrap import generate_dependencies
from otp.config import load_settings
from otp.domain.errors import DestinationNotAllowed
from otp.domain.keys import Digests
from otp.domain.prefix_keys import PrefixKeys
from otp.use_cases.dependencies import GenerateDependencies
from otp.use_cases.issue_code import IssueRequest, issue_code
from tests.fakes import FakeAdapters, FixedDeriver
from tests.helpers import FakeClock

BASE = {
    "OTP_KMS_KEY_ID": "alias/unit",
    "OTP_DIGEST_KEY_ID": "alias/unit-digests",
    "OTP_EMAIL_SENDER": "otp@x.io",
    "OTP_VOICE_PROVIDER": "eum",
    "OTP_VOICE_ORIGINATION_IDENTITY": "+12065550100",
    "OTP_WHATSAPP_PHONE_NUMBER_ID": "phone-number-id-0123456789",
}
NUMBER = "+447400123456"
NEIGHBOUR = "+447400654321"  # the same prefix, 447400
ELSEWHERE = "+447812345678"
NOW = 1_800_000_000


class Wired:
    def __init__(self, **settings: str) -> None:
        self.fakes = FakeAdapters()
        self.clock = FakeClock(NOW)
        self.deps: GenerateDependencies = generate_dependencies(
            load_settings({**BASE, **settings}), self.fakes.adapters(), self.clock
        )
        self.keys = PrefixKeys(Digests(FixedDeriver()).secret)

    def block(self, prefix: str, starts_at: int = NOW - 1, until: int = NOW + 3600) -> None:
        self.fakes.block_list.blocks[self.keys.digest(prefix)] = (starts_at, until)

    def issue(self, destination: str, channel: str = "sms", purpose: str = "default"):  # type: ignore[no-untyped-def]
        return issue_code(self.deps, IssueRequest(channel, destination, purpose=purpose))  # type: ignore[arg-type]

    def sent(self) -> int:
        sender = self.fakes.sender
        return len(sender.sms) + len(sender.calls) + len(sender.whatsapp) + len(sender.emails)

    def stored(self, destination: str):  # type: ignore[no-untyped-def]
        from otp.domain.destinations import normalize_phone

        record = self.fakes.store.read(self.deps.digests.record_key(normalize_phone(destination)))
        assert record is not None
        return record.codes["default"]


@pytest.mark.parametrize("channel", ["sms", "voice"])
def test_a_blocked_prefix_is_refused_as_fraud_and_nothing_is_sent_nor_charged(channel: str) -> None:
    wired = Wired()
    wired.block("447400")
    with pytest.raises(DestinationNotAllowed) as refused:
        wired.issue(NEIGHBOUR, channel)
    assert refused.value.reason == "fraud_suspected"
    assert refused.value.status == 403
    assert wired.sent() == 0
    assert wired.fakes.store.records == {}, "a refused send takes nothing from the number's limits"
    wired.issue(ELSEWHERE, channel)  # another prefix of the same country
    assert wired.sent() == 1


@pytest.mark.parametrize("channel", ["whatsapp", "email"])
def test_whatsapp_and_email_are_neither_refused_nor_counted(channel: str) -> None:
    wired = Wired()
    wired.block("447400")
    destination = NUMBER if channel == "whatsapp" else "someone@example.com"
    wired.issue(destination, channel)
    assert wired.sent() == 1
    if channel == "whatsapp":
        assert wired.stored(NUMBER).guard is None


def test_a_block_applies_from_its_start_until_its_end() -> None:
    wired = Wired(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_FRAUD_REACTION_SECONDS="1")
    wired.block("447400", starts_at=NOW + 5, until=NOW + 20)
    wired.issue(NUMBER, purpose="before")  # scheduled, not started
    wired.clock.advance(5)
    with pytest.raises(DestinationNotAllowed):
        wired.issue(NUMBER, purpose="during")
    wired.clock.advance(15)
    wired.issue(NUMBER, purpose="after")
    assert wired.sent() == 2


def test_the_safe_list_and_test_destinations_are_never_refused_nor_counted() -> None:
    wired = Wired(
        OTP_FRAUD_SAFE_LIST="+4474006",
        OTP_TEST_DESTINATIONS=f"{NUMBER}=424242",
        OTP_TEST_DESTINATIONS_VALID_UNTIL="2027-02-01T00:00:00Z",
    )
    wired.block("447400")
    wired.issue(NEIGHBOUR)  # +4474006… is on the safe list
    wired.issue(NUMBER)  # a test destination: stored, nothing sent
    assert wired.sent() == 1
    assert wired.stored(NEIGHBOUR).guard is None
    assert wired.stored(NUMBER).guard is None


def test_a_counted_code_carries_its_sealed_prefix_and_country_and_never_the_prefix() -> None:
    wired = Wired()
    wired.issue(NUMBER)
    mark = wired.stored(NUMBER).guard
    assert mark is not None
    assert mark.country == "GB"
    assert mark.prefix_digest == wired.keys.digest("447400")
    assert wired.keys.open(mark.sealed_prefix) == "447400"
    assert b"447400" not in mark.sealed_prefix
    wired.issue(NEIGHBOUR)
    other = wired.stored(NEIGHBOUR).guard
    assert other is not None and other.sealed_prefix != mark.sealed_prefix, "a fresh nonce per code"


def test_the_block_list_is_read_at_most_once_per_reaction_interval() -> None:
    wired = Wired(OTP_FRAUD_REACTION_SECONDS="10", OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0")
    for _ in range(5):
        wired.issue(NUMBER)
    assert wired.fakes.block_list.reads == 1
    wired.block("447400")
    wired.clock.advance(9)
    wired.issue(NUMBER)  # the cached copy is 9 s old: not read again
    assert wired.fakes.block_list.reads == 1
    wired.clock.advance(1)
    with pytest.raises(DestinationNotAllowed):
        wired.issue(NUMBER)
    assert wired.fakes.block_list.reads == 2


def test_an_unreadable_block_list_fails_open_and_is_tried_again_after_the_interval() -> None:
    wired = Wired(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0")
    wired.block("447400")
    wired.fakes.block_list.failing = True
    wired.issue(NUMBER)
    wired.issue(NUMBER)
    assert wired.sent() == 2, "a block list that cannot be read refuses no one"
    assert wired.fakes.block_list.reads == 1, "and is not read again on every request"
    wired.fakes.block_list.failing = False
    wired.clock.advance(10)
    with pytest.raises(DestinationNotAllowed):
        wired.issue(NUMBER)


def test_a_block_read_before_a_failed_read_still_refuses() -> None:
    wired = Wired()
    wired.block("447400")
    with pytest.raises(DestinationNotAllowed):
        wired.issue(NUMBER)
    wired.fakes.block_list.failing = True
    wired.clock.advance(10)
    with pytest.raises(DestinationNotAllowed):
        wired.issue(NEIGHBOUR)
    assert wired.fakes.block_list.reads == 2


def test_the_guard_switched_off_reads_nothing_marks_nothing_refuses_nothing() -> None:
    wired = Wired(OTP_FRAUD_GUARD="false")
    wired.block("447400")
    wired.issue(NUMBER)
    assert wired.deps.guard is None
    assert wired.fakes.block_list.reads == 0
    assert wired.stored(NUMBER).guard is None


@pytest.mark.parametrize(
    ("provider", "feedback", "kept"),
    [("eum", "true", True), ("notify", "true", True), ("eum", "false", False), ("sns", "true", False)],
)
def test_the_message_id_is_kept_only_for_messages_sent_with_feedback(provider: str, feedback: str, kept: bool) -> None:
    wired = Wired(OTP_SMS_FEEDBACK=feedback)
    wired.fakes.sender.provider = provider
    wired.issue(NUMBER)
    assert wired.stored(NUMBER).message_id == ("msg-0" if kept else None)


def test_a_prefix_never_reaches_into_the_digits_a_masked_number_shows() -> None:
    wired = Wired(OTP_FRAUD_PREFIX_DIGITS="10")
    wired.issue("+14155552671")
    mark = wired.stored("+14155552671").guard
    assert mark is not None
    assert wired.keys.open(mark.sealed_prefix) == "1415555", "11 digits, 4 of them masked-visible: 7 left"
