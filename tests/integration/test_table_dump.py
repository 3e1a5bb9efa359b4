"""What a reader of the whole table learns of a number: no more than its masked form (semantics 12).

The handlers write every kind of item a deployment holds (destination records with codes, the
code a newer one replaced and the failure counts per network; per-IP counters; Idempotency-Key
records; the pumping guard's counts and blocks where the stream consumer ran). Then every
number the mask leaves, the real one among them, is tried the ways a reader without the secret
would try it: in clear, and hashed as a table key or as Powertools hashes a payload. None may
match anything stored.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tests.helpers import GOOD_US
from tests.integration.conftest import enable_stream, lambda_event, stream_records

MASKED = "+1******2671"  # what the API and the logs show of GOOD_US
HIDDEN_DIGITS = 6
# Numbers of GOOD_US's prefix (141555), so that the guard's items of that prefix are in the dump.
NEIGHBOURS = [f"+1415555{n:04d}" for n in range(2672, 2712)]


def candidates() -> Iterator[str]:
    head, tail = MASKED.split("*" * HIDDEN_DIGITS)
    for middle in range(10**HIDDEN_DIGITS):
        yield f"{head}{middle:0{HIDDEN_DIGITS}d}{tail}"


def tokens(value: Any) -> Iterator[str]:
    """Every string an item holds, its attribute names and the parts of its keys, as a reader sees them."""
    if isinstance(value, dict):
        for name, inner in value.items():
            yield str(name)
            yield from tokens(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from tokens(inner)
    elif isinstance(value, bytes):
        yield value.hex()
    else:
        text = str(value)
        yield text
        yield from text.split("#")


HASHES = (hashlib.sha256, hashlib.sha1, hashlib.md5)


def unkeyed_forms(number: str) -> Iterator[str]:
    """What a reader would compute for a candidate: the number itself and its plain hashes."""
    for text in (number, number[1:]):
        yield text
        data = text.encode()
        for hash_function in HASHES:
            digest = hash_function(data).hexdigest()
            yield digest
            yield digest[:32]  # table keys keep 16 bytes


def exercise_every_item_kind(api, stream) -> None:
    """Every kind of item, also the pumping guard's: its counts, and its block list with a block in it."""
    stream_arn = enable_stream(api.aws)
    # The stream stamps its records with the wall clock, and the consumer decides as of them.
    api.clock.now = int(time.time())
    reply, code = api.issue(GOOD_US, client_ip="203.0.113.7")
    api.verify({"destination": GOOD_US, "code": f"{(int(code) + 1) % 10**6:06d}", "client_ip": "203.0.113.9"})
    keyed = api.generate(
        {"channel": "sms", "destination": GOOD_US, "purpose": "login"}, headers={"idempotency-key": "k"}
    )
    assert keyed.status == 201, keyed.body
    api.verify({"destination": GOOD_US, "code": api.last_code(GOOD_US), "purpose": "login"})
    api.status(reply.body["verification_id"])
    for neighbour in NEIGHBOURS:  # never verified: a burst the guard blocks
        assert api.generate({"channel": "sms", "destination": neighbour}).status == 201
    # Read at once, as the mapping does: the burst's block is written, to start once its codes are 10 s old.
    assert stream(lambda_event(stream_records(stream_arn)), int(time.time())) == {"batchItemFailures": []}


def numbers_a_reader_finds(seen: set[str], numbers: Iterable[str]) -> tuple[list[str], int]:
    # The Idempotency-Key request's body as Powertools serializes it (sort_keys), around each candidate.
    request = {"channel": "sms", "destination": "\0", "purpose": "login", "locale": None, "client_ip": None}
    before, after = (part.encode() for part in json.dumps(request, sort_keys=True).split("\\u0000"))
    found, tried = [], 0
    for number in numbers:
        tried += 1
        payload_hash = hashlib.md5(before + number.encode() + after, usedforsecurity=False).hexdigest()
        if payload_hash in seen or any(form in seen for form in unkeyed_forms(number)):
            found.append(number)
    return found, tried


def test_no_candidate_the_mask_leaves_matches_anything_a_table_reader_sees(make_api, aws, stream):
    exercise_every_item_kind(make_api(OTP_RESEND_COOLDOWN_SECONDS=0), stream)
    items = aws.table_items()
    kinds = {item["id"]["S"].split("#")[0] for item in items}
    assert {"dest", "ip", "idem", "pumping"} <= kinds, kinds
    assert any(item["id"]["S"] == "pumping#blocks" and item["blocks"]["M"] for item in items), "a block is written"
    seen = {token for item in items for token in tokens(item)}
    assert not any(GOOD_US[1:] in token for token in seen)  # the number in clear, anywhere
    found, tried = numbers_a_reader_finds(seen, candidates())
    assert tried == 10**HIDDEN_DIGITS
    assert found == []


def test_the_search_finds_a_number_that_an_unkeyed_form_would_leak():
    # The control: the same search over the same forms finds the number once an item holds one.
    body = {"channel": "sms", "destination": GOOD_US, "purpose": "login", "locale": None, "client_ip": None}
    leaked_forms = [
        hashlib.sha256(GOOD_US.encode()).hexdigest()[:32],
        hashlib.md5(json.dumps(body, sort_keys=True).encode(), usedforsecurity=False).hexdigest(),
    ]
    nearby = [number for number in candidates() if number[2:6] == GOOD_US[2:6]]
    for leaked in leaked_forms:
        item = {"id": {"S": f"dest#{leaked}"}} if len(leaked) == 32 else {"validation": {"S": leaked}}
        seen = set(tokens(item))
        assert numbers_a_reader_finds(seen, nearby) == ([GOOD_US], len(nearby))


def test_a_reader_cannot_narrow_a_number_below_ten_thousand_from_what_the_guard_stores(make_api, aws, stream):
    """The guard adds a sealed prefix and the country to each code, and keyed counts and blocks.

    Without the secret the sealed prefix and the digests say nothing (the test above tries every
    candidate's and every candidate prefix's unkeyed forms); the country narrows the candidates
    to the valid numbers of that country, which this counts on a sample and which must stay at
    least 10^4.
    """
    import phonenumbers

    exercise_every_item_kind(make_api(OTP_RESEND_COOLDOWN_SECONDS=0), stream)
    items = aws.table_items()
    seen = {token for item in items for token in tokens(item)}
    head = GOOD_US[1:2]  # what the mask shows of the prefix: the country code
    prefixes = [f"{head}{n:05d}" for n in range(10**5)]
    prefix_forms = {form for prefix in prefixes for form in unkeyed_forms("+" + prefix)}
    assert not prefix_forms & seen, "an unkeyed form of a prefix is in the table"
    entries = [e["M"] for i in items if i["id"]["S"].startswith("dest#") for e in i["codes"]["M"].values()]
    mine = [e for e in entries if e["masked"]["S"] == MASKED]
    assert mine and all(e["country"]["S"] == "US" and e["pfx"]["B"] for e in mine)
    sample = list(candidates())[:: 10**HIDDEN_DIGITS // 2000]
    consistent = sum(
        1
        for number in sample
        if phonenumbers.region_code_for_number(phonenumbers.parse(number)) == "US"
        and phonenumbers.is_valid_number(phonenumbers.parse(number))
    )
    left = consistent * (10**HIDDEN_DIGITS // len(sample))
    print(f"numbers consistent with one item's masked form and country: about {left}")
    assert left >= 10**4, left
