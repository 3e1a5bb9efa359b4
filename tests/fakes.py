"""In-memory implementations of the ports, for unit tests of the use cases.

The fake store keeps DynamoDB's guarantees that the use cases rely on: every method is one atomic
conditional write over one destination record (plus the IP counter, all or nothing). The shared
contract suite in tests/integration/test_store_contract.py runs against this and the DynamoDB store alike.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from dataclasses import dataclass, field

from otp.bootstrap import Adapters
from otp.domain.entities import (
    AttemptLimits,
    AttemptReservation,
    DestinationRecord,
    FailureBlocks,
    SendOutcome,
    SendPlan,
    StoredCode,
)
from otp.domain.outbound import DeliveryRefused, EmailMessage, Receipt, SmsMessage, VoiceMessage, WhatsAppMessage
from otp.domain.ports import CiphertextMismatch, Senders
from otp.domain.verification import cancelable

PURPOSES_BEFORE_PRUNING = 8


@dataclass
class _Record:
    codes: dict[str, StoredCode] = field(default_factory=dict)
    replaced: dict[str, StoredCode] = field(default_factory=dict)
    next_send_at: int = 0
    sends: dict[int, int] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)
    network_failures: dict[str, dict[int, int]] = field(default_factory=dict)
    blocked_until: int = 0
    network_blocks: dict[str, int] = field(default_factory=dict)
    keep_until: int = 0

    def snapshot(self) -> DestinationRecord:
        return DestinationRecord(
            codes={p: dataclasses.replace(c, ciphertext=b"") for p, c in self.codes.items()},
            replaced=dict(self.replaced),
            next_send_at=self.next_send_at,
            sends=dict(self.sends),
            failures=dict(self.failures),
            network_failures={network: dict(counts) for network, counts in self.network_failures.items()},
            blocked_until=self.blocked_until,
            network_blocks=dict(self.network_blocks),
        )


def _add(counts: dict[int, int], bucket: int, amount: int, stale: tuple[int, ...]) -> None:
    for old in stale:
        counts.pop(old, None)
    counts[bucket] = counts.get(bucket, 0) + amount


def _live(code: StoredCode | None) -> bool:
    return code is not None and code.consumed_at is None and code.canceled_at is None


class InMemoryStore:
    def __init__(self) -> None:
        self.records: dict[str, _Record] = {}
        self.ip_sends: dict[str, int] = {}
        self._lock = threading.Lock()

    def take_send(self, plan: SendPlan, now: int) -> SendOutcome:
        """The conditions DynamoDB's write evaluates, and on refusal the state they saw: no policy here."""
        with self._lock:
            record = self.records.get(plan.record_key) or _Record()
            destination_ok = (
                (plan.cooldown_until is None or record.next_send_at <= now)
                and (plan.sends is None or record.sends.get(plan.sends.bucket, 0) < plan.sends.limit)
                and record.blocked_until <= now
                and (plan.network is None or record.network_blocks.get(plan.network, 0) <= now)
            )
            ip_counter = f"{plan.ip.key}#{plan.ip.window.bucket}" if plan.ip else None
            ip_sends = self.ip_sends.get(ip_counter, 0) if ip_counter else 0
            ip_ok = plan.ip is None or ip_sends < plan.ip.window.limit
            if not (destination_ok and ip_ok):
                return SendOutcome(
                    taken=False,
                    record=None if destination_ok else record.snapshot(),
                    ip_sends=None if ip_ok else ip_sends,
                )
            if plan.cooldown_until is not None:
                record.next_send_at = plan.cooldown_until
            if plan.sends is not None:
                record.sends[plan.sends.bucket] = record.sends.get(plan.sends.bucket, 0) + 1
            if ip_counter:
                self.ip_sends[ip_counter] = ip_sends + 1
            record.keep_until = plan.keep_until
            self.records[plan.record_key] = record
            return SendOutcome(taken=True)

    def save_code(self, record_key: str, code: StoredCode, keep_until: int, forget_before: int) -> DestinationRecord:
        with self._lock:
            record = self.records.setdefault(record_key, _Record())
            previous = record.codes.get(code.purpose)
            if previous is not None:
                record.replaced[code.purpose] = dataclasses.replace(previous, ciphertext=b"")
            record.codes[code.purpose] = dataclasses.replace(code, attempts=0)
            record.keep_until = keep_until
            if len(record.codes) > PURPOSES_BEFORE_PRUNING:
                ended = [p for p, kept in record.codes.items() if kept.expires_at < forget_before]
                for purpose in ended[:PURPOSES_BEFORE_PRUNING]:
                    del record.codes[purpose]
                    record.replaced.pop(purpose, None)
            return record.snapshot()

    def withdraw_code(self, record_key: str, purpose: str, verification_id: str) -> None:
        with self._lock:
            record = self.records.get(record_key)
            if record and purpose in record.codes and record.codes[purpose].verification_id == verification_id:
                del record.codes[purpose]

    def keep_message_id(self, record_key: str, purpose: str, verification_id: str, message_id: str) -> None:
        with self._lock:
            record = self.records.get(record_key)
            code = record.codes.get(purpose) if record else None
            if record and code is not None and code.verification_id == verification_id:
                record.codes[purpose] = dataclasses.replace(code, message_id=message_id)

    def reserve_attempt(
        self, record_key: str, purpose: str, verification_id: str | None, now: int, limits: AttemptLimits
    ) -> AttemptReservation:
        with self._lock:
            record = self.records.get(record_key)
            code = record.codes.get(purpose) if record else None
            bucket = limits.failures.bucket
            failures = record.failures.get(bucket, 0) if record else 0
            allowed = (
                record is not None
                and code is not None
                and _live(code)
                and code.expires_at > now
                and code.attempts < limits.max_attempts
                and failures < limits.failures.limit
                and (verification_id is None or code.verification_id == verification_id)
            )
            if not allowed:
                return AttemptReservation(None, code, record=record.snapshot() if record else None)
            assert record is not None
            assert code is not None
            reserved = dataclasses.replace(code, attempts=code.attempts + 1)
            record.codes[purpose] = reserved
            _add(record.failures, bucket, 1, limits.stale_buckets)
            if limits.network is not None:
                _add(record.network_failures.setdefault(limits.network, {}), bucket, 1, limits.stale_buckets)
            return AttemptReservation(reserved=reserved, current=None, record=record.snapshot())

    def consume(
        self,
        record_key: str,
        purpose: str,
        verification_id: str,
        now: int,
        limits: AttemptLimits,
        resend_at: int | None = None,
    ) -> bool:
        with self._lock:
            record = self.records.get(record_key)
            code = record.codes.get(purpose) if record else None
            if record is None or code is None or not _live(code) or code.verification_id != verification_id:
                return False
            record.codes[purpose] = dataclasses.replace(code, consumed_at=now, ciphertext=b"", resend_at=resend_at)
            bucket = limits.failures.bucket
            record.failures[bucket] = record.failures.get(bucket, 1) - 1
            if limits.network is not None:
                counts = record.network_failures.setdefault(limits.network, {})
                counts[bucket] = counts.get(bucket, 1) - 1
            return True

    def mark_ended(
        self, record_key: str, purpose: str, verification_id: str, resend_at: int, superseded_at: int | None = None
    ) -> None:
        with self._lock:
            record = self.records.get(record_key)
            codes = None if record is None else record.codes if superseded_at is None else record.replaced
            code = codes.get(purpose) if codes is not None else None
            if codes is None or code is None or code.verification_id != verification_id or code.resend_at is not None:
                return
            codes[purpose] = dataclasses.replace(code, resend_at=resend_at, superseded_at=superseded_at)

    def spend(
        self, record_key: str, purpose: str, verification_id: str, now: int, resend_at: int | None = None
    ) -> None:
        with self._lock:
            record = self.records.get(record_key)
            code = record.codes.get(purpose) if record else None
            if record is not None and code is not None and _live(code) and code.verification_id == verification_id:
                kept = code.resend_at if code.resend_at is not None else resend_at
                record.codes[purpose] = dataclasses.replace(code, spent_at=now, ciphertext=b"", resend_at=kept)

    def block_failures(self, record_key: str, blocks: FailureBlocks) -> None:
        with self._lock:
            record = self.records.get(record_key)
            if record is None:
                return
            if blocks.destination_until is not None:
                record.blocked_until = blocks.destination_until
            if blocks.network is not None and blocks.network_until is not None:
                record.network_blocks[blocks.network] = blocks.network_until

    def read(self, record_key: str) -> DestinationRecord | None:
        with self._lock:
            record = self.records.get(record_key)
            return record.snapshot() if record else None

    def cancel(
        self, record_key: str, purpose: str, verification_id: str, now: int, max_attempts: int
    ) -> tuple[bool, DestinationRecord | None]:
        with self._lock:
            record = self.records.get(record_key)
            if record is None:
                return False, None
            code = record.codes.get(purpose)
            if code is None or not cancelable(code, verification_id, now, max_attempts):
                return False, record.snapshot()
            record.codes[purpose] = dataclasses.replace(code, canceled_at=now, ciphertext=b"")
            return True, record.snapshot()


class FakeCipher:
    """Reversible and bound to its context, as KMS is; not secret, which the tests do not need."""

    def __init__(self) -> None:
        self.calls = 0

    def encrypt(self, code: str, context: dict[str, str]) -> bytes:
        self.calls += 1
        return base64.b64encode(json.dumps({"code": code, "context": context}, sort_keys=True).encode())

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> str:
        self.calls += 1
        sealed = json.loads(base64.b64decode(ciphertext))
        if sealed["context"] != context:
            raise CiphertextMismatch()
        return str(sealed["code"])


class FakeSender:
    """Every channel's sender at once; what each was asked to send, as tuples the tests read."""

    def __init__(self) -> None:
        self.sms: list[tuple[str, str]] = []
        self.emails: list[tuple[str, str, str, str]] = []
        self.calls: list[VoiceMessage] = []
        self.whatsapp: list[WhatsAppMessage] = []
        self.refuse = False
        self.provider = "fake"  # what its receipts name: "eum" or "notify" keeps the message id

    def _receipt(self) -> Receipt:
        if self.refuse:
            raise DeliveryRefused("fake refusal")
        return Receipt(f"msg-{len(self.sms) + len(self.emails) + len(self.calls) + len(self.whatsapp)}", self.provider)

    def send_sms(self, message: SmsMessage) -> Receipt:
        receipt = self._receipt()
        self.sms.append((message.phone_number, message.text))
        return receipt

    def send_email(self, message: EmailMessage) -> Receipt:
        receipt = self._receipt()
        self.emails.append((message.address, message.subject, message.text, message.html))
        return receipt

    def send_voice(self, message: VoiceMessage) -> Receipt:
        receipt = self._receipt()
        self.calls.append(message)
        return receipt

    def send_whatsapp(self, message: WhatsAppMessage) -> Receipt:
        receipt = self._receipt()
        self.whatsapp.append(message)
        return receipt


class FixedDeriver:
    def __init__(self, secret: bytes = b"unit-test-secret".ljust(32, b"!")) -> None:
        self.secret = secret
        self.calls = 0

    def derive(self, label: bytes) -> bytes:
        self.calls += 1
        return self.secret


class FakeIdempotency:
    """Keeps each key's first fingerprint and result in memory, as the Powertools records do in DynamoDB."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, object]] = {}

    def once(self, key, fingerprint, action, lambda_context):  # type: ignore[no-untyped-def]
        from otp.domain.errors import IdempotencyConflict

        if key in self.records:
            kept, result = self.records[key]
            if kept != fingerprint:
                raise IdempotencyConflict()
            return dataclasses.replace(result, replayed=True)  # type: ignore[type-var]
        result = action()
        self.records[key] = (fingerprint, result)
        return result


class FakeBlockList:
    """The pumping guard's block list item, as generate reads it: what the consumer wrote, or a failure."""

    def __init__(self) -> None:
        self.blocks: dict[str, tuple[int, int]] = {}
        self.failing = False
        self.reads = 0

    def read(self) -> dict[str, tuple[int, int]]:
        from otp.domain.ports import DependencyFailure

        self.reads += 1
        if self.failing:
            raise DependencyFailure("dynamodb:GetItem ThrottlingException (fake)")
        return dict(self.blocks)


@dataclass
class FakeAdapters:
    """One set of fakes, handed to the bootstrap exactly as the AWS adapters are."""

    store: InMemoryStore = field(default_factory=InMemoryStore)
    deriver: FixedDeriver = field(default_factory=lambda: FixedDeriver())
    cipher: FakeCipher = field(default_factory=lambda: FakeCipher())
    sender: FakeSender = field(default_factory=lambda: FakeSender())
    idempotency: FakeIdempotency = field(default_factory=lambda: FakeIdempotency())
    block_list: FakeBlockList = field(default_factory=FakeBlockList)

    def adapters(self) -> Adapters:
        def made(port: object):  # type: ignore[no-untyped-def]
            return lambda settings, *_: port

        return Adapters(
            store=made(self.store),
            deriver=made(self.deriver),
            cipher=made(self.cipher),
            senders=made(Senders(self.sender, self.sender, self.sender, self.sender)),
            idempotency=made(self.idempotency),
            pumping_blocks=made(self.block_list.read),
        )
